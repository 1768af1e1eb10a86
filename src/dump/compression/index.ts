/**
 * Page decompression for makedumpfile's compressed format. Each page is compressed on its own and
 * must decompress to exactly one block (page); anything else is a corrupt page, reported, never
 * padded or cut. Decoders are given bounded output so a hostile page cannot allocate much.
 */
import { inflateSync } from 'node:zlib';
import { Decompress } from 'fzstd';
import { uncompress as snappyUncompress } from 'snappyjs';
import { LzoError, lzo1xDecompress } from './lzo';

/** `page_desc.flags` and header `status` bits (makedumpfile diskdump_mod.h). */
export const DUMP_DH_COMPRESSED_ZLIB = 0x01;
export const DUMP_DH_COMPRESSED_LZO = 0x02;
export const DUMP_DH_COMPRESSED_SNAPPY = 0x04;
export const DUMP_DH_COMPRESSED_INCOMPLETE = 0x08;
export const DUMP_DH_EXCLUDED_VMEMMAP = 0x10;
export const DUMP_DH_COMPRESSED_ZSTD = 0x20;

export type PageCompression = 'zlib' | 'lzo' | 'snappy' | 'zstd';

export const COMPRESSION_BITS: readonly { bit: number; name: PageCompression }[] = [
  { bit: DUMP_DH_COMPRESSED_ZLIB, name: 'zlib' },
  { bit: DUMP_DH_COMPRESSED_LZO, name: 'lzo' },
  { bit: DUMP_DH_COMPRESSED_SNAPPY, name: 'snappy' },
  { bit: DUMP_DH_COMPRESSED_ZSTD, name: 'zstd' },
];

const ALL_COMPRESSION_BITS = COMPRESSION_BITS.reduce((m, c) => m | c.bit, 0);
const SINGLE_BIT: Readonly<Record<number, PageCompression>> = Object.fromEntries(
  COMPRESSION_BITS.map((c) => [c.bit, c.name]),
);

/** The compression a page descriptor's flags name: `none` for raw, a string for impossible flags. */
export function pageCompression(flags: number): PageCompression | 'none' | { invalid: string } {
  // The common case first, allocation-free: exactly one known compression bit and nothing else.
  const single = SINGLE_BIT[flags];
  if (single) return single;
  const bits = flags & ALL_COMPRESSION_BITS;
  if (bits === 0) {
    return flags === 0 ? 'none' : { invalid: `unknown page flags 0x${flags.toString(16)}` };
  }
  const named = COMPRESSION_BITS.filter((c) => (bits & c.bit) !== 0);
  if (named.length !== 1) {
    return { invalid: `page flags 0x${flags.toString(16)} name more than one compression` };
  }
  if ((flags & ~ALL_COMPRESSION_BITS) !== 0) {
    return { invalid: `unknown page flags 0x${flags.toString(16)}` };
  }
  return named[0]!.name;
}

export class PageDecodeError extends Error {
  override readonly name = 'PageDecodeError';
}

/** Decompress one page; throws PageDecodeError unless it yields exactly `blockSize` bytes. */
export function decompressPage(kind: PageCompression, data: Uint8Array, blockSize: number): Uint8Array {
  switch (kind) {
    case 'zlib':
      return inflatePage(data, blockSize);
    case 'lzo':
      return lzoPage(data, blockSize);
    case 'snappy':
      return snappyPage(data, blockSize);
    case 'zstd':
      return zstdPage(data, blockSize);
  }
}

function wrongLength(kind: string, got: number, blockSize: number): PageDecodeError {
  return new PageDecodeError(`${kind} data decompresses to ${got} bytes, not the block size ${blockSize}`);
}

