/**
 * Page decoders: the LZO1X decoder written here (round trips, hand-made streams, hostile streams
 * that must fail without writing past the page), and the zlib/snappy/zstd wrappers' length checks.
 */
import { deflateSync } from 'node:zlib';
import { compress as snappyCompress } from 'snappyjs';
import { describe, expect, it } from 'vitest';
import { decompressPage, PageDecodeError, pageCompression } from '../../src/dump/compression';
import { LzoError, lzo1xDecompress } from '../../src/dump/compression/lzo';
import { lzoCompress, patternPage, prng, zstdFrame } from '../support/kdumpBuilder';

/** Decode into a page that sits inside a bigger buffer with sentinels after it. */
function decodeGuarded(
  input: Uint8Array,
  size: number,
): { n: number | Error; page: Uint8Array; guardIntact: boolean } {
  const buf = new Uint8Array(size + 64).fill(0xa5);
  const page = buf.subarray(0, size);
  page.fill(0);
  let n: number | Error;
  try {
    n = lzo1xDecompress(input, page);
  } catch (err) {
    n = err as Error;
  }
  return { n, page, guardIntact: buf.subarray(size).every((b) => b === 0xa5) };
}

describe('LZO1X decoder', () => {
  it('round-trips pages through a greedy LZO1X encoder', () => {
    const rnd = prng(7);
    const inputs: Uint8Array[] = [
      patternPage(1),
      patternPage(2),
      new Uint8Array(4096), // one long overlapping match
      Uint8Array.from({ length: 4096 }, () => rnd() & 0xff), // incompressible: long literal runs
      Uint8Array.from({ length: 4096 }, (_, i) => (i % 7 === 0 ? rnd() & 0xff : i & 0x3f)),
      Uint8Array.from({ length: 300 }, (_, i) => i % 3), // short: first-byte literal form
      Uint8Array.from([1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 9]), // 1..3 trailing literals after a match
    ];
    for (const input of inputs) {
      const packed = lzoCompress(input);
      const { n, page, guardIntact } = decodeGuarded(packed, input.length);
      expect(n).toBe(input.length);
      expect(guardIntact).toBe(true);
      expect(Buffer.from(page).equals(Buffer.from(input))).toBe(true);
    }
  });

  it('decodes hand-assembled streams of every instruction form', () => {
    // First-byte literals (17+3 → 3 literals, state 3), then a 2-byte M1 match at distance 3
    // (t<16 after 1..3 literals: distance 1 + (t>>2) + (b<<2) = 3 → t = 8, b = 0), carrying 1 literal.
    // Then M2 (t ≥ 64): length (t>>5)+1 = 3, distance 1 + ((t>>2)&7) + (b<<3) = 2 → t = 0x44, b = 0.
    // Then the end marker.
    const stream = Uint8Array.from([
      20,
      0x61,
      0x62,
      0x63,
      0x08 | 1,
      0x00,
      0x7a,
      0x44,
      0x00,
      0x11,
      0x00,
      0x00,
    ]);
    const out = new Uint8Array(9);
    expect(lzo1xDecompress(stream, out)).toBe(9);
    // abc | ab (from 3 back) | z | 3 bytes from 2 back: "bz" + "b"
    expect(Buffer.from(out).toString('latin1')).toBe('abcabzbzb');

    // A literal run of 4+ (state 4) followed by the far 3-byte M1 form needs 2049+ bytes of history:
    // 2100 literals, then t = 0 (distance 2049 + 0 + 0) copying 3 bytes.
    const lits = Uint8Array.from({ length: 2100 }, (_, i) => (i * 31) & 0xff);
    const long = [0, ...lengthBytes(2100 - 18), ...lits, 0x00, 0x00, 0x11, 0x00, 0x00];
    const out2 = new Uint8Array(2103);
    expect(lzo1xDecompress(Uint8Array.from(long), out2)).toBe(2103);
    expect([...out2.subarray(2100)]).toEqual([...lits.subarray(2100 - 2049, 2100 - 2049 + 3)]);

    // M4 (16..31): distance 16384 + (v>>2) needs 16 KiB of history.
    const lits4 = Uint8Array.from({ length: 16400 }, (_, i) => (i * 7 + (i >> 8)) & 0xff);
    const m4 = [0, ...lengthBytes(16400 - 18), ...lits4, 0x10 | 2, 0x04, 0x00, 0x11, 0x00, 0x00];
    // t = 0x12: length (t&7)+2 = 4; v = 4: distance 16384 + 1 = 16385.
    const out3 = new Uint8Array(16404);
    expect(lzo1xDecompress(Uint8Array.from(m4), out3)).toBe(16404);
    expect([...out3.subarray(16400)]).toEqual([...lits4.subarray(16400 - 16385, 16400 - 16385 + 4)]);
  });

  it('rejects hostile streams without writing past the output', () => {
    const cases: [string, number[], RegExp][] = [
      ['too short', [0x11, 0x00], /too short/],
      ['match before the start', [18, 0x61, 0x20 | 3, 0xfc, 0xff, 0x11, 0x00, 0x00], /before the start/],
      ['literal run past the output', [0, 200, ...new Array(218).fill(1), 0x11, 0, 0], /overflows/],
      ['input ends inside literals', [30, 1, 2, 3], /ends early/],
      ['input ends inside a length', [18, 0x61, 0x20, 0, 0, 0], /ends early/],
      ['bytes after the end marker', [18, 0x61, 0x11, 0x00, 0x00, 0x99], /follow the end marker/],
      ['no end marker', [21, 1, 2, 3, 4], /ends early/],
      ['bad end marker', [18, 0x61, 0x12, 0x00, 0x00], /end marker/],
    ];
    for (const [what, bytes, message] of cases) {
      const { n, guardIntact } = decodeGuarded(Uint8Array.from(bytes), 64);
      expect(n, what).toBeInstanceOf(LzoError);
      expect((n as Error).message, what).toMatch(message);
      expect(guardIntact, what).toBe(true);
    }
    // A huge overlapping match (RLE) against a small page is refused before copying.
    const rle = Uint8Array.from([18, 0x61, 0x20, ...new Array(40).fill(0), 5, 0x00, 0x00, 0x11, 0, 0]);
    const { n, guardIntact } = decodeGuarded(rle, 4096);
    expect((n as Error).message).toMatch(/overflows/);
    expect(guardIntact).toBe(true);
  });

  it('never throws anything but LzoError on mutated streams', () => {
    const rnd = prng(99);
    const base = lzoCompress(patternPage(5));
    for (let k = 0; k < 2000; k++) {
      const s = base.slice(0, k % 3 === 0 ? rnd() % base.length : base.length);
      for (let f = 0; f < 1 + (k % 4); f++) if (s.length) s[rnd() % s.length]! ^= 1 << (rnd() & 7);
      const { n, guardIntact } = decodeGuarded(s, 4096);
      if (typeof n !== 'number') expect(n).toBeInstanceOf(LzoError);
      expect(guardIntact).toBe(true);
    }
  });
});

