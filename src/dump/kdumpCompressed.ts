/**
 * makedumpfile's compressed format (`KDUMP   `, and the legacy `DISKDUMP` it grew from).
 *
 * Layout (block = `block_size` = the dumped kernel's page size): the main header (block 0), the
 * kdump sub-header and the ELF notes (`sub_hdr_size` blocks), two bitmaps (1st: the page is RAM,
 * 2nd: the page is in the file), then one 24-byte page descriptor per dumped page in PFN order, then
 * the page data, each page compressed on its own (zlib, LZO, snappy or zstd) or stored raw.
 *
 * A page is found by its rank among the dumped pages (the number of 2nd-bitmap bits set before it).
 * Ranks come from cumulative counts per 4 KiB bitmap chunk, built in one streaming pass (at open for
 * ordinary dumps, lazily and only as far as needed for huge ones), so memory stays bounded: 8 bytes
 * per 32768 pages plus small LRU caches of bitmap chunks and decoded pages.
 */
import { ARCHES, archByUname } from '../arch';
import type { ArchInfo } from '../arch/types';
import { ByteView } from '../util/bytes';
import { LruCache } from '../util/lru';
import {
  COMPRESSION_BITS,
  DUMP_DH_COMPRESSED_INCOMPLETE,
  DUMP_DH_EXCLUDED_VMEMMAP,
  decompressPage,
  type PageCompression,
  PageDecodeError,
  pageCompression,
} from './compression';
import { formatBytes } from './elf';
import { corrupt, DumpError } from './errors';
import { interpretNotes } from './noteContents';
import { type Note, parseNotes } from './notes';
import { GapList } from './physicalIndex';
import type { ByteSource } from './source';
import type {
  Dump,
  DumpFormat,
  DumpProblem,
  PhysicalMemory,
  PhysicalRange,
  ReadResult,
  UnavailableReason,
} from './types';

const KDUMP_SIGNATURE = 'KDUMP   ';
const DISKDUMP_SIGNATURE = 'DISKDUMP';
const KNOWN_HEADER_VERSION = 6;
/** Versions above this are not a kdump header read in the right byte order. */
const MAX_HEADER_VERSION = 100;
const MIN_BLOCK_SIZE = 512;
const MAX_BLOCK_SIZE = 1 << 20;
const PAGE_DESC_SIZE = 24;
const MAX_NOTE_BYTES = 64 * 1024 * 1024;
const MAX_VMCOREINFO_BYTES = 16 * 1024 * 1024;
/** Rank index granularity: one count per 4 KiB of bitmap (32768 pages). */
const CHUNK_BYTES = 4096;
const CHUNK_BITS = CHUNK_BYTES * 8;
/** The rank index is built in windows of this size. */
const SCAN_WINDOW = 1 << 20;
/** Build the rank index and the RAM ranges at open when a bitmap is at most this big (2 TiB of 4 KiB pages). */
const EAGER_BITMAP_BYTES = 64 * 1024 * 1024;
const BITMAP_CACHE_CHUNKS = 512; // 2 MiB
const PAGE_CACHE_BYTES = 16 * 1024 * 1024;
const PAGE_CACHE_MAX = 2048;
const MAX_RANGES = 1 << 16;
/** Never more pages than this (2^52 pages of 4 KiB cover a 64-bit physical address space). */
const MAX_PFNS = 2 ** 52;
/** How many page descriptors are sampled at open to learn which compressions the pages use. */
const DESCRIPTOR_SAMPLE = 4096;

// ---------------------------------------------------------------------------------------------
// Header layouts

interface MainLayout {
  name: '64-bit' | '32-bit';
  wordSize: 4 | 8;
  timestamp: number;
  status: number;
  blockSize: number;
  subHdrSize: number;
  bitmapBlocks: number;
  maxMapnr: number;
  totalRamBlocks: number;
  deviceBlocks: number;
  writtenBlocks: number;
  currentCpu: number;
  nrCpus: number;
  size: number;
}

const MAIN_64: MainLayout = {
  name: '64-bit',
  wordSize: 8,
  timestamp: 408,
  status: 424,
  blockSize: 428,
  subHdrSize: 432,
  bitmapBlocks: 436,
  maxMapnr: 440,
  totalRamBlocks: 444,
  deviceBlocks: 448,
  writtenBlocks: 452,
  currentCpu: 456,
  nrCpus: 460,
  size: 464,
};

const MAIN_32: MainLayout = {
  name: '32-bit',
  wordSize: 4,
  timestamp: 404,
  status: 412,
  blockSize: 416,
  subHdrSize: 420,
  bitmapBlocks: 424,
  maxMapnr: 428,
  totalRamBlocks: 432,
  deviceBlocks: 436,
  writtenBlocks: 440,
  currentCpu: 444,
  nrCpus: 448,
  size: 452,
};

const UTSNAME_FIELDS = ['sysname', 'nodename', 'release', 'version', 'machine', 'domainname'] as const;
const UTSNAME_OFFSET = 12;
const UTSNAME_FIELD = 65;
const MACHINE_OFFSET = UTSNAME_OFFSET + 4 * UTSNAME_FIELD; // 272

interface SubLayout {
  name: '64-bit' | '32-bit packed' | '32-bit padded';
  wordSize: 4 | 8;
  physBase: number;
  dumpLevel: number;
  split: number;
  startPfn: number;
  endPfn: number;
  offsetVmcoreinfo: number;
  sizeVmcoreinfo: number;
  offsetNote: number;
  sizeNote: number;
  offsetEraseinfo: number;
  sizeEraseinfo: number;
  startPfn64: number;
  endPfn64: number;
  maxMapnr64: number;
  size: number;
}

const SUB_64: SubLayout = {
  name: '64-bit',
  wordSize: 8,
  physBase: 0,
  dumpLevel: 8,
  split: 12,
  startPfn: 16,
  endPfn: 24,
  offsetVmcoreinfo: 32,
  sizeVmcoreinfo: 40,
  offsetNote: 48,
  sizeNote: 56,
  offsetEraseinfo: 64,
  sizeEraseinfo: 72,
  startPfn64: 80,
  endPfn64: 88,
  maxMapnr64: 96,
  size: 104,
};

/** i386: 64-bit members only 4-byte aligned. */
const SUB_32_PACKED: SubLayout = {
  name: '32-bit packed',
  wordSize: 4,
  physBase: 0,
  dumpLevel: 4,
  split: 8,
  startPfn: 12,
  endPfn: 16,
  offsetVmcoreinfo: 20,
  sizeVmcoreinfo: 28,
  offsetNote: 32,
  sizeNote: 40,
  offsetEraseinfo: 44,
  sizeEraseinfo: 52,
  startPfn64: 56,
  endPfn64: 64,
  maxMapnr64: 72,
  size: 80,
};

/** ARM and other 32-bit ABIs that align 64-bit members to 8 bytes. */
const SUB_32_PADDED: SubLayout = {
  name: '32-bit padded',
  wordSize: 4,
  physBase: 0,
  dumpLevel: 4,
  split: 8,
  startPfn: 12,
  endPfn: 16,
  offsetVmcoreinfo: 24,
  sizeVmcoreinfo: 32,
  offsetNote: 40,
  sizeNote: 48,
  offsetEraseinfo: 56,
  sizeEraseinfo: 64,
  startPfn64: 72,
  endPfn64: 80,
  maxMapnr64: 88,
  size: 96,
};

