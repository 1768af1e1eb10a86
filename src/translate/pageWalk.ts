import type { WalkEntry } from './types';

/** One level of a radix page table: the virtual-address bits that index it. */
export interface PageTableLevel {
  name: string;
  /** Lowest virtual-address bit of this level's index. */
  shift: number;
  /** Number of index bits (entries = 2^bits). */
  bits: number;
}

export type DecodedEntry =
  | { kind: 'table'; next: bigint }
  | { kind: 'leaf'; base: bigint; size: bigint }
  | { kind: 'invalid'; why: string };

/** An architecture's page-table format: its levels (top first) and how one entry decodes. */
export interface PageTableFormat {
  readonly levels: readonly PageTableLevel[];
  readonly entrySize: 8;
  decode(entry: bigint, levelIndex: number): DecodedEntry;
}

export type WalkResult =
  | { ok: true; physical: bigint; pageSize: number; entries: WalkEntry[] }
  | { ok: false; why: string; entries: WalkEntry[] };

/**
 * Walk a page table top-down. The depth is fixed by the format, so a hostile table (one that points
 * back at itself) yields a wrong or failed translation, never a loop.
 */
export async function walkPageTable(
  format: PageTableFormat,
  root: bigint,
  va: bigint,
  readEntry: (paddr: bigint) => Promise<bigint | undefined>,
): Promise<WalkResult> {
  const entries: WalkEntry[] = [];
  let table = root;
  for (let i = 0; i < format.levels.length; i++) {
    const level = format.levels[i]!;
    const index = (va >> BigInt(level.shift)) & ((1n << BigInt(level.bits)) - 1n);
    const address = table + index * 8n;
    const value = await readEntry(address);
    if (value === undefined) {
      return {
        ok: false,
        why: `the ${level.name} table page at 0x${table.toString(16)} is not in the dump`,
        entries,
      };
    }
    entries.push({ level: level.name, address, value });
    const d = format.decode(value, i);
    if (d.kind === 'invalid')
      return { ok: false, why: `${level.name} entry ${hex(value)}: ${d.why}`, entries };
    if (d.kind === 'leaf') {
      return { ok: true, physical: d.base + (va & (d.size - 1n)), pageSize: Number(d.size), entries };
    }
    table = d.next;
  }
  return { ok: false, why: 'the walk ran past the last level', entries };
}

function hex(v: bigint): string {
  return '0x' + v.toString(16).padStart(16, '0');
}
