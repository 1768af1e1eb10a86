/**
 * Builds small makedumpfile-compressed (`KDUMP`/`DISKDUMP`) files and flattened streams for tests,
 * following the layouts in docs/vmcore-formats.md §4: every header version, the 64-bit and both
 * 32-bit sub-header layouts, either byte order, one or two bitmaps, each page compression, the shared
 * zero page, lost pages of incomplete dumps and hand-made (corrupt) descriptors.
 */
import { deflateSync } from 'node:zlib';
import { compress as snappyCompress } from 'snappyjs';
import { archByUname } from '../../src/arch';

export type Layout = '64' | '32-packed' | '32-padded';
export type PageCompressionName = 'none' | 'zlib' | 'lzo' | 'snappy' | 'zstd';

export type PageSpec =
  /** A dumped page with these contents, stored with this compression. */
  | { kind: 'data'; bytes: Uint8Array; compression?: PageCompressionName }
  /** An all-zero page pointing at the shared zero page. */
  | { kind: 'zero' }
  /** RAM filtered out (bitmap1 = 1, bitmap2 = 0). */
  | { kind: 'excluded' }
  /** Dumped in the bitmap but its descriptor was never written (offset 0). */
  | { kind: 'lost' }
  /** A dumped page with a descriptor given verbatim (`data` is appended and `offset` may refer to it). */
  | { kind: 'descriptor'; offset?: bigint; size: number; flags: number; data?: Uint8Array };

export interface KdumpOptions {
  signature?: 'KDUMP   ' | 'DISKDUMP';
  version?: number;
  layout?: Layout;
  littleEndian?: boolean;
  machine?: string;
  blockSize?: number;
  maxMapnr: number;
  /** pfn → page; pfns not listed are holes (bitmap1 = 0). */
  pages: Map<number, PageSpec>;
  /** One bitmap only (legacy diskdump): excluded pages become "not in the bitmap". */
  singleBitmap?: boolean;
  /** Extra header status bits (compression bits of the pages used are added automatically). */
  status?: number;
  incomplete?: boolean;
  dumpLevel?: number;
  physBase?: bigint;
  nrCpus?: number;
  /** Register values for NT_PRSTATUS notes, one map per CPU (v4+). */
  cpus?: { pid: number; registers: Record<string, bigint> }[];
  vmcoreinfo?: string;
  split?: { start: number; end: number };
  /** Write this many bitmap blocks instead of the right number. */
  bitmapBlocksOverride?: number;
  /** Write max_mapnr (32-bit field) as this value instead. */
  maxMapnr32Override?: number;
}

export interface BuiltKdump {
  bytes: Uint8Array;
  blockSize: number;
  subHdrSize: number;
  bitmapBlocks: number;
  descBase: number;
  subHeaderLayout: { size: number; offsets: Record<string, number> };
  /** pfn → file offset of its page descriptor. */
  descriptorOffsets: Map<number, number>;
  dataStart: number;
}

const SUB_LAYOUTS: Record<Layout, { size: number; word: 4 | 8; o: Record<string, number> }> = {
  '64': {
    size: 104,
    word: 8,
    o: {
      physBase: 0,
      dumpLevel: 8,
      split: 12,
      startPfn: 16,
      endPfn: 24,
      offVmcoreinfo: 32,
      sizeVmcoreinfo: 40,
      offNote: 48,
      sizeNote: 56,
      offErase: 64,
      sizeErase: 72,
      startPfn64: 80,
      endPfn64: 88,
      maxMapnr64: 96,
    },
  },
  '32-packed': {
    size: 80,
    word: 4,
    o: {
      physBase: 0,
      dumpLevel: 4,
      split: 8,
      startPfn: 12,
      endPfn: 16,
      offVmcoreinfo: 20,
      sizeVmcoreinfo: 28,
      offNote: 32,
      sizeNote: 40,
      offErase: 44,
      sizeErase: 52,
      startPfn64: 56,
      endPfn64: 64,
      maxMapnr64: 72,
    },
  },
  '32-padded': {
    size: 96,
    word: 4,
    o: {
      physBase: 0,
      dumpLevel: 4,
      split: 8,
      startPfn: 12,
      endPfn: 16,
      offVmcoreinfo: 24,
      sizeVmcoreinfo: 32,
      offNote: 40,
      sizeNote: 48,
      offErase: 56,
      sizeErase: 64,
      startPfn64: 72,
      endPfn64: 80,
      maxMapnr64: 88,
    },
  },
};