/** Bytes of the sub-header a given header version has. */
function subHeaderBytes(l: SubLayout, version: number): number {
  if (version >= 6) return l.size;
  if (version === 5) return l.sizeEraseinfo + l.wordSize;
  if (version === 4) return l.sizeNote + l.wordSize;
  if (version === 3) return l.sizeVmcoreinfo + l.wordSize;
  if (version === 2) return l.endPfn + l.wordSize;
  return l.dumpLevel + 4;
}

export interface KdumpMainHeader {
  signature: 'KDUMP' | 'DISKDUMP';
  littleEndian: boolean;
  layout: MainLayout;
  version: number;
  utsname: Record<(typeof UTSNAME_FIELDS)[number], string>;
  timestampSec: bigint;
  timestampUsec: bigint;
  status: number;
  blockSize: number;
  subHdrSize: number;
  bitmapBlocks: number;
  maxMapnr: number;
  totalRamBlocks: number;
  deviceBlocks: number;
  writtenBlocks: number;
  currentCpu: number;
  nrCpus: number;
}

export interface KdumpSubHeader {
  layout: SubLayout;
  /** Fields the file actually holds (a cut-short sub-header has fewer than its version says). */
  physBase?: bigint;
  dumpLevel?: number;
  split?: number;
  startPfn?: bigint;
  endPfn?: bigint;
  offsetVmcoreinfo?: bigint;
  sizeVmcoreinfo?: bigint;
  offsetNote?: bigint;
  sizeNote?: bigint;
  offsetEraseinfo?: bigint;
  sizeEraseinfo?: bigint;
  startPfn64?: bigint;
  endPfn64?: bigint;
  maxMapnr64?: bigint;
}

function parseMainHeader(
  head: Uint8Array,
  signature: 'KDUMP' | 'DISKDUMP',
  le: boolean,
  layout: MainLayout,
): KdumpMainHeader {
  const v = new ByteView(head, le);
  const utsname = {} as KdumpMainHeader['utsname'];
  UTSNAME_FIELDS.forEach((f, i) => {
    utsname[f] = v.cstring(UTSNAME_OFFSET + i * UTSNAME_FIELD, UTSNAME_FIELD);
  });
  const w = layout.wordSize;
  return {
    signature,
    littleEndian: le,
    layout,
    version: v.s32(8),
    utsname,
    timestampSec: w === 8 ? v.s64(layout.timestamp) : BigInt(v.s32(layout.timestamp)),
    timestampUsec: w === 8 ? v.s64(layout.timestamp + 8) : BigInt(v.s32(layout.timestamp + 4)),
    status: v.u32(layout.status),
    blockSize: v.s32(layout.blockSize),
    subHdrSize: v.s32(layout.subHdrSize),
    bitmapBlocks: v.u32(layout.bitmapBlocks),
    maxMapnr: v.u32(layout.maxMapnr),
    totalRamBlocks: v.u32(layout.totalRamBlocks),
    deviceBlocks: v.u32(layout.deviceBlocks),
    writtenBlocks: v.u32(layout.writtenBlocks),
    currentCpu: v.u32(layout.currentCpu),
    nrCpus: v.s32(layout.nrCpus),
  };
}

