import type { Gap, ReadResult } from '../dump/types';

/** One page-table entry read during a walk. */
export interface WalkEntry {
  /** Level name as kernel engineers say it: pgd, p4d, pud, pmd, pte (x86) or l0…l3 (aarch64). */
  level: string;
  /** Physical address the entry was read from. */
  address: bigint;
  /** The raw entry value. */
  value: bigint;
}

export interface Translation {
  virtual: bigint;
  physical: bigint;
  /** Size of the page or block that maps the address (4096, 2 MiB, 1 GiB, …). */
  pageSize: number;
  /** Every table entry of the walk, top level first; empty for linear (direct map, kernel image) rules. */
  entries: WalkEntry[];
  via: 'page-table' | 'linear';
}

/** Kernel virtual memory: what everything above the address-translation layer reads through. */
export interface VirtualMemory {
  readonly wordSize: 4 | 8;
  readonly littleEndian: boolean;
  /** Bytes at a kernel virtual address; `gaps` say what is not available and why. */
  read(vaddr: bigint, length: number): Promise<ReadResult>;
}

/** A read that had to be complete was not. */
export class MemoryError extends Error {
  override readonly name = 'MemoryError';
  constructor(
    readonly address: bigint,
    readonly gap: Gap,
    what?: string,
  ) {
    super(
      `cannot read ${what ? what + ' at ' : ''}0x${(address + BigInt(gap.offset)).toString(16)}: ${gap.reason}${gap.detail ? ` (${gap.detail})` : ''}`,
    );
  }
}

/** Read exactly `length` bytes or throw a MemoryError naming the first gap. */
export async function readFully(
  mem: VirtualMemory,
  vaddr: bigint,
  length: number,
  what?: string,
): Promise<Uint8Array> {
  const { bytes, gaps } = await mem.read(vaddr, length);
  if (gaps.length > 0) throw new MemoryError(vaddr, gaps[0]!, what);
  return bytes;
}

export async function readU32(mem: VirtualMemory, vaddr: bigint, what?: string): Promise<number> {
  const b = await readFully(mem, vaddr, 4, what);
  return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, mem.littleEndian);
}

export async function readU64(mem: VirtualMemory, vaddr: bigint, what?: string): Promise<bigint> {
  const b = await readFully(mem, vaddr, 8, what);
  return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, mem.littleEndian);
}

/** A pointer-sized unsigned value. */
export async function readPointer(mem: VirtualMemory, vaddr: bigint, what?: string): Promise<bigint> {
  return mem.wordSize === 8 ? readU64(mem, vaddr, what) : BigInt(await readU32(mem, vaddr, what));
}