const COMPRESSION_FLAG: Record<PageCompressionName, number> = {
  none: 0,
  zlib: 1,
  lzo: 2,
  snappy: 4,
  zstd: 0x20,
};

class Writer {
  readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly le: boolean,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u32(off: number, v: number): void {
    this.view.setUint32(off, v >>> 0, this.le);
  }
  s32(off: number, v: number): void {
    this.view.setInt32(off, v, this.le);
  }
  u64(off: number, v: bigint): void {
    this.view.setBigUint64(off, BigInt.asUintN(64, v), this.le);
  }
  word(off: number, size: 4 | 8, v: bigint): void {
    if (size === 8) this.u64(off, v);
    else this.u32(off, Number(BigInt.asUintN(32, v)));
  }
  str(off: number, s: string): void {
    for (let i = 0; i < s.length; i++) this.bytes[off + i] = s.charCodeAt(i);
  }
}

/** One ELF note (4-byte aligned), in the given byte order. */
export function elfNote(name: string, type: number, desc: Uint8Array, le: boolean): Uint8Array {
  const pad = (n: number) => (n + 3) & ~3;
  const nameBytes = name.length + 1;
  const out = new Uint8Array(12 + pad(nameBytes) + pad(desc.length));
  const w = new Writer(out, le);
  w.u32(0, nameBytes);
  w.u32(4, desc.length);
  w.u32(8, type);
  w.str(12, name);
  out.set(desc, 12 + pad(nameBytes));
  return out;
}

/** An NT_PRSTATUS descriptor for `machine` with the given pid and registers (others zero). */
export function prstatusDesc(
  machine: string,
  pid: number,
  registers: Record<string, bigint>,
  le: boolean,
): Uint8Array {
  const arch = archByUname(machine);
  if (!arch) throw new Error(`no arch for ${machine}`);
  const desc = new Uint8Array(arch.prstatus.size);
  const w = new Writer(desc, le);
  w.s32(arch.prstatus.pidOffset, pid);
  for (const r of arch.prstatus.registers) {
    const v = registers[r.name];
    if (v !== undefined) w.word(r.offset, r.size, v);
  }
  return desc;
}

/**
 * A zstd frame holding `page` as a sequence of RLE blocks (runs of 8+ equal bytes) and raw blocks:
 * valid zstd that really is smaller for pages with runs, without needing a zstd compressor.
 */
export function zstdFrame(page: Uint8Array): Uint8Array {
  // Frame header: single segment, 2-byte frame content size (stored as size - 256).
  const out: number[] = [0x28, 0xb5, 0x2f, 0xfd, 0x60, (page.length - 256) & 0xff, (page.length - 256) >> 8];
  const blocks: { type: 0 | 1; from: number; to: number }[] = [];
  let i = 0;
  while (i < page.length) {
    let j = i + 1;
    while (j < page.length && page[j] === page[i]) j++;
    if (j - i >= 8) blocks.push({ type: 1, from: i, to: j });
    else {
      const last = blocks[blocks.length - 1];
      if (last && last.type === 0 && last.to === i) last.to = j;
      else blocks.push({ type: 0, from: i, to: j });
    }
    i = j;
  }
  blocks.forEach((blk, k) => {
    const size = blk.to - blk.from;
    const v = (k === blocks.length - 1 ? 1 : 0) | (blk.type << 1) | (size << 3);
    out.push(v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff);
    if (blk.type === 1) out.push(page[blk.from]!);
    else for (let x = blk.from; x < blk.to; x++) out.push(page[x]!);
  });
  return Uint8Array.from(out);
}

/**
 * A small greedy LZO1X compressor (literal runs and M3 matches), enough to make valid streams that
 * exercise the decoder's state machine: first-byte literals, long literal runs, 1-3 trailing
 * literals carried by a match, overlapping copies and the end marker.
 */
