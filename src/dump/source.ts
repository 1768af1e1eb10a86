import { readSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { LruCache } from '../util/lru';
import { DumpError } from './errors';

/**
 * Random access to the bytes of a dump container. A plain file, or a view that reassembles a
 * flattened makedumpfile stream in place. Reads are positional and lazy: nothing reads a whole dump.
 */
export interface ByteSource {
  /** Human-readable name (the path) for messages. */
  readonly name: string;
  /** Number of bytes that can be read. */
  readonly size: number;
  /**
   * Bytes the source really stores, when fewer than `size` (a flattened stream's records: the rest of
   * its image is holes that read as zeros). Header-driven reads are bounded by it, so a stream of a
   * few KiB cannot make a reader allocate megabytes of holes.
   */
  readonly storedBytes?: number;
  /**
   * Up to `length` bytes at `offset`. The result is shorter only at the end of the source;
   * reading at or past the end returns an empty array. `hint.uncached`: bytes the caller decodes and
   * caches itself (compressed pages), so a source with a block cache reads just them.
   */
  read(offset: number, length: number, hint?: ReadHint): Promise<Uint8Array>;
  close(): Promise<void>;
}

export interface ReadHint {
  uncached?: boolean;
}

const BLOCK_SIZE = 64 * 1024;

export interface FileSourceOptions {
  /**
   * `false` reads exactly the bytes asked for: for readers that pick small pieces out of a very large
   * file (DWARF in a vmlinux) and cache what they decoded themselves.
   */
  blockCache?: boolean;
  /**
   * Read with blocking system calls on the calling thread instead of Node's thread pool. A random
   * page read is then a pread, not a round trip through the pool (which costs more than decoding
   * the page): right for processes of their own (the CLI, the standalone adapter). The extension
   * host keeps the default, so a slow or hung disk cannot freeze it.
   */
  blocking?: boolean;
}
const CACHE_BLOCKS = 256; // 16 MiB

/**
 * A file read by offset, with a small bounded block cache so that the many small reads of header
 * fields, page descriptors and page tables cost one system call per 64 KiB block, not one each.
 * Large reads bypass the cache.
 */
export class FileSource implements ByteSource {
  private readonly cache = new LruCache<number, Uint8Array>(CACHE_BLOCKS);
  private readonly inflight = new Map<number, Promise<Uint8Array>>();
  private closed = false;

  private constructor(
    readonly name: string,
    private readonly handle: FileHandle,
    readonly size: number,
    private readonly blockCache: boolean,
    private readonly blocking: boolean,
  ) {}

  static async open(path: string, options: FileSourceOptions = {}): Promise<FileSource> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      throw new DumpError('io', `cannot open ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    try {
      const stat = await handle.stat();
      if (stat.isDirectory()) throw new DumpError('io', `${path} is a directory, not a dump file`);
      return new FileSource(path, handle, stat.size, options.blockCache ?? true, options.blocking ?? false);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async read(offset: number, length: number, hint?: ReadHint): Promise<Uint8Array> {
    if (this.closed) throw new DumpError('io', `${this.name} is closed`);
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new RangeError(`bad read range ${offset}+${length}`);
    }
    const end = Math.min(this.size, offset + length);
    if (end <= offset) return new Uint8Array(0);
    if (!this.blockCache || hint?.uncached || end - offset >= BLOCK_SIZE) {
      return this.readDirect(offset, end - offset);
    }
    const first = Math.floor(offset / BLOCK_SIZE);
    const last = Math.floor((end - 1) / BLOCK_SIZE);
    if (first === last) {
      const block = await this.block(first);
      return block.subarray(offset - first * BLOCK_SIZE, end - first * BLOCK_SIZE);
    }
    const out = new Uint8Array(end - offset);
    for (let b = first; b <= last; b++) {
      const block = await this.block(b);
      const blockStart = b * BLOCK_SIZE;
      const from = Math.max(offset, blockStart);
      const to = Math.min(end, blockStart + block.length);
      out.set(block.subarray(from - blockStart, to - blockStart), from - offset);
    }
    return out;
  }

  private block(index: number): Promise<Uint8Array> {
    const cached = this.cache.get(index);
    if (cached) return Promise.resolve(cached);
    let pending = this.inflight.get(index);
    if (!pending) {
      const start = index * BLOCK_SIZE;
      pending = this.readDirect(start, Math.min(BLOCK_SIZE, this.size - start)).then(
        (bytes) => {
          this.inflight.delete(index);
          this.cache.set(index, bytes);
          return bytes;
        },
        (err) => {
          this.inflight.delete(index);
          throw err;
        },
      );
      this.inflight.set(index, pending);
    }
    return pending;
  }

  private async readDirect(offset: number, length: number): Promise<Uint8Array> {
    // Not zero-filled (the read fills it; a short read returns only what was read). A plain
    // Uint8Array view, so that slice() still copies.
    const unfilled = Buffer.allocUnsafe(length);
    const buf = new Uint8Array(unfilled.buffer, unfilled.byteOffset, length);
    let done = 0;
    while (done < length) {
      let bytesRead: number;
      try {
        bytesRead = this.blocking
          ? readSync(this.handle.fd, buf, done, length - done, offset + done)
          : (await this.handle.read(buf, done, length - done, offset + done)).bytesRead;
      } catch (err) {
        throw new DumpError(
          'io',
          `cannot read ${this.name}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
          offset + done,
        );
      }
      if (bytesRead === 0) break; // file shrank under us
      done += bytesRead;
    }
    return done === length ? buf : buf.subarray(0, done);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cache.clear();
    await this.handle.close();
  }
}

/** A byte source over bytes already in memory (tests, small synthetic dumps). */
export class MemorySource implements ByteSource {
  constructor(
    private readonly bytes: Uint8Array,
    readonly name = '<memory>',
  ) {}
  get size(): number {
    return this.bytes.length;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    return this.bytes.subarray(
      Math.min(offset, this.bytes.length),
      Math.min(this.bytes.length, offset + length),
    );
  }
  async close(): Promise<void> {}
}

/** Read exactly `length` bytes or throw a truncation error naming what was being read. */
export async function readExact(
  source: ByteSource,
  offset: number,
  length: number,
  what: string,
): Promise<Uint8Array> {
  const bytes = await source.read(offset, length);
  if (bytes.length < length) {
    throw new DumpError(
      'truncated',
      `${source.name}: the file ends before the ${what} (${length} bytes needed, ${bytes.length} present)`,
      offset,
    );
  }
  return bytes;
}
