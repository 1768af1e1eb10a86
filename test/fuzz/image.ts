/**
 * Fuzz inputs: a file image that keeps only the byte ranges that matter (headers, notes, whatever
 * the format reader read from the real dump), zeros elsewhere, with the real file's size. A 400 MiB
 * real dump becomes a few KiB to a few MiB in memory, and mutations land where the parsers look.
 */
import { DumpError } from '../../src/dump/errors';
import type { ByteSource } from '../../src/dump/source';

export interface Chunk {
  offset: number;
  bytes: Uint8Array;
  /** Shared with the image this one was cloned from: copied on first write. */
  shared?: boolean;
}

export class SparseImage {
  /** Sorted, disjoint, non-adjacent chunks. */
  readonly chunks: Chunk[];

  constructor(
    public size: number,
    chunks: Chunk[],
  ) {
    this.chunks = normalize(chunks);
  }

  static of(bytes: Uint8Array): SparseImage {
    return new SparseImage(bytes.length, [{ offset: 0, bytes }]);
  }

  /** A copy that shares chunk bytes until it writes to them. */
  clone(): SparseImage {
    return new SparseImage(
      this.size,
      this.chunks.map((c) => ({ offset: c.offset, bytes: c.bytes, shared: true })),
    );
  }

  /** Bytes held in memory. */
  get storedBytes(): number {
    return this.chunks.reduce((n, c) => n + c.bytes.length, 0);
  }

  /** Read [offset, offset+length) clipped to the size; bytes outside chunks are zero. */
  read(offset: number, length: number): Uint8Array {
    const end = Math.min(this.size, offset + length);
    if (end <= offset) return new Uint8Array(0);
    const out = new Uint8Array(end - offset);
    for (const c of this.chunks) {
      const cEnd = c.offset + c.bytes.length;
      if (cEnd <= offset) continue;
      if (c.offset >= end) break;
      const from = Math.max(offset, c.offset);
      const to = Math.min(end, cEnd);
      out.set(c.bytes.subarray(from - c.offset, to - c.offset), from - offset);
    }
    return out;
  }

  /** Overwrite bytes (within existing chunks only: the image never grows new stored ranges). */
  write(offset: number, bytes: Uint8Array): void {
    for (const c of this.chunks) {
      const cEnd = c.offset + c.bytes.length;
      const from = Math.max(offset, c.offset);
      const to = Math.min(offset + bytes.length, cEnd);
      if (from >= to) continue;
      if (c.shared) {
        c.bytes = c.bytes.slice();
        c.shared = false;
      }
      c.bytes.set(bytes.subarray(from - offset, to - offset), from - c.offset);
    }
  }

  /** Cut the file at `size` bytes. */
  truncate(size: number): void {
    this.size = Math.min(this.size, size);
    for (let i = this.chunks.length - 1; i >= 0; i--) {
      const c = this.chunks[i]!;
      if (c.offset >= this.size) this.chunks.splice(i, 1);
      else if (c.offset + c.bytes.length > this.size) c.bytes = c.bytes.subarray(0, this.size - c.offset);
    }
  }

  /** Whether [offset, offset+length) is entirely stored. */
  covers(offset: number, length: number): boolean {
    return this.chunks.some((c) => c.offset <= offset && offset + length <= c.offset + c.bytes.length);
  }

  /** The image as one array (only for small images). */
  flat(): Uint8Array {
    return this.read(0, this.size);
  }
}

function normalize(chunks: Chunk[]): Chunk[] {
  const sorted = chunks.filter((c) => c.bytes.length > 0).sort((a, b) => a.offset - b.offset);
  const out: Chunk[] = [];
  for (const c of sorted) {
    const last = out[out.length - 1];
    if (last && c.offset <= last.offset + last.bytes.length) {
      const end = Math.max(last.offset + last.bytes.length, c.offset + c.bytes.length);
      const merged = new Uint8Array(end - last.offset);
      merged.set(last.bytes);
      merged.set(c.bytes, c.offset - last.offset);
      last.bytes = merged;
      last.shared = false;
    } else out.push({ offset: c.offset, bytes: c.bytes, shared: c.shared });
  }
  return out;
}

/** Thrown by a FuzzSource read after the case's deadline: a reader loop that does not end. */
export class FuzzDeadline extends Error {
  override readonly name = 'FuzzDeadline';
}

/**
 * A ByteSource over a SparseImage that keeps FileSource's contract to the letter: offsets and
 * lengths must be safe non-negative integers (RangeError otherwise, as FileSource throws), reads
 * after close fail with an `io` DumpError, and short reads only at the end. It also counts reads
 * and refuses to serve after a deadline, so a reader that loops forever fails the case instead of
 * hanging the suite.
 */
export class FuzzSource implements ByteSource {
  reads = 0;
  bytesRead = 0;
  private closed = false;

  constructor(
    private readonly image: SparseImage,
    readonly name: string,
    private readonly deadline: number,
  ) {}

  get size(): number {
    return this.image.size;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (this.closed) throw new DumpError('io', `${this.name} is closed`);
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new RangeError(`bad read range ${offset}+${length}`);
    }
    this.reads++;
    if (performance.now() > this.deadline) {
      throw new FuzzDeadline(`still reading after the case deadline (${this.reads} reads)`);
    }
    const out = this.image.read(offset, length);
    this.bytesRead += out.length;
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** A source that records which ranges a reader touches (to build seeds from real dumps). */
export class RecordingSource implements ByteSource {
  readonly touched: { offset: number; length: number }[] = [];
  constructor(private readonly inner: ByteSource) {}
  get name(): string {
    return this.inner.name;
  }
  get size(): number {
    return this.inner.size;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    const out = await this.inner.read(offset, length);
    if (out.length > 0) this.touched.push({ offset, length: out.length });
    return out;
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
