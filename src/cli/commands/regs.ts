/** `vmcore regs FILE [--cpu N] [--json]`: the registers each CPU saved, like crash's `help -r`. */
import { UsageError } from '../args';
import { CPU_NUMBERING, CPU_NUMBERING_NOTE, cpuJson, registerBlock, toJson } from '../output';
import { FILE, JSON_OPTION, withDump } from './common';
import { type Command, EXIT } from './types';

export const regs: Command = {
  name: 'regs',
  summary: 'the registers every CPU saved at the crash (crash: help -r)',
  positionals: [FILE],
  options: [
    { name: 'cpu', type: 'integer', value: 'N', description: 'only CPU N (note order)' },
    JSON_OPTION,
  ],
  help: `JSON: {cpuNumbering: "note-order", cpus: [{cpu, pid, registers: {name: "0x…"}}]}.
${CPU_NUMBERING_NOTE}.`,
  async run(args, io) {
    return withDump(args.positionals.FILE!, async (dump) => {
      const wanted = args.integers.cpu;
      const notes = dump.prstatus;
      if (wanted !== undefined && !notes.some((p) => p.noteIndex === wanted)) {
        const have = notes.length === 0 ? 'none' : `0-${notes.length - 1}`;
        throw new UsageError(
          `${dump.path} has no registers for CPU ${wanted} (CPUs with saved registers: ${have})`,
          'regs',
        );
      }
      const selected = notes.filter((p) => wanted === undefined || p.noteIndex === wanted);
      if (args.flags.json) {
        io.out(toJson({ cpuNumbering: CPU_NUMBERING, cpus: selected.map((p) => cpuJson(p, dump.arch)) }));
        return notes.length === 0 ? EXIT.PARTIAL : EXIT.OK;
      }
      if (notes.length === 0) {
        io.out(`${dump.path}: no CPU saved its registers (the dump has no NT_PRSTATUS notes)\n`);
        return EXIT.PARTIAL;
      }
      const blocks = selected.map((p) => {
        const mode = dump.arch.isUserMode(p.registers) ? 'user mode' : 'kernel mode';
        return [
          `CPU ${p.noteIndex}:  PID: ${p.pid}  (${mode})`,
          ...registerBlock(dump.arch, p.registers),
        ].join('\n');
      });
      io.out(`${blocks.join('\n\n')}\n\n(${CPU_NUMBERING_NOTE})\n`);
      return EXIT.OK;
    });
  },
};