export function lzoCompress(src: Uint8Array): Uint8Array {
  const out: number[] = [];
  const longLength = (rem: number) => {
    // rem ≥ 1: zeros of 255 each, then a non-zero remainder.
    while (rem > 255) {
      out.push(0);
      rem -= 255;
    }
    out.push(rem);
  };
  let lastMatchLowByte = -1; // index of the byte holding the last match's "trailing literals" bits
  let first = true;
  const emitLiterals = (from: number, to: number) => {
    const n = to - from;
    if (n === 0) return;
    if (first && n <= 238) {
      out.push(17 + n);
    } else if (!first && n <= 3) {
      out[lastMatchLowByte]! |= n; // carried by the previous match
    } else if (n <= 18) {
      out.push(n - 3);
    } else {
      out.push(0);
      longLength(n - 18);
    }
    for (let i = from; i < to; i++) out.push(src[i]!);
    first = false;
  };
  let lit = 0;
  let i = 0;
  while (i < src.length) {
    let bestLen = 0;
    let bestDist = 0;
    const maxDist = Math.min(i, 1024);
    for (let d = 1; d <= maxDist; d++) {
      let l = 0;
      while (i + l < src.length && src[i + l - d] === src[i + l] && l < 2000) l++;
      if (l > bestLen) {
        bestLen = l;
        bestDist = d;
      }
    }
    if (bestLen >= 4) {
      emitLiterals(lit, i);
      first = false;
      if (bestLen - 2 <= 31) out.push(32 | (bestLen - 2));
      else {
        out.push(32);
        longLength(bestLen - 33);
      }
      const v = (bestDist - 1) << 2;
      lastMatchLowByte = out.length;
      out.push(v & 0xff, (v >> 8) & 0xff);
      i += bestLen;
      lit = i;
    } else i++;
  }
  emitLiterals(lit, src.length);
  out.push(0x11, 0, 0);
  return Uint8Array.from(out);
}

export function compressPage(page: Uint8Array, c: PageCompressionName): Uint8Array {
  switch (c) {
    case 'none':
      return page;
    case 'zlib':
      return new Uint8Array(deflateSync(page, { level: 1 }));
    case 'lzo':
      return lzoCompress(page);
    case 'snappy':
      return snappyCompress(page);
    case 'zstd':
      return zstdFrame(page);
  }
}

