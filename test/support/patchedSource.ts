import type { ByteSource } from '../../src/dump/source';

/** A byte source over another one with some bytes replaced (bit flips, absurd header values). */
export class PatchedSource implements ByteSource {
  private readonly patches = new Map<number, number>();

  constructor(
    private readonly base: ByteSource,
    readonly name = `${base.name} (patched)`,
    /** Pretend the file ends here (truncation). */
    private readonly limit = base.size,
  ) {}

  get size(): number {
    return Math.min(this.limit, this.base.size);
  }

  /** Replace bytes at `offset`. */
  set(offset: number, bytes: ArrayLike<number>): this {
    for (let i = 0; i < bytes.length; i++) this.patches.set(offset + i, bytes[i]! & 0xff);
    return this;
  }

  u32(offset: number, value: number, le = true): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value >>> 0, le);
    return this.set(offset, b);
  }

  u64(offset: number, value: bigint, le = true): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, value), le);
    return this.set(offset, b);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const end = Math.min(this.size, offset + length);
    if (end <= offset) return new Uint8Array(0);
    const bytes = (await this.base.read(offset, end - offset)).slice();
    for (const [at, v] of this.patches)
      if (at >= offset && at < offset + bytes.length) bytes[at - offset] = v;
    return bytes;
  }

  async close(): Promise<void> {}
}
