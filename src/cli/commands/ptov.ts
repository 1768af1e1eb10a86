/** `vmcore ptov FILE PADDR [--json]`: the kernel virtual addresses of a physical address. */
import { formatPtov } from '../../kernel/crashFormat';
import { KernelAddressSpace } from '../../translate/addressSpace';
import { parseAddress, UsageError } from '../args';
import { toJson } from '../output';
import { FILE, JSON_OPTION, withDump } from './common';
import { type Command, EXIT } from './types';

export const ptov: Command = {
  name: 'ptov',
  summary: 'the kernel virtual addresses of a physical address (crash: ptov)',
  positionals: [FILE, { name: 'PADDR', description: 'physical address, hexadecimal with or without 0x' }],
  options: [JSON_OPTION],
  help: `Lists the aliases in the kernel's linear mappings: the direct map (page_offset_base with KASLR)
and the kernel image. Exit status 1 when no kernel virtual address maps it.
JSON: {physical, aliases: [{address, region}]}.`,
  async run(args, io) {
    const paddr = parseAddress(args.positionals.PADDR!);
    if (paddr === undefined) {
      throw new UsageError(`PADDR must be a hexadecimal address, not "${args.positionals.PADDR}"`, 'ptov');
    }
    return withDump(args.positionals.FILE!, async (dump) => {
      const space = await KernelAddressSpace.create(dump);
      const aliases = await space.ptov(paddr);
      if (args.flags.json) {
        io.out(
          toJson({
            physical: `0x${paddr.toString(16)}`,
            aliases: aliases.map((a) => ({ address: `0x${a.address.toString(16)}`, region: a.region })),
          }),
        );
      } else io.out(`${formatPtov(paddr, aliases)}\n`);
      return aliases.length > 0 ? EXIT.OK : EXIT.PARTIAL;
    });
  },
};