/** Build a kdump-compressed file. */
export function buildKdump(o: KdumpOptions): BuiltKdump {
  const signature = o.signature ?? 'KDUMP   ';
  const version = o.version ?? 6;
  const layout = o.layout ?? '64';
  const le = o.littleEndian ?? true;
  const bs = o.blockSize ?? 4096;
  const machine = o.machine ?? (layout === '64' ? 'x86_64' : layout === '32-packed' ? 'i686' : 'armv7l');
  const sub = SUB_LAYOUTS[layout];
  const is64 = layout === '64';
  const kdump = signature === 'KDUMP   ';

  // Notes (v4+) and VMCOREINFO (v3+) sit right after the sub-header.
  const noteParts: Uint8Array[] = [];
  let vmcoreinfoDescOffset = 0; // within the note area
  if (kdump && version >= 4) {
    for (const cpu of o.cpus ?? [])
      noteParts.push(elfNote('CORE', 1, prstatusDesc(machine, cpu.pid, cpu.registers, le), le));
    if (o.vmcoreinfo !== undefined) {
      const before = noteParts.reduce((n, p) => n + p.length, 0);
      vmcoreinfoDescOffset = before + 12 + 12; // header + "VMCOREINFO\0" padded to 12
      noteParts.push(elfNote('VMCOREINFO', 0, new TextEncoder().encode(o.vmcoreinfo), le));
    }
  } else if (kdump && version === 3 && o.vmcoreinfo !== undefined) {
    noteParts.push(new TextEncoder().encode(o.vmcoreinfo));
  }
  const noteBytes = concat(noteParts);
  const subHdrSize = kdump ? Math.ceil((sub.size + noteBytes.length) / bs) : 1;

  const perBitmap = Math.ceil(Math.ceil(o.maxMapnr / 8) / bs);
  const bitmapBlocks = o.bitmapBlocksOverride ?? (o.singleBitmap ? perBitmap : 2 * perBitmap);
  const bitmapOffset = (1 + subHdrSize) * bs;
  const descBase = (1 + subHdrSize + bitmapBlocks) * bs;
  const pfns = [...o.pages.keys()].sort((a, b) => a - b);
  // A split dump's file holds descriptors only for its own pages (its bitmaps still cover them all).
  const inPart = (p: number) => !o.split || (p >= o.split.start && p < o.split.end);
  const dumpedPfns = pfns.filter((p) => o.pages.get(p)!.kind !== 'excluded' && inPart(p));
  const dataStart = descBase + dumpedPfns.length * 24;

  // Page data: the shared zero page first (when used), then each page in pfn order.
  const dataParts: Uint8Array[] = [];
  let dataEnd = dataStart;
  const append = (b: Uint8Array): number => {
    const at = dataEnd;
    dataParts.push(b);
    dataEnd += b.length;
    return at;
  };
  const usesZero = dumpedPfns.some((p) => o.pages.get(p)!.kind === 'zero');
  const zeroOffset = usesZero ? append(new Uint8Array(bs)) : 0;
  let statusBits = o.status ?? 0;
  const descs: { offset: bigint; size: number; flags: number }[] = [];
  for (const pfn of dumpedPfns) {
    const spec = o.pages.get(pfn)!;
    if (spec.kind === 'zero') descs.push({ offset: BigInt(zeroOffset), size: bs, flags: 0 });
    else if (spec.kind === 'lost') descs.push({ offset: 0n, size: 0, flags: 0 });
    else if (spec.kind === 'descriptor') {
      const at = spec.data ? append(spec.data) : 0;
      descs.push({ offset: spec.offset ?? BigInt(at), size: spec.size, flags: spec.flags });
    } else if (spec.kind === 'data') {
      const c = spec.compression ?? 'none';
      if (spec.bytes.length !== bs) throw new Error('page data must be one block');
      const stored = compressPage(spec.bytes, c);
      // Like makedumpfile: keep the raw page when compression does not shrink it.
      const useRaw = c === 'none' || stored.length >= bs;
      const at = append(useRaw ? spec.bytes : stored);
      if (!useRaw) statusBits |= COMPRESSION_FLAG[c];
      descs.push({
        offset: BigInt(at),
        size: useRaw ? bs : stored.length,
        flags: useRaw ? 0 : COMPRESSION_FLAG[c],
      });
    }
  }
  if (o.incomplete) statusBits |= 0x8;

  const out = new Uint8Array(dataEnd);
  const w = new Writer(out, le);
  // Main header.
  w.str(0, signature);
  w.s32(8, version);
  const uts = ['Linux', 'testhost', '6.1.0-test', '#1 SMP', machine, '(none)'];
  uts.forEach((s, i) => {
    w.str(12 + i * 65, s);
  });
  const m = is64
    ? { ts: 408, status: 424, bs: 428, sub: 432, bb: 436, mm: 440, cpu: 456, nr: 460 }
    : { ts: 404, status: 412, bs: 416, sub: 420, bb: 424, mm: 428, cpu: 444, nr: 448 };
  w.word(m.ts, is64 ? 8 : 4, 1_700_000_000n);
  w.u32(m.status, statusBits);
  w.s32(m.bs, bs);
  w.s32(m.sub, subHdrSize);
  w.u32(m.bb, bitmapBlocks);
  w.u32(m.mm, o.maxMapnr32Override ?? Math.min(o.maxMapnr, 0xffffffff));
  w.s32(m.nr, o.nrCpus ?? (o.cpus?.length || 1));

  // Sub-header.
  if (kdump) {
    const s = bs;
    const so = sub.o;
    const word = sub.word;
    w.word(s + so.physBase!, word, o.physBase ?? 0n);
    w.s32(s + so.dumpLevel!, o.dumpLevel ?? 31);
    const notesAt = bs + sub.size;
    if (version >= 2) {
      w.s32(s + so.split!, o.split ? 1 : 0);
      w.word(s + so.startPfn!, word, BigInt(o.split?.start ?? 0));
      w.word(s + so.endPfn!, word, BigInt(o.split?.end ?? 0));
    }
    if (version >= 3 && o.vmcoreinfo !== undefined) {
      const len = new TextEncoder().encode(o.vmcoreinfo).length;
      w.u64(s + so.offVmcoreinfo!, BigInt(notesAt + (version >= 4 ? vmcoreinfoDescOffset : 0)));
      w.word(s + so.sizeVmcoreinfo!, word, BigInt(len));
    }
    if (version >= 4 && noteBytes.length > 0) {
      w.u64(s + so.offNote!, BigInt(notesAt));
      w.word(s + so.sizeNote!, word, BigInt(noteBytes.length));
    }
    if (version >= 6) {
      w.u64(s + so.startPfn64!, BigInt(o.split?.start ?? 0));
      w.u64(s + so.endPfn64!, BigInt(o.split?.end ?? 0));
      w.u64(s + so.maxMapnr64!, BigInt(o.maxMapnr));
    }
    out.set(noteBytes, notesAt);
  }

  // Bitmaps.
  const setBit = (base: number, pfn: number) => {
    out[base + (pfn >> 3)]! |= 1 << (pfn & 7);
  };
  const bitmap2Offset = o.singleBitmap ? bitmapOffset : bitmapOffset + (bitmapBlocks >> 1) * bs;
  for (const pfn of pfns) {
    const kind = o.pages.get(pfn)!.kind;
    if (!o.singleBitmap) setBit(bitmapOffset, pfn);
    if (kind !== 'excluded') setBit(bitmap2Offset, pfn);
  }

  // Descriptors and data.
  const descriptorOffsets = new Map<number, number>();
  descs.forEach((d, i) => {
    const at = descBase + i * 24;
    descriptorOffsets.set(dumpedPfns[i]!, at);
    w.u64(at, d.offset);
    w.u32(at + 8, d.size);
    w.u32(at + 12, d.flags);
  });
  let at = dataStart;
  for (const part of dataParts) {
    out.set(part, at);
    at += part.length;
  }
  return {
    bytes: out,
    blockSize: bs,
    subHdrSize,
    bitmapBlocks,
    descBase,
    subHeaderLayout: { size: sub.size, offsets: sub.o },
    descriptorOffsets,
    dataStart,
  };
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface FlatRecord {
  offset: number;
  /** The bytes the record carries (defaults to image[offset, offset+length)). */
  data: Uint8Array;
}

/** Split an image into records of at most `chunk` bytes, in image order. */
export function recordsOf(image: Uint8Array, chunk: number): FlatRecord[] {
  const out: FlatRecord[] = [];
  for (let o = 0; o < image.length; o += chunk) {
    out.push({ offset: o, data: image.subarray(o, Math.min(image.length, o + chunk)) });
  }
  return out;
}

/** A makedumpfile flattened stream of these records (big-endian headers), with or without end marker. */
export function buildFlattened(
  records: readonly FlatRecord[],
  opts: { endMarker?: boolean } = {},
): Uint8Array {
  const header = new Uint8Array(4096);
  const hv = new DataView(header.buffer);
  header.set(new TextEncoder().encode('makedumpfile'), 0);
  hv.setBigInt64(16, 1n, false);
  hv.setBigInt64(24, 1n, false);
  const parts: Uint8Array[] = [header];
  for (const r of records) {
    const h = new Uint8Array(16);
    const v = new DataView(h.buffer);
    v.setBigInt64(0, BigInt(r.offset), false);
    v.setBigInt64(8, BigInt(r.data.length), false);
    parts.push(h, r.data);
  }
  if (opts.endMarker ?? true) {
    const end = new Uint8Array(16);
    new DataView(end.buffer).setBigInt64(0, -1n, false);
    new DataView(end.buffer).setBigInt64(8, -1n, false);
    parts.push(end);
  }
  return concat(parts);
}

/** Deterministic pseudo-random bytes (xorshift32), for page contents and fuzzing. */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** A page of recognisable, partly compressible contents. */
export function patternPage(seed: number, size = 4096): Uint8Array {
  const rnd = prng(seed);
  const page = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    // Runs of text-like data with repeats, so every compressor actually compresses.
    page[i] = i % 64 < 48 ? 0x41 + ((i >> 4) % 26) : rnd() & 0xff;
  }
  page[0] = seed & 0xff;
  page[1] = (seed >> 8) & 0xff;
  return page;
}
