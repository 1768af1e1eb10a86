/**
 * `.debug_aranges` (DWARF 5 §6.1.2): address ranges → the offset of the compilation unit in
 * `.debug_info` that covers them. The whole section is small (≈180 KB for a distribution kernel) and
 * is read once into sorted arrays. A corrupt set ends the parse with what was read before it.
 */
import { DwarfCursor, DwarfError } from './cursor';

/** More ranges than this is not a real kernel (Debian's 6.1 vmlinux has ≈11 000). */
export const MAX_ARANGES = 1 << 22;

export interface AddressRangeIndex {
  count: number;
  starts: BigUint64Array;
  ends: BigUint64Array;
  /** `.debug_info` offset of the unit for each range. */
  units: Float64Array;
  /** Running maximum of `ends`, so a lookup can tell when no earlier range can hold an address. */
  maxEnds: BigUint64Array;
  /** Why parsing stopped early, when it did. */
  problem?: string;
}

export function parseAranges(section: Uint8Array, littleEndian: boolean): AddressRangeIndex {
  const ranges: UnitRange[] = [];
  let problem: string | undefined;
  const c = new DwarfCursor(section, littleEndian);
  try {
    while (c.remaining > 0) {
      const setStart = c.pos;
      const { length, offsetSize } = c.initialLength();
      if (length > c.remaining) throw new DwarfError(`aranges set at ${setStart} is longer than the section`);
      const setEnd = c.pos + length;
      const s = new DwarfCursor(section, littleEndian, c.pos, setEnd);
      c.pos = setEnd;
      const version = s.u16();
      if (version !== 2) throw new DwarfError(`aranges set at ${setStart} has version ${version}`);
      const unit = s.offset(offsetSize);
      const addressSize = s.u8();
      const segmentSize = s.u8();
      if (addressSize !== 4 && addressSize !== 8) {
        throw new DwarfError(`aranges set at ${setStart} has address size ${addressSize}`);
      }
      if (segmentSize !== 0) throw new DwarfError(`aranges set at ${setStart} uses segments`);
      // Tuples start at a multiple of twice the address size from the start of the set.
      const tupleSize = 2 * addressSize;
      const misalign = (s.pos - setStart) % tupleSize;
      if (misalign !== 0) s.skip(tupleSize - misalign, 'aranges padding');
      while (s.remaining >= tupleSize) {
        const start = s.unsigned(addressSize);
        const size = s.unsigned(addressSize);
        if (start === 0n && size === 0n) break;
        if (size === 0n) continue;
        if (ranges.length >= MAX_ARANGES) throw new DwarfError(`more than ${MAX_ARANGES} address ranges`);
        ranges.push({ start, end: BigInt.asUintN(64, start + size), unit });
      }
    }
  } catch (err) {
    problem = `.debug_aranges is corrupt: ${(err as Error).message}`;
  }
  const index = buildRangeIndex(ranges);
  if (problem) index.problem = problem;
  return index;
}

export interface UnitRange {
  start: bigint;
  end: bigint;
  unit: number;
}

/** Sort ranges into an index. */
export function buildRangeIndex(ranges: UnitRange[]): AddressRangeIndex {
  ranges.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const n = ranges.length;
  const index: AddressRangeIndex = {
    count: n,
    starts: new BigUint64Array(n),
    ends: new BigUint64Array(n),
    units: new Float64Array(n),
    maxEnds: new BigUint64Array(n),
  };
  let maxEnd = 0n;
  ranges.forEach((r, i) => {
    index.starts[i] = r.start;
    index.ends[i] = r.end;
    index.units[i] = r.unit;
    if (r.end > maxEnd) maxEnd = r.end;
    index.maxEnds[i] = maxEnd;
  });
  return index;
}

/** The `.debug_info` offset of the unit whose range holds `address`, or undefined. */
export function unitForAddress(index: AddressRangeIndex, address: bigint): number | undefined {
  let lo = 0;
  let hi = index.count - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (index.starts[mid]! <= address) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  // Ranges may nest or overlap: walk back while an earlier range could still reach the address.
  for (let i = found; i >= 0 && index.maxEnds[i]! > address; i--) {
    if (address < index.ends[i]!) return index.units[i]!;
  }
  return undefined;
}
