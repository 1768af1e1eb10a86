/** Kernel virtual memory built by a test: byte regions placed at virtual addresses, the rest unmapped. */
import { GapList } from '../../src/dump/physicalIndex';
import type { ReadResult } from '../../src/dump/types';
import type { VirtualMemory } from '../../src/translate/types';

export class TestVirtualMemory implements VirtualMemory {
  private readonly regions: { start: bigint; bytes: Uint8Array }[] = [];
  /** Number of read() calls, to check that big tables are read in few large reads. */
  reads = 0;

  constructor(
    readonly wordSize: 4 | 8 = 8,
    readonly littleEndian = true,
  ) {}

  /** Place bytes at a virtual address (regions must not overlap). */
  map(vaddr: bigint, bytes: Uint8Array): this {
    this.regions.push({ start: vaddr, bytes });
    this.regions.sort((a, b) => (a.start < b.start ? -1 : 1));
    return this;
  }

  async read(vaddr: bigint, length: number): Promise<ReadResult> {
    this.reads++;
    const bytes = new Uint8Array(length);
    const gaps = new GapList();
    let done = 0;
    while (done < length) {
      const a = vaddr + BigInt(done);
      const r = this.regions.find((x) => a >= x.start && a < x.start + BigInt(x.bytes.length));
      if (r) {
        const off = Number(a - r.start);
        const n = Math.min(length - done, r.bytes.length - off);
        bytes.set(r.bytes.subarray(off, off + n), done);
        done += n;
      } else {
        const next = this.regions.find((x) => x.start > a);
        const n = next ? Math.min(length - done, Number(next.start - a)) : length - done;
        gaps.add(done, n, 'not-mapped');
        done += n;
      }
    }
    return gaps.result(bytes);
  }
}

/** A little byte writer with the dump's byte order. */
export class Bytes {
  readonly bytes: Uint8Array;
  private readonly dv: DataView;
  constructor(
    size: number,
    private readonly le = true,
  ) {
    this.bytes = new Uint8Array(size);
    this.dv = new DataView(this.bytes.buffer);
  }
  u8(o: number, v: number): this {
    this.dv.setUint8(o, v);
    return this;
  }
  u16(o: number, v: number): this {
    this.dv.setUint16(o, v, this.le);
    return this;
  }
  u32(o: number, v: number): this {
    this.dv.setUint32(o, v >>> 0, this.le);
    return this;
  }
  s32(o: number, v: number): this {
    this.dv.setInt32(o, v, this.le);
    return this;
  }
  u64(o: number, v: bigint): this {
    this.dv.setBigUint64(o, BigInt.asUintN(64, v), this.le);
    return this;
  }
  word(o: number, v: bigint, size: 4 | 8): this {
    return size === 8 ? this.u64(o, v) : this.u32(o, Number(BigInt.asUintN(32, v)));
  }
  ascii(o: number, s: string): this {
    for (let i = 0; i < s.length; i++) this.bytes[o + i] = s.charCodeAt(i);
    return this;
  }
}