/** Why a reading of the main header cannot be right, or undefined when it is plausible. */
function implausible(h: KdumpMainHeader): string | undefined {
  const l = h.layout;
  const where = (field: string, off: number) => `${field} at offset ${off}`;
  if (h.version < 1 || h.version > MAX_HEADER_VERSION) {
    return `${where('header_version', 8)} is ${h.version}, expected 1..${KNOWN_HEADER_VERSION}`;
  }
  if (
    h.blockSize < MIN_BLOCK_SIZE ||
    h.blockSize > MAX_BLOCK_SIZE ||
    (h.blockSize & (h.blockSize - 1)) !== 0
  ) {
    return `${where('block_size', l.blockSize)} is ${h.blockSize}, not a page size (a power of two from ${MIN_BLOCK_SIZE} to ${MAX_BLOCK_SIZE})`;
  }
  if (h.subHdrSize < (h.signature === 'KDUMP' ? 1 : 0)) {
    return `${where('sub_hdr_size', l.subHdrSize)} is ${h.subHdrSize} blocks`;
  }
  if (h.bitmapBlocks < 1) return `${where('bitmap_blocks', l.bitmapBlocks)} is ${h.bitmapBlocks}`;
  if (!Number.isSafeInteger((1 + h.subHdrSize + h.bitmapBlocks) * h.blockSize)) {
    return `sub_hdr_size ${h.subHdrSize} and bitmap_blocks ${h.bitmapBlocks} put the page descriptors beyond any file`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Bitmaps and the rank index

const POP8 = new Uint8Array(256);
for (let i = 1; i < 256; i++) POP8[i] = (i & 1) + POP8[i >> 1]!;

function pop32(v: number): number {
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

/** Set bits in bytes[from, to) (`to` clamped to the bytes there are). */
function popcount(bytes: Uint8Array, from: number, to: number): number {
  to = Math.min(to, bytes.length);
  let n = 0;
  let i = from;
  while (i < to && ((bytes.byteOffset + i) & 3) !== 0) n += POP8[bytes[i++]!]!;
  const words = (to - i) >> 2;
  if (words > 0) {
    const u32 = new Uint32Array(bytes.buffer, bytes.byteOffset + i, words);
    for (let k = 0; k < words; k++) n += pop32(u32[k]!);
    i += words * 4;
  }
  while (i < to) n += POP8[bytes[i++]!]!;
  return n;
}

/** One bitmap, read on demand in 4 KiB chunks through a bounded cache. */
class Bitmap {
  private readonly cache = new LruCache<number, Uint8Array>(BITMAP_CACHE_CHUNKS);
  /** Bytes of the bitmap the file holds (it may end early). */
  readonly present: number;

  constructor(
    private readonly source: ByteSource,
    readonly offset: number,
    /** Bytes that matter: enough for every page below the dump's page limit. */
    readonly length: number,
  ) {
    this.present = Math.max(0, Math.min(length, source.size - offset));
  }

  /** Chunk k when it is cached: lets the hot paths skip an await (a random page read is ~20 µs). */
  cached(k: number): Uint8Array | undefined {
    return this.cache.get(k);
  }

  /** Chunks [from, to] when all are cached, else undefined. */
  cachedRange(from: number, to: number): Uint8Array[] | undefined {
    const chunks: Uint8Array[] = [];
    for (let k = from; k <= to; k++) {
      const c = this.cache.get(k);
      if (!c) return undefined;
      chunks.push(c);
    }
    return chunks;
  }

  async range(from: number, to: number): Promise<Uint8Array[]> {
    const chunks: Uint8Array[] = [];
    for (let k = from; k <= to; k++) chunks.push(await this.chunk(k));
    return chunks;
  }

  async chunk(k: number): Promise<Uint8Array> {
    let c = this.cache.get(k);
    if (!c) {
      const start = k * CHUNK_BYTES;
      const n = Math.max(0, Math.min(CHUNK_BYTES, this.present - start));
      c = n > 0 ? (await this.source.read(this.offset + start, n)).slice() : new Uint8Array(0);
      this.cache.set(k, c);
    }
    return c;
  }

  /** A window of the bitmap, read directly (the rank index and the range scan stream through it). */
  read(from: number, length: number): Promise<Uint8Array> {
    return this.source.read(this.offset + from, length);
  }
}

/**
 * Cumulative counts of set bits per chunk of the 2nd bitmap: counts[k] = bits set before chunk k.
 * Built by streaming windows from the start as far as a lookup needs, never further.
 */
class RankIndex {
  private counts = new Float64Array(1024);
  /** Per cached chunk, cumulative counts per 256-byte block, so a rank counts at most 256 bytes. */
  private readonly blockCounts = new LruCache<number, Uint16Array>(BITMAP_CACHE_CHUNKS);
  /** Chunks whose count is known: counts[0..built] are valid. */
  private built = 0;
  private building: Promise<void> | undefined;
  private chunksInFile: number;

  constructor(private readonly bitmap: Bitmap) {
    this.chunksInFile = Math.ceil(bitmap.present / CHUNK_BYTES);
  }

  /** Chunks of the bitmap the file holds. */
  get totalChunks(): number {
    return this.chunksInFile;
  }

  get complete(): boolean {
    return this.built >= this.totalChunks;
  }

  /** Set bits counted so far (a lower bound of the total until the index is complete). */
  get counted(): number {
    return this.counts[this.built]!;
  }

  /** Set bits in the whole (present part of the) bitmap, once the index is complete. */
  get total(): number | undefined {
    return this.complete ? this.counts[this.totalChunks]! : undefined;
  }

  private async extend(): Promise<void> {
    const startChunk = this.built;
    const from = startChunk * CHUNK_BYTES;
    const want = Math.min(SCAN_WINDOW, this.bitmap.present - from);
    const bytes = want > 0 ? await this.bitmap.read(from, want) : new Uint8Array(0);
    const chunks = Math.ceil(bytes.length / CHUNK_BYTES);
    if (chunks === 0) {
      // The file is shorter than it said when the index was set up; nothing further can be counted.
      this.chunksInFile = this.built;
      return;
    }
    if (this.counts.length < startChunk + chunks + 1) {
      let size = this.counts.length;
      while (size < startChunk + chunks + 1) size *= 2;
      const next = new Float64Array(Math.min(size, this.totalChunks + 1));
      next.set(this.counts.subarray(0, this.built + 1));
      this.counts = next;
    }
    let sum = this.counts[startChunk]!;
    for (let c = 0; c < chunks; c++) {
      sum += popcount(bytes, c * CHUNK_BYTES, Math.min(bytes.length, (c + 1) * CHUNK_BYTES));
      this.counts[startChunk + c + 1] = sum;
    }
    this.built = startChunk + chunks;
  }

  /** Make counts[0..k] valid (k ≤ totalChunks). */
  async ensure(k: number): Promise<void> {
    while (this.built < Math.min(k, this.totalChunks)) {
      if (!this.building) {
        this.building = this.extend().finally(() => {
          this.building = undefined;
        });
      }
      await this.building;
    }
  }

  /** rank(pfn) when it needs no reading (index built that far, chunk cached), else undefined. */
  rankIfCached(pfn: number): number | undefined {
    const k = Math.floor(pfn / CHUNK_BITS);
    if (this.built < Math.min(k, this.totalChunks)) return undefined;
    const chunk = this.bitmap.cached(k);
    return chunk ? this.rankIn(k, chunk, pfn) : undefined;
  }

  /** Number of set bits before `pfn` (whose byte the file holds). */
  async rank(pfn: number): Promise<number> {
    const k = Math.floor(pfn / CHUNK_BITS);
    await this.ensure(k);
    return this.rankIn(k, await this.bitmap.chunk(k), pfn);
  }

  private rankIn(k: number, chunk: Uint8Array, pfn: number): number {
    const within = pfn - k * CHUNK_BITS;
    const byte = within >> 3;
    const block = byte >> 8;
    return (
      this.counts[k]! +
      this.countsPerBlock(k, chunk)[block]! +
      popcount(chunk, block << 8, byte) +
      POP8[(chunk[byte] ?? 0) & ((1 << (within & 7)) - 1)]!
    );
  }

  private countsPerBlock(k: number, chunk: Uint8Array): Uint16Array {
    let c = this.blockCounts.get(k);
    if (!c) {
      const blocks = CHUNK_BYTES >> 8;
      c = new Uint16Array(blocks + 1);
      for (let b = 0; b < blocks; b++) c[b + 1] = c[b]! + popcount(chunk, b << 8, (b + 1) << 8);
      this.blockCounts.set(k, c);
    }
    return c;
  }

  /** The pfn whose rank is `rank` (index complete, rank < total). */
  async select(rank: number): Promise<number> {
    let lo = 0;
    let hi = this.totalChunks - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.counts[mid]! <= rank) lo = mid;
      else hi = mid - 1;
    }
    const chunk = await this.bitmap.chunk(lo);
    let left = rank - this.counts[lo]!;
    for (let i = 0; i < chunk.length; i++) {
      const n = POP8[chunk[i]!]!;
      if (left < n) {
        for (let b = 0; b < 8; b++) {
          if ((chunk[i]! >> b) & 1) {
            if (left === 0) return lo * CHUNK_BITS + i * 8 + b;
            left--;
          }
        }
      }
      left -= n;
    }
    return lo * CHUNK_BITS + chunk.length * 8;
  }
}

/** Runs of set bits (pages that are RAM) as physical ranges, in one streaming pass. */
async function scanRanges(
  bitmap: Bitmap,
  pfnLimit: number,
  blockSize: number,
): Promise<{ ranges: PhysicalRange[]; setBits: number; coarse: boolean }> {
  const bs = BigInt(blockSize);
  const ranges: PhysicalRange[] = [];
  let runStart = -1;
  let setBits = 0;
  let coarse = false;
  const close = (end: number) => {
    const start = BigInt(runStart) * bs;
    const stop = BigInt(end) * bs;
    if (ranges.length >= MAX_RANGES) {
      ranges[ranges.length - 1]!.end = stop; // too fragmented to list: widen the last range
      coarse = true;
    } else ranges.push({ start, end: stop });
    runStart = -1;
  };
  const limitBytes = Math.min(bitmap.present, Math.ceil(pfnLimit / 8));
  for (let from = 0; from < limitBytes; from += SCAN_WINDOW) {
    const bytes = await bitmap.read(from, Math.min(SCAN_WINDOW, limitBytes - from));
    if (bytes.length === 0) break;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      const pfn0 = (from + i) * 8;
      if (b === 0xff && runStart >= 0 && pfn0 + 8 <= pfnLimit) {
        setBits += 8;
        continue;
      }
      if (b === 0 && runStart < 0) continue;
      for (let bit = 0; bit < 8; bit++) {
        const pfn = pfn0 + bit;
        if (pfn >= pfnLimit) break;
        if ((b >> bit) & 1) {
          setBits++;
          if (runStart < 0) runStart = pfn;
        } else if (runStart >= 0) close(pfn);
      }
    }
    if (bytes.length < Math.min(SCAN_WINDOW, limitBytes - from)) break;
  }
  if (runStart >= 0) close(Math.min(pfnLimit, limitBytes * 8));
  return { ranges, setBits, coarse };
}

