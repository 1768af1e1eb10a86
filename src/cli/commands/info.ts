/** `vmcore info FILE [--json]`: what the dump is and what it holds, like crash's `sys`. */
import type { Dump } from '../../dump/types';
import {
  CPU_NUMBERING,
  CPU_NUMBERING_NOTE,
  type CpuJson,
  cpuJson,
  formatSize,
  hexWord,
  toJson,
} from '../output';
import { FILE, JSON_OPTION, withDump } from './common';
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
  cpuNumbering: string;
  cpus: CpuJson[];
  vmcoreinfo: Record<string, string>;
  missing: { kind: string; message: string }[];
  details: Record<string, string | number | boolean>;
}

/**
 * Panic CPU and message: they live in kernel memory (panic_cpu, the log), not in the container.
 * Null until the kernel layer (src/kernel) provides them; fill in here.
 */
async function panicFacts(_dump: Dump): Promise<{ panicCpu: number | null; panicMessage: string | null }> {
  return { panicCpu: null, panicMessage: null };
}

export async function infoJson(dump: Dump): Promise<InfoJson> {
  const panic = await panicFacts(dump);
  const release = dump.vmcoreinfo?.osRelease ?? dump.details.release;
  return {
    format: dump.format,
    container: dump.container,
    compression: dump.compression,
    arch: dump.arch.name,
    osrelease: typeof release === 'string' ? release : null,
    pageSize: dump.memory.pageSize,
    panicCpu: panic.panicCpu,
    panicMessage: panic.panicMessage,
    cpuNumbering: CPU_NUMBERING,
    cpus: dump.prstatus.map((p) => cpuJson(p, dump.arch)),
    vmcoreinfo: Object.fromEntries(dump.vmcoreinfo?.raw ?? []),
    missing: dump.problems.map((p) => ({ kind: p.kind, message: p.message })),
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

function humanInfo(dump: Dump, info: InfoJson): string {
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
    info.panicMessage ??
      '(not read yet: the panic message and CPU are in kernel memory, not in the container)',
  ]);
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `${k.padStart(width)}: ${v}`);

  if (dump.prstatus.length > 0) {
    const digits = dump.arch.wordSize * 2;
    lines.push('', `  CPU  ${'PID'.padEnd(7)} ${'PC'.padEnd(digits)}  ${'SP'.padEnd(digits)}  MODE`);
    for (const p of dump.prstatus) {
      const pc = p.registers.get(dump.arch.pc) ?? 0n;
      const sp = p.registers.get(dump.arch.sp) ?? 0n;
      lines.push(
        `  ${String(p.noteIndex).padStart(3)}  ${String(p.pid).padEnd(7)} ${pc.toString(16).padStart(digits, '0')}  ${sp.toString(16).padStart(digits, '0')}  ${dump.arch.isUserMode(p.registers) ? 'user' : 'kernel'}`,
      );
    }
    lines.push(`  (${CPU_NUMBERING_NOTE})`);
  }
  const details = Object.entries(dump.details);
  if (details.length > 0) lines.push('', `DETAILS: ${details.map(([k, v]) => `${k}=${v}`).join(' ')}`);
  lines.push(
    dump.vmcoreinfo
      ? `VMCOREINFO: ${dump.vmcoreinfo.raw.size} keys (vmcore info --json lists them)`
      : 'VMCOREINFO: none',
  );
  if (dump.problems.length > 0) {
    lines.push('', 'MISSING OR DAMAGED:');
    for (const p of dump.problems) lines.push(`  - ${p.kind}: ${p.message}`);
  }
  return `${lines.join('\n')}\n`;
}

export const info: Command = {
  name: 'info',
  summary: 'what the dump is: format, arch, kernel release, CPUs, VMCOREINFO, what is missing',
  positionals: [FILE],
  options: [JSON_OPTION],
  help: `JSON: {format, container, compression, arch, osrelease, pageSize, panicCpu, panicMessage,
cpuNumbering, cpus: [{cpu, pid, registers: {name: "0x…"}}], vmcoreinfo: {KEY: value},
missing: [{kind, message}], details}. panicCpu and panicMessage are null until vmcore reads kernel
memory for them. CPU numbers are the order of the register notes (cpuNumbering: "note-order").`,
  async run(args, io) {
    return withDump(args.positionals.FILE!, async (dump) => {
      const facts = await infoJson(dump);
      io.out(args.flags.json ? toJson(facts) : humanInfo(dump, facts));
      return EXIT.OK;
    });
  },
};
