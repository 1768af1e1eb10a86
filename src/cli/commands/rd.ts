/** `vmcore rd FILE ADDRESS [LENGTH] [--phys] [--json]`: bytes of memory, like crash's `rd -8`. */
import type { Dump, Gap, ReadResult } from '../../dump/types';
import { KernelAddressSpace } from '../../translate/addressSpace';
import { hex } from '../../util/bytes';
import { parseAddress, parseCount, UsageError } from '../args';
import { hexdump, toJson } from '../output';
import { FILE, JSON_OPTION, withDump } from './common';
import { type Command, EXIT } from './types';

const DEFAULT_LENGTH = 64;
/** Largest read: more is a mistake on the command line, not a request to print gigabytes. */
export const MAX_LENGTH = 16 * 1024 * 1024;

const REASON_TEXT: Record<Gap['reason'], string> = {
  excluded: 'excluded from the dump when it was written',
  'not-in-dump': 'not in the dump',
  truncated: 'lost: the dump file is cut short',
  lost: 'lost: the dump was never finished',
  corrupt: 'stored but cannot be decoded',
  'not-mapped': 'not mapped',
};

/** Kernel virtual read: the kernel's page tables, with the dump's linear mappings as a fallback. */
async function readVirtual(dump: Dump, address: bigint, length: number): Promise<ReadResult> {
  const space = await KernelAddressSpace.create(dump);
  return space.read(address, length);
}

export const rd: Command = {
  name: 'rd',
  summary: 'read memory by kernel virtual or (--phys) physical address, as a hex dump',
  positionals: [
    FILE,
    {
      name: 'ADDRESS',
      description: 'hexadecimal, with or without 0x (as crash and the kernel print addresses)',
    },
    {
      name: 'LENGTH',
      optional: true,
      description: `bytes to read, decimal or 0x-hex (default ${DEFAULT_LENGTH}, at most ${MAX_LENGTH})`,
    },
  ],
  options: [{ name: 'phys', short: 'p', type: 'flag', description: 'ADDRESS is physical' }, JSON_OPTION],
  help: `Bytes that are not in the dump print as ?? and are listed with the reason after the dump.
Exit status 1 when some bytes are unavailable.
JSON: {address: "0x…", physical, length, bytes: "hex", unavailable: [{offset, length, reason, detail}]};
unavailable bytes are 00 in "bytes" and listed in "unavailable".`,
  async run(args, io) {
    const address = parseAddress(args.positionals.ADDRESS!);
    if (address === undefined) {
      throw new UsageError(`ADDRESS must be a hexadecimal address, not "${args.positionals.ADDRESS}"`, 'rd');
    }
    const lengthText = args.positionals.LENGTH;
    const length = lengthText === undefined ? DEFAULT_LENGTH : parseCount(lengthText);
    if (length === undefined || length < 1 || length > MAX_LENGTH) {
      throw new UsageError(
        `LENGTH must be a number of bytes from 1 to ${MAX_LENGTH}, not "${lengthText}"`,
        'rd',
      );
    }
    const physical = args.flags.phys === true;
    return withDump(args.positionals.FILE!, async (dump) => {
      const result = physical
        ? await dump.memory.read(address, length)
        : await readVirtual(dump, address, length);
      const unavailable = result.gaps.map((g) => {
        const u: { offset: number; length: number; reason: string; detail?: string } = {
          offset: g.offset,
          length: g.length,
          reason: g.reason,
        };
        if (g.detail !== undefined) u.detail = g.detail;
        return u;
      });
      if (args.flags.json) {
        io.out(
          toJson({
            address: `0x${address.toString(16)}`,
            physical,
            length,
            bytes: hex(result.bytes),
            unavailable,
          }),
        );
      } else {
        const digits = dump.arch.wordSize * 2;
        const inGap = gapLookup(result.gaps);
        const lines = hexdump(address, result.bytes, inGap, digits);
        for (const g of result.gaps) {
          const start = address + BigInt(g.offset);
          const end = start + BigInt(g.length) - 1n;
          lines.push(
            `${start.toString(16).padStart(digits, '0')}-${end.toString(16).padStart(digits, '0')} (${g.length} bytes): ${REASON_TEXT[g.reason] ?? g.reason}${g.detail ? ` (${g.detail})` : ''}`,
          );
        }
        io.out(`${lines.join('\n')}\n`);
      }
      return result.gaps.length > 0 ? EXIT.PARTIAL : EXIT.OK;
    });
  },
};

/** offset → whether it lies in a gap (gaps are sorted; queries mostly ascending). */
function gapLookup(gaps: readonly Gap[]): (offset: number) => boolean {
  let i = 0;
  let last = -1;
  return (offset) => {
    if (offset < last) i = 0;
    last = offset;
    while (i < gaps.length && gaps[i]!.offset + gaps[i]!.length <= offset) i++;
    const g = gaps[i];
    return g !== undefined && offset >= g.offset;
  };
}