// ---------------------------------------------------------------------------------------------
// Physical memory

interface Unavailable {
  reason: UnavailableReason;
  detail: string;
}

/** A page descriptor as stored (`struct page_desc`), with where it was found. */
export interface PageDescriptor {
  /** File offset of the descriptor itself. */
  descOffset: number;
  /** The page's rank among the dumped pages (its index in the descriptor table). */
  rank: number;
  /** File offset of the page data (0: never written). */
  offset: bigint;
  size: number;
  flags: number;
  pageFlags: bigint;
}

interface MemoryParams {
  source: ByteSource;
  blockSize: number;
  littleEndian: boolean;
  pfnLimit: number;
  bitmap1: Bitmap | undefined;
  bitmap2: Bitmap;
  rankIndex: RankIndex;
  descBase: number;
  incomplete: boolean;
  split: { start: number; end: number } | undefined;
}

/** Pages resolved per step of a read: bounds the descriptors and page data a step reads at once. */
const BATCH_PAGES = 256;
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
/** Adjacent page data is read in one piece up to this size. */
const MAX_DATA_RUN = 4 * 1024 * 1024;

export class KdumpPhysicalMemory implements PhysicalMemory {
  readonly pageSize: number;
  /** Decoded pages only: unavailable pages cost two cached bitmap lookups to tell again. */
  private readonly cache: LruCache<number, Uint8Array>;
  private splitRankBase: number | undefined;
  private readonly bsBig: bigint;
  private readonly limitBig: bigint;
  private rangeList: readonly PhysicalRange[] = [];

  constructor(private readonly p: MemoryParams) {
    this.pageSize = p.blockSize;
    this.bsBig = BigInt(p.blockSize);
    this.limitBig = BigInt(p.pfnLimit);
    this.cache = new LruCache(
      Math.max(64, Math.min(PAGE_CACHE_MAX, Math.floor(PAGE_CACHE_BYTES / p.blockSize))),
    );
  }

  ranges(): readonly PhysicalRange[] {
    return this.rangeList;
  }

  setRanges(ranges: readonly PhysicalRange[]): void {
    this.rangeList = ranges;
  }

