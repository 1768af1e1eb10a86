/** `vmcore info FILE [--json]`: what the dump is and what it holds, like crash's `sys`. */
import type { Dump } from '../../dump/types';
import { type CpuJson, cpuJson, formatSize, hexWord, toJson } from '../output';
import { cpuList, FILE, JSON_OPTION, type KernelView, SYMBOL_OPTIONS, withKernel } from './common';
import { type Command, EXIT } from './types';

export interface InfoJson {
  format: string;
  container: string;
  compression: readonly string[];
  arch: string;
  osrelease: string | null;
  pageSize: number;
  panicCpu: number | null;
  panicMessage: string | null;
  /** Where panicCpu came from, or why it is null. */
  panicCpuNote: string;
  /** `kernel` (CPU numbers are the kernel's) or `note-order` (the order of the register notes). */
  cpuNumbering: string;
  cpuNumberingNote: string;
  /** Where symbols came from (kallsyms in the dump, System.map, vmlinux), or why there are none. */
  symbols: string;
  /** Where the tasks on the CPUs came from (run queues, BTF), or why they could not be read. */
  tasksNote: string;
  cpus: CpuJson[];
  vmcoreinfo: Record<string, string>;
  missing: { kind: string; message: string }[];
  details: Record<string, string | number | boolean>;
}

export function infoJson(view: KernelView): InfoJson {
  const { dump, kernel } = view;
  const release = dump.vmcoreinfo?.osRelease ?? dump.details.release;
  const cpus = cpuList(view);
  const missing: InfoJson['missing'] = dump.problems.map((p) => ({ kind: p.kind, message: p.message }));
  if (view.kernelProblem) missing.push({ kind: 'kernel', message: view.kernelProblem });
  return {
    format: dump.format,
    container: dump.container,
    compression: dump.compression,
    arch: dump.arch.name,
    osrelease: typeof release === 'string' ? release : null,
    pageSize: dump.memory.pageSize,
    panicCpu: kernel?.panicCpu ?? null,
    panicMessage: kernel?.panicMessage ?? null,
    panicCpuNote: kernel?.panicCpuNote ?? view.kernelProblem ?? 'unknown',
    cpuNumbering: cpus.numbering,
    cpuNumberingNote: cpus.note,
    symbols: kernel?.symbolsNote ?? view.kernelProblem ?? 'no symbols',
    tasksNote: kernel?.tasksNote ?? view.kernelProblem ?? 'unknown',
    cpus: cpus.cpus.map((c) => cpuJson(c.prstatus, dump.arch, c.cpu, c)),
    vmcoreinfo: Object.fromEntries(dump.vmcoreinfo?.raw ?? []),
    missing,
    details: { ...dump.details },
  };
}

function formatName(dump: Dump): string {
  const base =
    dump.format === 'elf'
      ? `ELF core (${dump.details.elfClass ?? 'ELF'}, ${dump.details.endianness ?? (dump.littleEndian ? 'little' : 'big')}-endian)`
      : dump.format === 'kdump'
        ? 'makedumpfile kdump-compressed'
        : 'diskdump';
  return dump.container === 'flattened' ? `${base}, read from a makedumpfile flattened stream` : base;
}

