/** `vmcore regs FILE [--cpu N] [--json]`: the registers each CPU saved, like crash's `help -r`. */
import { UsageError } from '../args';
import { cpuJson, registerBlock, toJson } from '../output';
import { cpuList, FILE, JSON_OPTION, SYMBOL_OPTIONS, withKernel } from './common';
import { type Command, EXIT } from './types';

export const regs: Command = {
  name: 'regs',
  summary: 'the registers every CPU saved at the crash (crash: help -r)',
  positionals: [FILE],
  options: [
    { name: 'cpu', type: 'integer', value: 'N', description: 'only CPU N' },
    ...SYMBOL_OPTIONS,
    JSON_OPTION,
  ],
  help: `JSON: {cpuNumbering, cpuNumberingNote, cpus: [{cpu, noteIndex, pid, comm, panicked,
task: {address, pid, comm} | null, taskProblem, registers: {name: "0x…"}}]}.
pid is the NT_PRSTATUS note's (QEMU writes CPU + 1 there); task is the task running on the CPU
(the run queue's current task, read with offsets from the kernel's BTF), comm its name.
CPU numbers are the kernel's when the notes can be mapped to CPUs (cpuNumbering "kernel"), else the
order of the register notes ("note-order"); --cpu uses the same numbers.`,
  async run(args, io) {
    return withKernel(args, async (view) => {
      const { dump } = view;
      const list = cpuList(view);
      const wanted = args.integers.cpu;
      if (wanted !== undefined && !list.cpus.some((c) => c.cpu === wanted)) {
        const have = list.cpus.length === 0 ? 'none' : list.cpus.map((c) => c.cpu).join(', ');
        throw new UsageError(
          `${dump.path} has no registers for CPU ${wanted} (CPUs with saved registers: ${have})`,
          'regs',
        );
      }
      const selected = list.cpus.filter((c) => wanted === undefined || c.cpu === wanted);
      if (args.flags.json) {
        io.out(
          toJson({
            cpuNumbering: list.numbering,
            cpuNumberingNote: list.note,
            cpus: selected.map((c) => cpuJson(c.prstatus, dump.arch, c.cpu, c)),
          }),
        );
        return list.cpus.length === 0 ? EXIT.PARTIAL : EXIT.OK;
      }
      if (list.cpus.length === 0) {
        io.out(`${dump.path}: no CPU saved its registers (the dump has no NT_PRSTATUS notes)\n`);
        return EXIT.PARTIAL;
      }
      const blocks = selected.map((c) => {
        const p = c.prstatus;
        const facts = [
          // The note's pid only where it is a task's: QEMU and s390 write CPU + 1 there.
          ...(c.task
            ? [`PID: ${c.task.pid}`, `TASK: ${c.task.address.toString(16)}`]
            : c.notePidIsTask
              ? [`PID: ${p.pid}`]
              : []),
          ...(c.comm ? [`COMMAND: "${c.comm}"`] : []),
          `(${[c.panicked ? 'panicked' : '', dump.arch.isUserMode(p.registers) ? 'user mode' : 'kernel mode'].filter(Boolean).join(', ')})`,
        ];
        return [`CPU ${c.cpu}:  ${facts.join('  ')}`, ...registerBlock(dump.arch, p.registers)].join('\n');
      });
      io.out(`${blocks.join('\n\n')}\n\n(${list.note})\n`);
      return EXIT.OK;
    });
  },
};