function inflatePage(data: Uint8Array, blockSize: number): Uint8Array {
  let out: Buffer;
  try {
    // One byte more than a page lets "too long" be told apart from "exactly a page". The output
    // chunk is sized to match: by default zlib allocates 16 KiB and returns a view of it, so every
    // cached page would keep four times its size alive.
    out = inflateSync(data, { maxOutputLength: blockSize + 1, chunkSize: Math.max(64, blockSize + 1) });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE')
      throw new PageDecodeError(`zlib data decompresses to more than ${blockSize} bytes`);
    throw new PageDecodeError(`zlib data cannot be inflated: ${(err as Error).message}`);
  }
  if (out.length !== blockSize) throw wrongLength('zlib', out.length, blockSize);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

function lzoPage(data: Uint8Array, blockSize: number): Uint8Array {
  const out = new Uint8Array(blockSize);
  let n: number;
  try {
    n = lzo1xDecompress(data, out);
  } catch (err) {
    if (err instanceof LzoError) throw new PageDecodeError(`LZO data is malformed: ${err.message}`);
    throw err;
  }
  if (n !== blockSize) throw wrongLength('LZO', n, blockSize);
  return out;
}

/**
 * Walk a raw Snappy block without producing output: the declared length must be `blockSize`, every
 * element must lie within the input, every copy must refer to bytes already produced, and the total
 * must come to exactly the declared length (the decoder would otherwise leave the rest zero).
 */
function checkSnappy(data: Uint8Array, blockSize: number): void {
  let pos = 0;
  let declared = 0;
  for (let shift = 0; ; shift += 7) {
    if (pos >= data.length || shift > 28) throw new PageDecodeError('snappy data has no valid length prefix');
    const b = data[pos++]!;
    declared += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) break;
  }
  if (declared !== blockSize) throw wrongLength('snappy', declared, blockSize);
  let produced = 0;
  while (pos < data.length) {
    const tag = data[pos++]!;
    const type = tag & 3;
    if (type === 0) {
      let n = (tag >> 2) + 1;
      if (n > 60) {
        const bytes = n - 60;
        if (pos + bytes > data.length) throw new PageDecodeError('snappy literal length runs past the data');
        n = 0;
        for (let i = 0; i < bytes; i++) n += data[pos + i]! * 2 ** (8 * i);
        n += 1;
        pos += bytes;
      }
      if (pos + n > data.length) throw new PageDecodeError('snappy literal runs past the data');
      pos += n;
      produced += n;
    } else {
      let length: number;
      let offset: number;
      if (type === 1) {
        if (pos + 1 > data.length) throw new PageDecodeError('snappy copy runs past the data');
        length = ((tag >> 2) & 7) + 4;
        offset = ((tag >> 5) << 8) | data[pos]!;
        pos += 1;
      } else if (type === 2) {
        if (pos + 2 > data.length) throw new PageDecodeError('snappy copy runs past the data');
        length = (tag >> 2) + 1;
        offset = data[pos]! | (data[pos + 1]! << 8);
        pos += 2;
      } else {
        if (pos + 4 > data.length) throw new PageDecodeError('snappy copy runs past the data');
        length = (tag >> 2) + 1;
        offset = (data[pos]! | (data[pos + 1]! << 8) | (data[pos + 2]! << 16)) + data[pos + 3]! * 2 ** 24;
        pos += 4;
      }
      if (offset === 0 || offset > produced) {
        throw new PageDecodeError(`snappy copy at output ${produced} refers ${offset} bytes back`);
      }
      produced += length;
    }
    if (produced > blockSize) throw new PageDecodeError(`snappy data produces more than ${blockSize} bytes`);
  }
  if (produced !== blockSize) throw wrongLength('snappy', produced, blockSize);
}

function snappyPage(data: Uint8Array, blockSize: number): Uint8Array {
  checkSnappy(data, blockSize);
  let out: Uint8Array;
  try {
    out = snappyUncompress(data, blockSize);
  } catch (err) {
    throw new PageDecodeError(`snappy data cannot be decompressed: ${(err as Error).message}`);
  }
  if (out.length !== blockSize) throw wrongLength('snappy', out.length, blockSize);
  return out;
}