function lengthBytes(rem: number): number[] {
  const out: number[] = [];
  while (rem > 255) {
    out.push(0);
    rem -= 255;
  }
  out.push(rem);
  return out;
}

describe('page decompression', () => {
  const page = patternPage(3);

  it('names page flags', () => {
    expect(pageCompression(0)).toBe('none');
    expect(pageCompression(1)).toBe('zlib');
    expect(pageCompression(2)).toBe('lzo');
    expect(pageCompression(4)).toBe('snappy');
    expect(pageCompression(0x20)).toBe('zstd');
    expect(pageCompression(3)).toEqual({ invalid: expect.stringMatching(/more than one/) });
    expect(pageCompression(0x40)).toEqual({ invalid: expect.stringMatching(/unknown/) });
    expect(pageCompression(0x41)).toEqual({ invalid: expect.stringMatching(/unknown/) });
  });

  it('a decoded zlib page holds on to a page of memory, not the 16 KiB output chunk of zlib', () => {
    const decoded = decompressPage('zlib', deflateSync(page), 4096);
    expect(decoded.buffer.byteLength).toBeLessThanOrEqual(4097);
    expect(pageCompression(0x21)).toEqual({ invalid: expect.stringMatching(/more than one/) });
  });

  it('decodes each compression to exactly one page', () => {
    expect(decompressPage('zlib', deflateSync(page), 4096)).toEqual(page);
    expect(decompressPage('lzo', lzoCompress(page), 4096)).toEqual(page);
    expect(decompressPage('snappy', snappyCompress(page), 4096)).toEqual(page);
    expect(decompressPage('zstd', zstdFrame(page), 4096)).toEqual(page);
    expect(decompressPage('zstd', zstdFrame(new Uint8Array(4096).fill(7)), 4096)).toEqual(
      new Uint8Array(4096).fill(7),
    );
  });

  it('refuses pages of the wrong length', () => {
    const short = page.subarray(0, 4000);
    const long = new Uint8Array(8192);
    for (const [kind, data] of [
      ['zlib', deflateSync(short)],
      ['zlib', deflateSync(long)],
      ['lzo', lzoCompress(short)],
      ['snappy', snappyCompress(short)],
      ['snappy', snappyCompress(long)],
      ['zstd', zstdFrame(short)],
    ] as const) {
      expect(() => decompressPage(kind, data, 4096), kind).toThrow(PageDecodeError);
      expect(() => decompressPage(kind, data, 4096), kind).toThrow(/4096|more than/);
    }
    // zstd: a frame followed by a second frame, or by garbage; a frame asking for a huge window.
    const two = Buffer.concat([zstdFrame(page), zstdFrame(page)]);
    expect(() => decompressPage('zstd', two, 4096)).toThrow(/extra data/);
    const huge = Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xf8, 0x01, 0x00, 0x00]);
    expect(() => decompressPage('zstd', huge, 4096)).toThrow(/window/);
    // snappy: declared length right, but the elements produce less.
    const lying = Uint8Array.from([0x80, 0x20, 0x0c, 1, 2, 3, 4]);
    expect(() => decompressPage('snappy', lying, 4096)).toThrow(/4 bytes/);
  });
});