function humanInfo(view: KernelView, info: InfoJson): string {
  const { dump } = view;
  const ranges = dump.memory.ranges();
  const ramBytes = ranges.reduce((n, r) => n + Number(r.end - r.start), 0);
  const crashTime = dump.vmcoreinfo?.crashTime;
  const rows: [string, string][] = [
    ['DUMPFILE', dump.path],
    ['FORMAT', formatName(dump)],
    ['COMPRESSION', dump.compression.join(', ')],
    ['ARCH', dump.arch.name],
    ['RELEASE', info.osrelease ?? '(unknown: no VMCOREINFO)'],
    ['PAGE SIZE', String(info.pageSize)],
    [
      'MEMORY',
      ranges.length === 0
        ? '(no physical memory)'
        : `${formatSize(ramBytes)} in ${ranges.length} range${ranges.length === 1 ? '' : 's'} (${hexWord(ranges[0]!.start, 8)} - ${hexWord(ranges[ranges.length - 1]!.end - 1n, 8)})`,
    ],
  ];
  if (crashTime !== undefined) {
    const when = new Date(crashTime * 1000);
    rows.push(['CRASHTIME', Number.isNaN(when.getTime()) ? String(crashTime) : when.toUTCString()]);
  }
  rows.push(['CPUS', `${dump.prstatus.length} with saved registers`]);
  rows.push([
    'PANIC',
    info.panicMessage === null ? '(none found in the kernel log)' : `"${info.panicMessage}"`,
  ]);
  rows.push(['PANIC CPU', info.panicCpu === null ? `none (${info.panicCpuNote})` : String(info.panicCpu)]);
  rows.push(['SYMBOLS', info.symbols]);
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `${k.padStart(width)}: ${v}`);

  if (dump.prstatus.length > 0) {
    const digits = dump.arch.wordSize * 2;
    lines.push(
      '',
      `  CPU  ${'PID'.padEnd(7)} ${'TASK'.padEnd(digits)}  ${'PC'.padEnd(digits)}  ${'SP'.padEnd(digits)}  MODE`,
    );
    for (const c of cpuList(view).cpus) {
      const p = c.prstatus;
      const pc = p.registers.get(dump.arch.pc) ?? 0n;
      const sp = p.registers.get(dump.arch.sp) ?? 0n;
      const mode = dump.arch.isUserMode(p.registers) ? 'user' : 'kernel';
      // The task's pid when it was read; the note's only when it is a task's (QEMU's is CPU + 1).
      const pid = c.task ? String(c.task.pid) : c.notePidIsTask ? String(p.pid) : '?';
      const task = c.task ? c.task.address.toString(16).padStart(digits, '0') : '-'.padEnd(digits);
      const notes = [c.comm ? `"${c.comm}"` : '', c.panicked ? 'panicked' : ''].filter(Boolean).join(' ');
      lines.push(
        `  ${String(c.cpu).padStart(3)}  ${pid.padEnd(7)} ${task}  ${pc.toString(16).padStart(digits, '0')}  ${sp.toString(16).padStart(digits, '0')}  ${mode}${notes ? `  ${notes}` : ''}`,
      );
    }
    lines.push(`  (${info.cpuNumberingNote})`);
    if (info.tasksNote) lines.push(`  (tasks: ${info.tasksNote})`);
  }
  const details = Object.entries(dump.details);
  if (details.length > 0) lines.push('', `DETAILS: ${details.map(([k, v]) => `${k}=${v}`).join(' ')}`);
  lines.push(
    dump.vmcoreinfo
      ? `VMCOREINFO: ${dump.vmcoreinfo.raw.size} keys (vmcore info --json lists them)`
      : 'VMCOREINFO: none',
  );
  if (info.missing.length > 0) {
    lines.push('', 'MISSING OR DAMAGED:');
    for (const p of info.missing) lines.push(`  - ${p.kind}: ${p.message}`);
  }
  return `${lines.join('\n')}\n`;
}

export const info: Command = {
  name: 'info',
  summary: 'what the dump is: format, arch, kernel release, panic, CPUs, VMCOREINFO, what is missing',
  positionals: [FILE],
  options: [...SYMBOL_OPTIONS, JSON_OPTION],
  help: `JSON: {format, container, compression, arch, osrelease, pageSize, panicCpu, panicMessage,
panicCpuNote, cpuNumbering, cpuNumberingNote, symbols, tasksNote,
cpus: [{cpu, noteIndex, pid, comm, panicked, task: {address, pid, comm} | null, taskProblem,
registers: {name: "0x…"}}], vmcoreinfo: {KEY: value}, missing: [{kind, message}], details}.
pid is the NT_PRSTATUS note's (QEMU writes CPU + 1 there); task is the task running on the CPU (the
run queue's current task, read with offsets from the kernel's BTF), comm its name.
panicCpu is null when no CPU panicked (a live snapshot) or it cannot be found (panicCpuNote says which).
cpuNumbering is "kernel" when the notes could be mapped to the kernel's CPU numbers (crash_notes,
QEMU's pid = CPU + 1, the kernel log), else "note-order": cpu is then the note's position.`,
  async run(args, io) {
    return withKernel(args, async (view) => {
      const facts = infoJson(view);
      io.out(args.flags.json ? toJson(facts) : humanInfo(view, facts));
      return EXIT.OK;
    });
  },
};