/** Check a zstd page before decoding: one frame, of exactly one page, with a small window. */
function checkZstdFrame(data: Uint8Array, blockSize: number): void {
  if (data.length < 6 || data[0] !== 0x28 || data[1] !== 0xb5 || data[2] !== 0x2f || data[3] !== 0xfd) {
    throw new PageDecodeError('zstd data does not start with a zstd frame');
  }
  const fhd = data[4]!;
  const fcsFlag = fhd >> 6;
  const singleSegment = (fhd >> 5) & 1;
  const dictFlag = fhd & 3;
  if ((fhd & 0x08) !== 0) throw new PageDecodeError('zstd frame header has its reserved bit set');
  let pos = 5;
  let window = 0;
  if (!singleSegment) {
    const wd = data[pos++]!;
    const base = 2 ** (10 + (wd >> 3));
    window = base + (base / 8) * (wd & 7);
  }
  const dictBytes = [0, 1, 2, 4][dictFlag]!;
  let dictId = 0;
  for (let i = 0; i < dictBytes; i++) dictId += (data[pos + i] ?? 0) * 2 ** (8 * i);
  pos += dictBytes;
  if (dictId !== 0) throw new PageDecodeError('zstd frame needs a dictionary');
  const fcsBytes = fcsFlag === 0 ? singleSegment : 1 << fcsFlag;
  if (fcsBytes > 0) {
    if (pos + fcsBytes > data.length) throw new PageDecodeError('zstd frame header is cut short');
    let fcs = 0;
    for (let i = 0; i < fcsBytes; i++) fcs += data[pos + i]! * 2 ** (8 * i);
    if (fcsBytes === 2) fcs += 256;
    if (fcs !== blockSize) throw wrongLength('zstd', fcs, blockSize);
    if (singleSegment) window = fcs;
  }
  // A page needs no window larger than itself; refuse frames that would make the decoder allocate more.
  if (window > Math.max(blockSize, 1 << 20) * 8) {
    throw new PageDecodeError(`zstd frame asks for a ${window}-byte window for a ${blockSize}-byte page`);
  }
  pos += fcsBytes;
  // Walk the block headers: the data must be exactly one frame (no second frame, whose header
  // would not have been checked, and nothing after it).
  for (;;) {
    if (pos + 3 > data.length) throw new PageDecodeError('zstd frame is cut short');
    const header = data[pos]! | (data[pos + 1]! << 8) | (data[pos + 2]! << 16);
    pos += 3;
    const type = (header >> 1) & 3;
    const size = header >> 3;
    if (type === 3) throw new PageDecodeError('zstd frame has a reserved block type');
    pos += type === 1 ? 1 : size;
    if (pos > data.length) throw new PageDecodeError('zstd block runs past the data');
    if ((header & 1) !== 0) break;
  }
  if ((fhd & 0x04) !== 0) pos += 4; // content checksum
  if (pos !== data.length) {
    throw new PageDecodeError(`zstd frame ends at byte ${pos} of ${data.length}: extra data follows it`);
  }
}

function zstdPage(data: Uint8Array, blockSize: number): Uint8Array {
  checkZstdFrame(data, blockSize);
  const out = new Uint8Array(blockSize);
  let produced = 0;
  let overflow = false;
  const stream = new Decompress((chunk) => {
    if (overflow) return;
    if (produced + chunk.length > blockSize) {
      overflow = true;
      return;
    }
    out.set(chunk, produced);
    produced += chunk.length;
  });
  try {
    stream.push(data, true);
  } catch (err) {
    throw new PageDecodeError(`zstd data cannot be decompressed: ${(err as Error).message}`);
  }
  if (overflow) throw new PageDecodeError(`zstd data decompresses to more than ${blockSize} bytes`);
  if (produced !== blockSize) throw wrongLength('zstd', produced, blockSize);
  return out;
}
