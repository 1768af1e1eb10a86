/** `vmcore mod FILE [--vmlinux P] [--system-map P] [--json]`: the loaded modules, like crash's `mod`. */
import { formatModules } from '../../kernel/crashFormat';
import { UsageError } from '../args';
import { toJson } from '../output';
import { FILE, JSON_OPTION, SYMBOL_OPTIONS, withKernel } from './common';
import { type Command, EXIT } from './types';

const hex = (v: bigint) => `0x${v.toString(16)}`;

export const mod: Command = {
  name: 'mod',
  summary: 'the loaded kernel modules with their addresses and symbols (crash: mod)',
  positionals: [FILE],
  options: [
    {
      name: 'symbols',
      type: 'flag',
      description: "with --json, each module's symbols too (name, address, type, size)",
    },
    ...SYMBOL_OPTIONS,
    JSON_OPTION,
  ],
  help: `Walks the kernel's module list (the symbol "modules"; kallsyms has it where the kernel was built
with CONFIG_KALLSYMS_ALL, else give --system-map or --vmlinux) with struct module offsets from the
kernel's BTF. Each module's own symbol table (mod->kallsyms) names the addresses inside it: bt, dis
and sym print them as crash does, "function+0xoff [module]".
MODULE is the struct module, BASE and SIZE its core memory (crash's columns).
JSON: {modules: [{name, address, base, size, ranges: [{start, end}], symbolCount, symbolsProblem,
symbols?: [{name, address, type, size}]}], note}.
Exit status 1 when the list could not be read (the note says why).`,
  async run(args, io) {
    return withKernel(args, async (view) => {
      const { dump, kernel } = view;
      if (!kernel) throw new UsageError(`${dump.path}: ${view.kernelProblem}`, 'mod');
      if (args.flags.json) {
        io.out(
          toJson({
            modules: kernel.modules.map((m) => ({
              name: m.name,
              address: hex(m.address),
              base: hex(m.base),
              size: m.size,
              ranges: m.ranges.map((r) => ({ start: hex(r.start), end: hex(r.end) })),
              symbolCount: m.symbols.length,
              symbolsProblem: m.symbolsProblem ?? null,
              ...(args.flags.symbols
                ? {
                    symbols: m.symbols.map((s) => ({
                      name: s.name,
                      address: hex(s.address),
                      type: s.type,
                      size: s.size === undefined ? null : Number(s.size),
                    })),
                  }
                : {}),
            })),
            note: kernel.modulesNote,
          }),
        );
      } else io.out(`${formatModules(kernel.modules, kernel.modulesNote, dump.arch.wordSize)}\n`);
      return kernel.modules.length > 0 || /^0 modules/.test(kernel.modulesNote) ? EXIT.OK : EXIT.PARTIAL;
    });
  },
};
