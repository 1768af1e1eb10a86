/**
 * Address range lists of a compilation unit (DW_AT_ranges): `.debug_ranges` pairs (DWARF 2–4, §2.17.3)
 * and `.debug_rnglists` entries (DWARF 5, §7.25). Used only to index units by address when
 * `.debug_aranges` is missing or does not cover an address.
 */
import { type DwarfCursor, DwarfError } from './cursor';

/** Entries one list may hold before it is refused. */
const MAX_ENTRIES = 1 << 16;

const DW_RLE = {
  end_of_list: 0,
  base_addressx: 1,
  startx_endx: 2,
  startx_length: 3,
  offset_pair: 4,
  base_address: 5,
  start_end: 6,
  start_length: 7,
} as const;

export interface AddressRange {
  start: bigint;
  end: bigint;
}

/** `.debug_ranges`: (begin, end) pairs relative to the base address, ended by (0, 0). */
export function parseRangeList(c: DwarfCursor, addressSize: number, baseAddress: bigint): AddressRange[] {
  const max = addressSize === 8 ? (1n << 64n) - 1n : (1n << BigInt(addressSize * 8)) - 1n;
  const out: AddressRange[] = [];
  let base = baseAddress;
  for (let n = 0; n < MAX_ENTRIES; n++) {
    const begin = c.unsigned(addressSize);
    const end = c.unsigned(addressSize);
    if (begin === 0n && end === 0n) return out;
    if (begin === max) {
      base = end; // base address selection entry
      continue;
    }
    if (end > begin)
      out.push({ start: BigInt.asUintN(64, base + begin), end: BigInt.asUintN(64, base + end) });
  }
  throw new DwarfError(`range list longer than ${MAX_ENTRIES} entries`);
}

/** `.debug_rnglists` entries; `address(i)` resolves a `.debug_addr` index (undefined when it cannot). */
export async function parseRnglist(
  c: DwarfCursor,
  addressSize: number,
  baseAddress: bigint,
  address: (index: number) => Promise<bigint | undefined>,
): Promise<AddressRange[]> {
  const out: AddressRange[] = [];
  let base: bigint | undefined = baseAddress;
  const add = (start: bigint | undefined, end: bigint | undefined) => {
    if (start !== undefined && end !== undefined && end > start) out.push({ start, end });
  };
  for (let n = 0; n < MAX_ENTRIES; n++) {
    const kind = c.u8();
    switch (kind) {
      case DW_RLE.end_of_list:
        return out;
      case DW_RLE.base_addressx:
        base = await address(c.uleb());
        break;
      case DW_RLE.startx_endx: {
        const start = c.uleb();
        const end = c.uleb();
        add(await address(start), await address(end));
        break;
      }
      case DW_RLE.startx_length: {
        const start = await address(c.uleb());
        const length = BigInt(c.uleb());
        add(start, start === undefined ? undefined : BigInt.asUintN(64, start + length));
        break;
      }
      case DW_RLE.offset_pair: {
        const from = BigInt(c.uleb());
        const to = BigInt(c.uleb());
        if (base !== undefined) add(BigInt.asUintN(64, base + from), BigInt.asUintN(64, base + to));
        break;
      }
      case DW_RLE.base_address:
        base = c.unsigned(addressSize);
        break;
      case DW_RLE.start_end:
        add(c.unsigned(addressSize), c.unsigned(addressSize));
        break;
      case DW_RLE.start_length: {
        const start = c.unsigned(addressSize);
        add(start, BigInt.asUintN(64, start + BigInt(c.uleb())));
        break;
      }
      default:
        throw new DwarfError(`unknown range list entry kind ${kind}`);
    }
  }
  throw new DwarfError(`range list longer than ${MAX_ENTRIES} entries`);
}
