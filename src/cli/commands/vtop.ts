/** `vmcore vtop FILE VADDR [--json]`: translate a kernel virtual address, with every table entry. */
import { formatVtop } from '../../kernel/crashFormat';
import { KernelAddressSpace, TranslationError } from '../../translate/addressSpace';
import { parseAddress, UsageError } from '../args';
import { toJson } from '../output';
import { FILE, JSON_OPTION, withDump } from './common';
import { type Command, EXIT } from './types';

const hex = (v: bigint) => `0x${v.toString(16)}`;

export const vtop: Command = {
  name: 'vtop',
  summary: 'translate a kernel virtual address through the kernel page tables (crash: vtop)',
  positionals: [
    FILE,
    { name: 'VADDR', description: 'kernel virtual address, hexadecimal with or without 0x' },
  ],
  options: [JSON_OPTION],
  help: `Walks the page tables the kernel itself used (init_top_pgt / swapper_pg_dir, found through
VMCOREINFO and KASLR), printing every entry read. When a table page is not in the dump the dump's
linear mappings (direct map, kernel image) answer instead and the output says so.
Exit status 1 when the address is not mapped (the entries read so far are still printed).
JSON: {virtual, physical, pageSize, via: "page-table"|"linear", entries: [{level, address, value}]};
not mapped: {virtual, physical: null, error, entries}.`,
  async run(args, io) {
    const vaddr = parseAddress(args.positionals.VADDR!);
    if (vaddr === undefined) {
      throw new UsageError(`VADDR must be a hexadecimal address, not "${args.positionals.VADDR}"`, 'vtop');
    }
    return withDump(args.positionals.FILE!, async (dump) => {
      const space = await KernelAddressSpace.create(dump);
      const entryJson = (e: { level: string; address: bigint; value: bigint }) => ({
        level: e.level,
        address: hex(e.address),
        value: hex(e.value),
      });
      try {
        const t = await space.vtop(vaddr);
        if (args.flags.json) {
          io.out(
            toJson({
              virtual: hex(t.virtual),
              physical: hex(t.physical),
              pageSize: t.pageSize,
              via: t.via,
              entries: t.entries.map(entryJson),
            }),
          );
        } else io.out(`${formatVtop(t)}\n`);
        return EXIT.OK;
      } catch (err) {
        if (!(err instanceof TranslationError)) throw err;
        if (args.flags.json) {
          io.out(
            toJson({
              virtual: hex(vaddr),
              physical: null,
              error: err.why,
              entries: err.entries.map(entryJson),
            }),
          );
        } else {
          const lines = [`${vaddr.toString(16)}: not mapped: ${err.why}`];
          for (const e of err.entries)
            lines.push(
              `${e.level.toUpperCase().padStart(5)}: ${e.address.toString(16)} => ${e.value.toString(16)}`,
            );
          io.out(`${lines.join('\n')}\n`);
        }
        return EXIT.PARTIAL;
      }
    });
  },
};
