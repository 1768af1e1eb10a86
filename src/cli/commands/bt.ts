/** `vmcore bt FILE [--cpu N|--all] [--vmlinux P] [--system-map P] [--json]`: stacks, like crash's `bt`. */
import { formatBacktrace, formatFrames, taskHeader } from '../../kernel/crashFormat';
import type { Backtrace } from '../../kernel/kernelDump';
import { UsageError } from '../args';
import { taskJson, toJson } from '../output';
import { cpuList, FILE, JSON_OPTION, SYMBOL_OPTIONS, withKernel } from './common';
import { type Command, EXIT } from './types';

const hex = (v: bigint) => `0x${v.toString(16)}`;

function frameJson(bt: Backtrace) {
  return bt.frames.map((f) => ({
    pc: hex(f.pc),
    sp: hex(f.sp),
    function: f.location?.symbol.name ?? null,
    offset: f.location ? hex(f.location.offset) : null,
    /** The loaded module the function is in; null for the core kernel. */
    module: f.location?.symbol.module ?? null,
    name: f.name,
    /** orc, frame-pointer, exception (a pt_regs on the stack), stack-scan… */
    unwinder: f.source,
    reliable: f.reliable,
    userMode: f.userMode,
    /** From the vmlinux's DWARF line table (of pc − 1 for return addresses). */
    source: f.line ? { file: f.line.file, line: f.line.line, column: f.line.column ?? null } : null,
  }));
}

export const bt: Command = {
  name: 'bt',
  summary: 'the kernel stack of the panicking CPU, of one CPU or of all (crash: bt, bt -a)',
  positionals: [FILE],
  options: [
    { name: 'cpu', type: 'integer', value: 'N', description: 'CPU N instead of the panicking one' },
    { name: 'all', short: 'a', type: 'flag', description: 'every CPU that saved registers' },
    {
      name: 'pid',
      type: 'integer',
      value: 'PID',
      description: 'the task(s) with this pid, running or not (crash: bt PID)',
    },
    ...SYMBOL_OPTIONS,
    JSON_OPTION,
  ],
  help: `Unwinds from the registers each CPU saved: ORC tables (from the dump's own memory, found through
kallsyms) on x86_64, frame records on aarch64, across exception and interrupt frames (pt_regs) down
to user space; a stack scan as the last resort, whose frames are marked "?" as crash's bt -t does.
Symbols come from --vmlinux or --system-map when given, else from the kernel's kallsyms in the dump.
With a --vmlinux that has DWARF, each frame shows its source file and line (of pc − 1 for return
addresses) on the line below it, as crash's bt -l does.
The header names the task running on the CPU as crash does (PID, TASK, CPU, COMMAND): the run
queue's current task, read with offsets from the kernel's BTF (in the dump, or the vmlinux's .BTF).
JSON: {cpus: [{cpu, noteIndex, pid, comm, panicked, task: {address, pid, comm} | null, taskProblem,
frames: [{pc, sp, function, offset, module, name, unwinder, reliable, userMode,
source: {file, line, column} | null}], stopReason}], symbols, sourceLines}.
pid is the NT_PRSTATUS note's (QEMU writes CPU + 1 there); task.pid is the task's.
--pid PID: any task, running or not (a task that was not running unwinds from the registers
switch_to saved); JSON {tasks: [{pid, comm, cpu, task, frames, stopReason}], symbols}.`,
  async run(args, io) {
    const chosen = [args.flags.all, args.integers.cpu !== undefined, args.integers.pid !== undefined].filter(
      Boolean,
    );
    if (chosen.length > 1) throw new UsageError('give one of --cpu N, --all or --pid PID', 'bt');
    return withKernel(args, async (view) => {
      const { dump, kernel } = view;
      if (!kernel) throw new UsageError(`${dump.path}: ${view.kernelProblem}`, 'bt');
      const pid = args.integers.pid;
      if (pid !== undefined) {
        const list = await kernel.tasks();
        if (list.tasks.length === 0) {
          io.err(`vmcore: ${dump.path}: ${list.note}\n`);
          return EXIT.PARTIAL;
        }
        const tasks = list.tasks.filter((t) => t.pid === pid);
        if (tasks.length === 0)
          throw new UsageError(`${dump.path} has no task with pid ${pid} (vmcore ps lists them)`, 'bt');
        const stacks = [];
        for (const t of tasks) stacks.push({ t, bt: await kernel.taskBacktrace(t.address) });
        if (args.flags.json)
          io.out(
            toJson({
              tasks: stacks.map(({ t, bt }) => ({
                pid: t.pid,
                comm: t.comm,
                cpu: t.cpu ?? null,
                task: `0x${t.address.toString(16)}`,
                frames: frameJson(bt),
                stopReason: bt.stopReason ?? null,
              })),
              symbols: kernel.symbolsNote,
            }),
          );
        else
          io.out(
            `${stacks.map(({ t, bt }) => formatFrames(taskHeader(t), bt, dump.arch.wordSize)).join('\n\n')}\n`,
          );
        return EXIT.OK;
      }
      const list = cpuList(view);
      if (list.cpus.length === 0) {
        io.err(`vmcore: ${dump.path}: no CPU saved its registers (the dump has no NT_PRSTATUS notes)\n`);
        return EXIT.PARTIAL;
      }
      let indexes: number[];
      const wanted = args.integers.cpu;
      if (args.flags.all) indexes = list.cpus.map((_, i) => i);
      else if (wanted !== undefined) {
        const i = list.cpus.findIndex((c) => c.cpu === wanted);
        if (i < 0) {
          throw new UsageError(
            `${dump.path} has no registers for CPU ${wanted} (CPUs with saved registers: ${list.cpus.map((c) => c.cpu).join(', ')})`,
            'bt',
          );
        }
        indexes = [i];
      } else {
        const i = kernel.cpus.findIndex((c) => c.panicked);
        if (i < 0) {
          io.err(
            `vmcore: ${dump.path}: the panicking CPU is not known (${kernel.panicCpuNote ?? 'no panic found'}); showing CPU ${list.cpus[0]!.cpu}, use --cpu N or --all\n`,
          );
        }
        indexes = [Math.max(0, i)];
      }
      const stacks = [];
      for (const i of indexes) stacks.push({ i, bt: await kernel.backtrace(i) });
      if (args.flags.json) {
        io.out(
          toJson({
            cpus: stacks.map(({ i, bt }) => {
              const c = kernel.cpus[i]!;
              return {
                cpu: list.cpus[i]!.cpu,
                noteIndex: c.noteIndex,
                pid: c.pid,
                comm: c.comm ?? null,
                panicked: c.panicked,
                task: taskJson(c),
                ...(c.task ? {} : { taskProblem: c.taskProblem ?? null }),
                frames: frameJson(bt),
                stopReason: bt.stopReason ?? null,
              };
            }),
            symbols: kernel.symbolsNote,
            sourceLines: kernel.linesNote,
          }),
        );
      } else {
        const text = stacks.map(({ i, bt }) => formatBacktrace(kernel.cpus[i]!, bt, dump.arch.wordSize));
        io.out(`${text.join('\n\n')}\n`);
      }
      return EXIT.OK;
    });
  },
};