  async read(paddr: bigint, length: number): Promise<ReadResult> {
    if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`bad read length ${length}`);
    const bytes = new Uint8Array(length);
    const gaps = new GapList();
    const bs = this.p.blockSize;
    let done = 0;
    if (paddr < 0n) {
      const n = Number(-paddr < BigInt(length) ? -paddr : BigInt(length));
      gaps.add(0, n, 'not-in-dump', 'a negative physical address');
      done = n;
    }
    // Number arithmetic where the address allows it (BigInt operations allocate).
    const small = paddr + BigInt(length) <= MAX_SAFE_BIG;
    const start = small ? Number(paddr) : 0;
    while (done < length) {
      let first: number;
      let inPage: number;
      if (small) {
        first = Math.floor((start + done) / bs);
        inPage = start + done - first * bs;
      } else {
        const cur = paddr + BigInt(done);
        const pfnBig = cur / this.bsBig;
        first = pfnBig >= this.limitBig ? this.p.pfnLimit : Number(pfnBig);
        inPage = Number(cur - pfnBig * this.bsBig);
      }
      if (first >= this.p.pfnLimit) {
        gaps.add(done, length - done, 'not-in-dump', 'beyond the last page of the dump (max_mapnr)');
        break;
      }
      const count = Math.min(BATCH_PAGES, Math.ceil((inPage + length - done) / bs), this.p.pfnLimit - first);
      const outcomes = await this.pages(first, count);
      for (let i = 0; i < count; i++) {
        const from = i === 0 ? inPage : 0;
        const n = Math.min(length - done, bs - from);
        const o = outcomes[i]!;
        if (o instanceof Uint8Array) bytes.set(o.subarray(from, from + n), done);
        else gaps.add(done, n, o.reason, o.detail);
        done += n;
      }
    }
    return gaps.result(bytes);
  }

  /** Pages [first, first+count): each one's bytes, or why they are not available. */
  async pages(first: number, count: number): Promise<(Uint8Array | Unavailable)[]> {
    if (!Number.isSafeInteger(first) || first < 0 || !Number.isSafeInteger(count) || count < 0) {
      throw new RangeError(`bad page range ${first}+${count}`);
    }
    if (first + count > this.p.pfnLimit) {
      // Pages beyond the dump's last page, then the ones below it.
      const inside = Math.max(0, this.p.pfnLimit - first);
      const beyond: Unavailable = {
        reason: 'not-in-dump',
        detail: 'beyond the last page of the dump (max_mapnr)',
      };
      const head = inside > 0 ? await this.pages(first, inside) : [];
      return [...head, ...new Array<Unavailable>(count - inside).fill(beyond)];
    }
    const out: (Uint8Array | Unavailable | undefined)[] = new Array(count);
    let missing = false;
    for (let i = 0; i < count; i++) {
      out[i] = this.cache.get(first + i);
      if (!out[i]) missing = true;
    }
    if (!missing) return out as Uint8Array[];
    const located = await this.locate(first, count);
    // Read the data of pages stored back to back in one piece, then decode page by page.
    let i = 0;
    while (i < count) {
      const d = located[i]!;
      if (out[i] || 'reason' in d) {
        if (!out[i]) out[i] = d as Unavailable;
        i++;
        continue;
      }
      const bad = this.checkDescriptor(d);
      if (bad) {
        out[i] = bad;
        i++;
        continue;
      }
      const runStart = Number(d.offset);
      let runEnd = runStart + d.size;
      let j = i + 1;
      while (j < count) {
        const e = located[j]!;
        if (out[j] || 'reason' in e || this.checkDescriptor(e) || Number(e.offset) !== runEnd) break;
        if (runEnd + e.size - runStart > MAX_DATA_RUN) break;
        runEnd += e.size;
        j++;
      }
      // Page data is decoded once and cached as pages: no block cache under it (a 64 KiB block per
      // random page would read and keep 40 times the bytes the page needs).
      const data = await this.p.source.read(runStart, runEnd - runStart, { uncached: true });
      for (let k = i; k < j; k++) {
        const e = located[k] as PageDescriptor;
        const at = Number(e.offset) - runStart;
        const outcome = this.decode(e, data.subarray(at, Math.min(data.length, at + e.size)));
        if (outcome instanceof Uint8Array) this.cache.set(first + k, outcome);
        out[k] = outcome;
      }
      i = j;
    }
    return out as (Uint8Array | Unavailable)[];
  }

  /** One page: its bytes, or why they are not available. */
  async page(pfn: number): Promise<Uint8Array | Unavailable> {
    return (await this.pages(pfn, 1))[0]!;
  }

  /**
   * Where page `pfn` is stored: its page descriptor (and the descriptor's file offset), or why the
   * page is not available before any descriptor is read.
   */
  async pageDescriptor(pfn: number): Promise<PageDescriptor | Unavailable> {
    if (!Number.isSafeInteger(pfn) || pfn < 0 || pfn >= this.p.pfnLimit) {
      return { reason: 'not-in-dump', detail: 'beyond the last page of the dump (max_mapnr)' };
    }
    return (await this.locate(pfn, 1))[0]!;
  }

  /** Bitmaps, ranks and descriptors of pages [first, first+count) (all below the page limit). */
  private async locate(first: number, count: number): Promise<(PageDescriptor | Unavailable)[]> {
    const p = this.p;
    const out: (PageDescriptor | Unavailable)[] = new Array(count);
    const last = first + count - 1;
    // The bitmap chunks this range needs (one or two), loaded once; chunks[k - firstChunk].
    const firstChunk = Math.floor(first / CHUNK_BITS);
    const lastChunk = Math.floor(last / CHUNK_BITS);
    // Without an await when every chunk is cached (the common case).
    const b1 = p.bitmap1;
    const chunks1 = b1
      ? (b1.cachedRange(firstChunk, lastChunk) ?? (await b1.range(firstChunk, lastChunk)))
      : [];
    const chunks2 =
      p.bitmap2.cachedRange(firstChunk, lastChunk) ?? (await p.bitmap2.range(firstChunk, lastChunk));
    const bit = (chunks: Uint8Array[], pfn: number): number | undefined => {
      const k = Math.floor(pfn / CHUNK_BITS);
      const byte = chunks[k - firstChunk]![(pfn - k * CHUNK_BITS) >> 3];
      return byte === undefined ? undefined : (byte >> (pfn & 7)) & 1;
    };
    let firstDumped = -1;
    let lastDumped = -1;
    const dumpedBits: number[] = new Array(count).fill(0);
    for (let i = 0; i < count; i++) {
      const pfn = first + i;
      const b2 = bit(chunks2, pfn);
      if (b2 === 1) dumpedBits[i] = 1;
      if (p.split && (pfn < p.split.start || pfn >= p.split.end)) {
        out[i] = { reason: 'not-in-dump', detail: 'in another file of this split dump' };
        continue;
      }
      if (p.bitmap1) {
        const ram = bit(chunks1, pfn);
        if (ram === undefined) {
          out[i] = { reason: 'truncated', detail: 'the file ends inside the first bitmap' };
          continue;
        }
        if (ram === 0) {
          out[i] = { reason: 'not-in-dump', detail: 'not RAM (a hole in the first bitmap)' };
          continue;
        }
      }
      if (b2 === undefined) {
        out[i] = {
          reason: 'truncated',
          detail: `the file ends inside the ${p.bitmap1 ? 'second ' : ''}bitmap`,
        };
      } else if (b2 === 0) {
        out[i] = p.bitmap1
          ? { reason: 'excluded', detail: 'filtered out when the dump was written (makedumpfile -d)' }
          : {
              reason: 'not-in-dump',
              detail: 'not in the dump bitmap (a hole or a filtered page: this format does not say which)',
            };
      } else {
        if (firstDumped < 0) firstDumped = i;
        lastDumped = i;
      }
    }
    if (firstDumped < 0) return out;
    // Ranks: one lookup for the first dumped page, then counting (every set 2nd-bitmap bit counts,
    // even one whose 1st-bitmap bit is clear).
    let rank = p.rankIndex.rankIfCached(first + firstDumped) ?? (await p.rankIndex.rank(first + firstDumped));
    if (p.split) {
      this.splitRankBase ??= await p.rankIndex.rank(p.split.start);
      rank -= this.splitRankBase;
    }
    const firstRank = rank;
    const ranks: number[] = new Array(count).fill(-1);
    for (let i = firstDumped; i <= lastDumped; i++) {
      if (dumpedBits[i]) ranks[i] = rank++;
    }
    const descStart = p.descBase + firstRank * PAGE_DESC_SIZE;
    const table = await p.source.read(descStart, (rank - firstRank) * PAGE_DESC_SIZE);
    const v = new ByteView(table, p.littleEndian);
    for (let i = firstDumped; i <= lastDumped; i++) {
      if (out[i] || ranks[i]! < 0) continue;
      const at = (ranks[i]! - firstRank) * PAGE_DESC_SIZE;
      const descOffset = descStart + at;
      if (at + PAGE_DESC_SIZE > table.length) {
        out[i] = {
          reason: 'truncated',
          detail: `the file ends inside the page descriptor table (descriptor at ${descOffset})`,
        };
        continue;
      }
      out[i] = {
        descOffset,
        rank: ranks[i]!,
        offset: v.s64(at),
        size: v.u32(at + 8),
        flags: v.u32(at + 12),
        pageFlags: v.u64(at + 16),
      };
    }
    return out;
  }

  /** Why a descriptor cannot be used, or undefined when it can. */
  private checkDescriptor(d: PageDescriptor): Unavailable | undefined {
    const { descOffset, offset, size, flags } = d;
    if (offset === 0n) {
      return this.p.incomplete
        ? { reason: 'lost', detail: 'never written: the dump is incomplete (page descriptor offset 0)' }
        : {
            reason: 'corrupt',
            detail: `page descriptor at ${descOffset} has offset 0 though the dump is not marked incomplete`,
          };
    }
    if (offset < 0n || offset > MAX_SAFE_BIG) {
      return {
        reason: 'corrupt',
        detail: `page descriptor at ${descOffset} has an impossible offset ${offset}`,
      };
    }
    const kind = pageCompression(flags);
    if (typeof kind === 'object')
      return { reason: 'corrupt', detail: `page descriptor at ${descOffset}: ${kind.invalid}` };
    const bs = this.p.blockSize;
    if (kind === 'none' ? size !== bs : size === 0 || size > 2 * bs) {
      return {
        reason: 'corrupt',
        detail: `page descriptor at ${descOffset} gives a ${kind === 'none' ? 'raw' : kind} page of ${size} bytes for ${bs}-byte pages`,
      };
    }
    return undefined;
  }

  /** Decode one page from its stored bytes (`data` is short when the file ends first). */
  private decode(d: PageDescriptor, data: Uint8Array): Uint8Array | Unavailable {
    const at = Number(d.offset);
    if (data.length < d.size) {
      return {
        reason: 'truncated',
        detail: `the page data at ${at} needs ${d.size} bytes but the file ends after ${data.length}`,
      };
    }
    const kind = pageCompression(d.flags) as PageCompression | 'none';
    if (kind === 'none') return data.slice();
    try {
      return decompressPage(kind, data, this.p.blockSize);
    } catch (err) {
      if (err instanceof PageDecodeError) {
        return { reason: 'corrupt', detail: `the page at ${at} cannot be decoded: ${err.message}` };
      }
      throw err;
    }
  }

  /** The page descriptor of the page of rank `rank` (for open-time checks), or undefined past the end. */
  async descriptor(rank: number): Promise<{ offset: number; size: number; flags: number } | undefined> {
    const d = await this.p.source.read(this.p.descBase + rank * PAGE_DESC_SIZE, PAGE_DESC_SIZE);
    if (d.length < PAGE_DESC_SIZE) return undefined;
    const v = new ByteView(d, this.p.littleEndian);
    const off = v.s64(0);
    return {
      offset: off < 0n || off > BigInt(Number.MAX_SAFE_INTEGER) ? Number.NaN : Number(off),
      size: v.u32(8),
      flags: v.u32(12),
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Opening

function hexPaddr(pfn: number, blockSize: number): string {
  return '0x' + (BigInt(pfn) * BigInt(blockSize)).toString(16);
}

/** Read the main header in the byte order and word size that make sense. */
function readMainHeader(
  head: Uint8Array,
  name: string,
): { header: KdumpMainHeader; arch: ArchInfo | undefined } {
  const sig = Buffer.from(head.subarray(0, 8)).toString('latin1');
  const signature = sig === KDUMP_SIGNATURE ? 'KDUMP' : sig === DISKDUMP_SIGNATURE ? 'DISKDUMP' : undefined;
  if (!signature) throw new DumpError('not-a-dump', `${name} does not start with "KDUMP   " or "DISKDUMP"`);
  const view = new ByteView(head, true);
  let arch = archByUname(view.cstring(MACHINE_OFFSET, UTSNAME_FIELD));
  // makedumpfile < 1.6.9 on kernels ≥ 5.11 wrote utsname shifted by 4 bytes.
  arch ??= archByUname(view.cstring(MACHINE_OFFSET - 4, UTSNAME_FIELD));
  const layouts = arch?.wordSize === 4 ? [MAIN_32, MAIN_64] : [MAIN_64, MAIN_32];
  const reasons: string[] = [];
  for (const layout of layouts) {
    if (head.length < layout.size) continue;
    for (const le of [true, false]) {
      const h = parseMainHeader(head, signature, le, layout);
      const why = implausible(h);
      if (!why) return { header: h, arch };
      reasons.push(`${layout.name} ${le ? 'little' : 'big'}-endian: ${why}`);
    }
  }
  if (head.length < MAIN_32.size) {
    throw new DumpError(
      'truncated',
      `${name}: the file ends inside the kdump main header (${head.length} bytes; at least ${MAIN_32.size} needed)`,
    );
  }
  // Report the reading whose version looked right, else the first.
  const best = reasons.find((r) => !r.includes('header_version')) ?? reasons[0]!;
  throw corrupt(`${name}: the kdump main header makes no sense in any byte order or word size (${best})`);
}

function readSubHeader(bytes: Uint8Array, le: boolean, l: SubLayout, version: number): KdumpSubHeader {
  const v = new ByteView(bytes, le);
  const has = (off: number, size: number) => off + size <= bytes.length;
  const word = (off: number): bigint | undefined =>
    has(off, l.wordSize) ? (l.wordSize === 8 ? v.u64(off) : BigInt(v.u32(off))) : undefined;
  const s64 = (off: number): bigint | undefined => (has(off, 8) ? v.s64(off) : undefined);
  const u64 = (off: number): bigint | undefined => (has(off, 8) ? v.u64(off) : undefined);
  const s32 = (off: number): number | undefined => (has(off, 4) ? v.s32(off) : undefined);
  const sub: KdumpSubHeader = { layout: l };
  sub.physBase = word(l.physBase);
  sub.dumpLevel = s32(l.dumpLevel);
  if (version >= 2) {
    sub.split = s32(l.split);
    sub.startPfn = word(l.startPfn);
    sub.endPfn = word(l.endPfn);
  }
  if (version >= 3) {
    sub.offsetVmcoreinfo = s64(l.offsetVmcoreinfo);
    sub.sizeVmcoreinfo = word(l.sizeVmcoreinfo);
  }
  if (version >= 4) {
    sub.offsetNote = s64(l.offsetNote);
    sub.sizeNote = word(l.sizeNote);
  }
  if (version >= 5) {
    sub.offsetEraseinfo = s64(l.offsetEraseinfo);
    sub.sizeEraseinfo = word(l.sizeEraseinfo);
  }
  if (version >= 6) {
    sub.startPfn64 = u64(l.startPfn64);
    sub.endPfn64 = u64(l.endPfn64);
    sub.maxMapnr64 = u64(l.maxMapnr64);
  }
  return sub;
}

/** Does this sub-header reading point its notes/VMCOREINFO inside the sub-header blocks? */
function subHeaderPlausible(sub: KdumpSubHeader, h: KdumpMainHeader): boolean {
  const start = BigInt(h.blockSize);
  const end = BigInt((1 + h.subHdrSize) * h.blockSize);
  const inside = (off: bigint | undefined, size: bigint | undefined) =>
    off === undefined ||
    size === undefined ||
    (off === 0n && size === 0n) ||
    (off >= start && off + size <= end);
  if (sub.offsetNote !== undefined && sub.offsetNote === start + BigInt(sub.layout.size)) return true;
  return inside(sub.offsetNote, sub.sizeNote) && inside(sub.offsetVmcoreinfo, sub.sizeVmcoreinfo);
}

function toNumber(v: bigint | undefined): number | undefined {
  return v === undefined || v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(v);
}

/** Pick an architecture from the notes when utsname.machine does not name one. */
function archFromNotes(notes: readonly Note[], wordSize: 4 | 8, le: boolean): ArchInfo | undefined {
  const pr = notes.find((n) => n.name === 'CORE' && n.type === 1);
  if (!pr) return undefined;
  const bigEndianArches = new Set(['s390x', 'ppc64']);
  const candidates = ARCHES.filter((a) => a.wordSize === wordSize && a.prstatus.size === pr.desc.length);
  return candidates.find((a) => bigEndianArches.has(a.name) === !le) ?? candidates[0];
}

export interface KdumpOpenOptions {
  /**
   * Count the 2nd bitmap and list RAM at open when a bitmap is at most this many bytes (default
   * 64 MiB, 2 TiB of 4 KiB pages); bigger bitmaps are counted lazily, as far as reads need.
   */
  eagerBitmapBytes?: number;
}

/** makedumpfile's compressed format (`KDUMP   `) and legacy `DISKDUMP`. */
export async function openKdumpCompressed(
  source: ByteSource,
  container: 'plain' | 'flattened' = 'plain',
  options: KdumpOpenOptions = {},
): Promise<Dump> {
  const name = source.name;
  const head = await source.read(0, 512);
  const { header: h, arch: unameArch } = readMainHeader(head, name);
  const le = h.littleEndian;
  const bs = h.blockSize;
  const problems: DumpProblem[] = [];
  const fileSize = source.size;

  if (h.version > KNOWN_HEADER_VERSION) {
    problems.push({
      kind: 'other',
      message: `header_version ${h.version} is newer than this reader knows (${KNOWN_HEADER_VERSION}); read as version ${KNOWN_HEADER_VERSION}`,
    });
  }
  if (unameArch && unameArch.wordSize !== h.layout.wordSize) {
    problems.push({
      kind: 'other',
      message: `utsname.machine says ${h.utsname.machine} but the header only makes sense as ${h.layout.name}`,
    });
  }

  // --- sub-header (KDUMP only: DISKDUMP's is opaque)
  let sub: KdumpSubHeader | undefined;
  const version = Math.min(h.version, KNOWN_HEADER_VERSION);
  if (h.signature === 'KDUMP') {
    const candidates =
      h.layout.wordSize === 8
        ? [SUB_64]
        : unameArch?.name === 'arm'
          ? [SUB_32_PADDED, SUB_32_PACKED]
          : [SUB_32_PACKED, SUB_32_PADDED];
    const bytes = await source.read(bs, Math.max(...candidates.map((l) => subHeaderBytes(l, version))));
    const readings = candidates.map((l) => readSubHeader(bytes, le, l, version));
    sub = readings.find((s) => subHeaderPlausible(s, h)) ?? readings[0]!;
    const want = subHeaderBytes(sub.layout, version);
    if (bytes.length < want) {
      problems.push({
        kind: 'truncated',
        message: `the file ends inside the kdump sub-header at offset ${bs} (${bytes.length} of ${want} bytes): ${
          bytes.length === 0
            ? 'registers, VMCOREINFO and the dump level are missing'
            : 'some of its fields are missing'
        }`,
      });
    }
  }

  // --- notes: registers and VMCOREINFO
  const notes: Note[] = [];
  if (sub) {
    const off = toNumber(sub.offsetNote);
    const size = toNumber(sub.sizeNote);
    if (version >= 4 && sub.offsetNote !== undefined && sub.sizeNote !== undefined && sub.sizeNote > 0n) {
      if (off === undefined || size === undefined || size > MAX_NOTE_BYTES) {
        problems.push({
          kind: 'notes',
          message: `the sub-header puts ${sub.sizeNote} bytes of notes at offset ${sub.offsetNote}; ignored as implausible`,
        });
      } else {
        const bytes = await source.read(off, size);
        if (bytes.length < size) {
          problems.push({
            kind: 'truncated',
            message: `the notes at offset ${off} need ${size} bytes but the file ends after ${bytes.length}: CPU registers or VMCOREINFO may be missing`,
          });
        }
        const parsed = parseNotes(bytes, le, off, 4);
        notes.push(...parsed.notes);
        if (parsed.error) problems.push({ kind: 'notes', message: parsed.error });
      }
    }
    const hasVmcoreinfo = notes.some((n) => n.name === 'VMCOREINFO' && n.type === 0);
    if (!hasVmcoreinfo && version >= 3 && sub.sizeVmcoreinfo !== undefined && sub.sizeVmcoreinfo > 0n) {
      const vOff = toNumber(sub.offsetVmcoreinfo);
      const vSize = toNumber(sub.sizeVmcoreinfo);
      if (vOff === undefined || vSize === undefined || vSize > MAX_VMCOREINFO_BYTES) {
        problems.push({
          kind: 'notes',
          message: `the sub-header puts ${sub.sizeVmcoreinfo} bytes of VMCOREINFO at offset ${sub.offsetVmcoreinfo}; ignored as implausible`,
        });
      } else {
        const desc = await source.read(vOff, vSize);
        if (desc.length < vSize) {
          problems.push({
            kind: 'truncated',
            message: `VMCOREINFO at offset ${vOff} needs ${vSize} bytes but the file ends after ${desc.length}`,
          });
        }
        if (desc.length > 0) notes.push({ name: 'VMCOREINFO', type: 0, desc, fileOffset: vOff });
      }
    }
  }

  const arch = unameArch ?? archFromNotes(notes, h.layout.wordSize, le);
  if (!arch) {
    throw new DumpError(
      'unsupported',
      `${name}: utsname.machine is "${h.utsname.machine}", not an architecture this reader knows, and no NT_PRSTATUS note tells`,
      MACHINE_OFFSET,
    );
  }
  if (!unameArch) {
    problems.push({
      kind: 'other',
      message: `utsname.machine ("${h.utsname.machine}") names no known architecture; ${arch.name} was inferred from the NT_PRSTATUS notes`,
    });
  }
  const contents = interpretNotes(notes, arch, le);
  problems.push(...contents.problems);

  // --- bitmaps
  let maxMapnr: number = h.maxMapnr;
  if (sub?.maxMapnr64 !== undefined && sub.maxMapnr64 > 0n) {
    maxMapnr = sub.maxMapnr64 > BigInt(MAX_PFNS) ? MAX_PFNS : Number(sub.maxMapnr64);
  }
  const bitmapOffset = (1 + h.subHdrSize) * bs;
  const perBitmapBlocks = Math.ceil(Math.ceil(maxMapnr / 8) / bs);
  const twoBitmaps =
    h.signature === 'KDUMP' ? h.bitmapBlocks >= 2 : h.bitmapBlocks >= 2 * Math.max(1, perBitmapBlocks);
  const bitmapLength = twoBitmaps ? Math.floor(h.bitmapBlocks / 2) * bs : h.bitmapBlocks * bs;
  const covered = Math.min(MAX_PFNS, bitmapLength * 8);
  if (h.signature === 'KDUMP' && h.bitmapBlocks < 2) {
    problems.push({
      kind: 'corrupt',
      message: `bitmap_blocks is ${h.bitmapBlocks}: a kdump file has two bitmaps; read as one`,
    });
  }
  if (maxMapnr > covered) {
    problems.push({
      kind: 'corrupt',
      message: `max_mapnr is ${maxMapnr} pages but the bitmaps cover only ${covered}: pages beyond read as not in the dump`,
    });
  }
  const pfnLimit = Math.min(maxMapnr, covered);
  const neededBytes = Math.ceil(pfnLimit / 8);
  const bitmap1 = twoBitmaps ? new Bitmap(source, bitmapOffset, neededBytes) : undefined;
  const bitmap2 = new Bitmap(source, bitmapOffset + (twoBitmaps ? bitmapLength : 0), neededBytes);
  const descBase = (1 + h.subHdrSize + h.bitmapBlocks) * bs;
  const rankIndex = new RankIndex(bitmap2);

  // Split dumps: this file holds only [start, end) of the pages.
  let split: { start: number; end: number } | undefined;
  if (sub?.split) {
    const start = toNumber(version >= 6 ? sub.startPfn64 : sub.startPfn) ?? 0;
    const end = toNumber(version >= 6 ? sub.endPfn64 : sub.endPfn) ?? pfnLimit;
    split = { start, end: Math.min(end, pfnLimit) };
    problems.push({
      kind: 'other',
      message: `this file is one part of a split dump (makedumpfile --split): it holds pages ${start}..${end}; the others read as not in the dump`,
    });
  }

  const incomplete = (h.status & DUMP_DH_COMPRESSED_INCOMPLETE) !== 0;
  if (incomplete) {
    problems.push({
      kind: 'incomplete',
      message:
        'makedumpfile marked this dump incomplete (header status bit 0x8): it ran out of space while writing; pages it never wrote read as "lost"',
    });
  }

  // --- truncation of the bitmaps and of the page descriptor table (as far as the bitmaps tell)
  const bitmapsComplete =
    (!bitmap1 || bitmap1.present >= bitmap1.length) && bitmap2.present >= bitmap2.length;
  const truncatedBitmap = (b: Bitmap | undefined, which: string): boolean => {
    if (!b || b.present >= b.length) return false;
    const firstPfn = b.present * 8;
    problems.push({
      kind: 'truncated',
      message:
        b.present === 0
          ? `the file (${fileSize} bytes) ends before the ${which} (at offset ${b.offset}): no page can be read; pages of RAM read as "truncated"`
          : `the file (${fileSize} bytes) ends inside the ${which} at offset ${b.offset + b.present}: it covers pages below ${firstPfn} (physical ${hexPaddr(firstPfn, bs)}); pages from there on read as "truncated"`,
    });
    return b.present === 0;
  };
  const nothingReadable =
    truncatedBitmap(bitmap1, 'first bitmap') ||
    ((!bitmap1 || bitmap1.present >= bitmap1.length) &&
      truncatedBitmap(bitmap2, twoBitmaps ? 'second bitmap' : 'bitmap'));
  if (!bitmapsComplete && !nothingReadable && descBase >= fileSize) {
    problems.push({
      kind: 'truncated',
      message: `the file (${fileSize} bytes) ends before the page descriptor table (at offset ${descBase}): none of the dumped pages can be read`,
    });
  }

  // --- the rank index, RAM ranges and the descriptor table
  const eager = neededBytes <= (options.eagerBitmapBytes ?? EAGER_BITMAP_BYTES);
  let ranges: PhysicalRange[];
  const details: Record<string, string | number | boolean> = {};
  const memory = new KdumpPhysicalMemory({
    source,
    blockSize: bs,
    littleEndian: le,
    pfnLimit,
    bitmap1,
    bitmap2,
    rankIndex,
    descBase,
    incomplete,
    split,
  });
  if (eager) {
    await rankIndex.ensure(rankIndex.totalChunks);
    const scanned = await scanRanges(bitmap1 ?? bitmap2, pfnLimit, bs);
    ranges = scanned.ranges;
    const dumped = rankIndex.total ?? 0;
    details.ramPages = scanned.setBits;
    details.dumpedPages = dumped;
    if (scanned.coarse) details.rangesCoarse = true;
    if (bitmap1 && scanned.setBits > dumped) {
      problems.push({
        kind: 'excluded-pages',
        message: `${scanned.setBits - dumped} of ${scanned.setBits} pages of RAM (${formatBytes((scanned.setBits - dumped) * bs)}) were filtered out when the dump was written${
          sub?.dumpLevel !== undefined ? ` (dump level ${sub.dumpLevel})` : ''
        }; reads there report "excluded"`,
      });
    }
    if (bitmapsComplete) {
      await checkDescriptorsAndData(memory, rankIndex, dumped, descBase, fileSize, bs, problems, split);
    }
  } else {
    // Huge bitmaps: counted lazily as reads need them; RAM ranges only roughly known up front.
    ranges = [{ start: 0n, end: BigInt(pfnLimit) * BigInt(bs) }];
    details.rangesCoarse = true;
    details.rankIndex = 'lazy';
  }
  memory.setRanges(ranges);

  // --- which compressions the pages use: the header's status bits and a sample of descriptors
  const used = new Set<string>();
  for (const c of COMPRESSION_BITS) if ((h.status & c.bit) !== 0) used.add(c.name);
  // (Only as many descriptors as pages are known to be dumped: past them lies page data.)
  if (!rankIndex.complete) await rankIndex.ensure(1);
  const sampleCount = split ? 0 : Math.min(DESCRIPTOR_SAMPLE, rankIndex.counted);
  const sample = await source.read(descBase, sampleCount * PAGE_DESC_SIZE);
  const sv = new ByteView(sample, le);
  for (let o = 0; o + PAGE_DESC_SIZE <= sample.length; o += PAGE_DESC_SIZE) {
    const kind = pageCompression(sv.u32(o + 12));
    if (typeof kind === 'string' && kind !== 'none' && sv.s64(o) !== 0n) used.add(kind);
  }
  const compression = used.size > 0 ? [...used] : ['none'];

  const format: DumpFormat = h.signature === 'KDUMP' ? 'kdump' : 'diskdump';
  Object.assign(details, {
    signature: h.signature,
    headerVersion: h.version,
    headerLayout: sub ? sub.layout.name : h.layout.name,
    endianness: le ? 'little' : 'big',
    blockSize: bs,
    subHeaderBlocks: h.subHdrSize,
    bitmapBlocks: h.bitmapBlocks,
    bitmaps: twoBitmaps ? 2 : 1,
    maxMapnr,
    status: h.status,
    nrCpus: h.nrCpus,
    machine: h.utsname.machine,
  });
  if (h.utsname.release) details.release = h.utsname.release;
  if (h.utsname.nodename) details.nodename = h.utsname.nodename;
  if (h.timestampSec !== 0n) details.timestamp = Number(h.timestampSec);
  if (sub?.dumpLevel !== undefined) details.dumpLevel = sub.dumpLevel;
  if ((h.status & DUMP_DH_EXCLUDED_VMEMMAP) !== 0) details.excludedVmemmap = true;
  if (incomplete) details.incomplete = true;
  if (split) details.split = `${split.start}-${split.end}`;
  if (sub?.sizeEraseinfo !== undefined && sub.sizeEraseinfo > 0n)
    details.eraseinfoBytes = Number(sub.sizeEraseinfo);

  const dump: Dump = {
    path: name,
    format,
    container,
    compression,
    details,
    arch,
    littleEndian: le,
    notes,
    vmcoreinfo: contents.vmcoreinfo,
    prstatus: contents.prstatus,
    qemuCpuStates: contents.qemuCpuStates,
    memory,
    virtualSegments: [],
    problems,
    source,
    close: () => source.close(),
  };
  if (sub?.physBase !== undefined) (dump as { headerPhysBase?: bigint }).headerPhysBase = sub.physBase;
  return dump;
}

/**
 * With the number of dumped pages known: does the file hold every page descriptor and the data of
 * the last page? If not, say exactly from which page on things are missing.
 */
async function checkDescriptorsAndData(
  memory: KdumpPhysicalMemory,
  index: RankIndex,
  dumped: number,
  descBase: number,
  fileSize: number,
  bs: number,
  problems: DumpProblem[],
  split: { start: number; end: number } | undefined,
): Promise<void> {
  if (dumped === 0 || split) return;
  const descEnd = descBase + dumped * PAGE_DESC_SIZE;
  if (descEnd > fileSize) {
    const whole = Math.max(0, Math.floor((fileSize - descBase) / PAGE_DESC_SIZE));
    const pfn = await index.select(Math.min(whole, dumped - 1));
    problems.push({
      kind: 'truncated',
      message: `the file (${fileSize} bytes) ends inside the page descriptor table (which ends at ${descEnd}): ${dumped - whole} of ${dumped} dumped pages, from page ${pfn} (physical ${hexPaddr(pfn, bs)}) on, read as "truncated"`,
    });
    return;
  }
  const last = await memory.descriptor(dumped - 1);
  if (!last || !(last.offset + last.size > fileSize)) return;
  // Page data follows the descriptors in page order: find the first page whose data is cut off.
  let lo = 0;
  let hi = dumped - 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const d = await memory.descriptor(mid);
    if (d && d.offset + d.size > fileSize) hi = mid;
    else lo = mid + 1;
  }
  const pfn = await index.select(lo);
  problems.push({
    kind: 'truncated',
    message: `the file (${fileSize} bytes) is cut short: the data of about ${dumped - lo} of ${dumped} dumped pages, from about page ${pfn} (physical ${hexPaddr(pfn, bs)}) on, lies beyond its end (up to ${last.offset + last.size}); those reads report "truncated"`,
  });
}
