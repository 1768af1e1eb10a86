/**
 * Hostile and damaged kdump-compressed and flattened files: truncations and bit flips of a real
 * dump's first 64 KiB (headers, notes, bitmaps, page descriptors), flipped page data, and absurd
 * header values. Every open and read must finish quickly with a result or a DumpError: never another
 * exception, a hang or a huge allocation.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DumpError } from '../../src/dump/errors';
import { openDumpSource } from '../../src/dump/open';
import type { ByteSource } from '../../src/dump/source';
import { FileSource, MemorySource } from '../../src/dump/source';
import type { Dump, UnavailableReason } from '../../src/dump/types';
import { hex } from '../../src/util/bytes';
import { corpus } from '../support/corpus';
import { prng } from '../support/kdumpBuilder';
import { PatchedSource } from '../support/patchedSource';

const dumps = corpus();
const zlib = dumps.find((d) => d.name === 'kdump-sysrq/vmcore.kdump-zlib')!;
const flat = dumps.find((d) => d.name === 'kdump-sysrq/vmcore.flat-zlib')!;
const compressed = dumps.filter((d) => /^kdump-sysrq\/vmcore\.kdump-/.test(d.name));

/** Physical reads that touch every path: dumped pages, excluded, holes, beyond the end, a long span. */
const READS: [bigint, number][] = [
  [0x1000n, 16],
  [0x9a00000n, 4096],
  [0xa401cb0n, 16],
  [0x1e031c40n, 64],
  [0x14006000n, 16],
  [0xbc70678n, 16],
  [0x100000n, 64 * 1024],
  [0x1ffdc000n, 8192],
  [0x7fff_ffff_f000n, 4096],
];
const REASONS: UnavailableReason[] = ['excluded', 'not-in-dump', 'truncated', 'lost', 'corrupt'];

interface Outcome {
  opened: boolean;
  error?: string;
  reads: number;
}

/** Open and read; anything but a Dump or a DumpError fails the test. */
async function exercise(source: ByteSource): Promise<Outcome> {
  let dump: Dump;
  try {
    dump = await openDumpSource(source);
  } catch (err) {
    if (!(err instanceof DumpError)) throw err;
    expect(err.message.length).toBeGreaterThan(10);
    return { opened: false, error: err.message, reads: 0 };
  }
  let reads = 0;
  for (const [addr, len] of READS) {
    try {
      const r = await dump.memory.read(addr, len);
      expect(r.bytes.length).toBe(len);
      for (const g of r.gaps) {
        expect(REASONS).toContain(g.reason);
        expect(g.offset + g.length).toBeLessThanOrEqual(len);
      }
      reads++;
    } catch (err) {
      if (!(err instanceof DumpError)) throw err;
    }
  }
  expect(dump.memory.ranges().length).toBeLessThanOrEqual(1 << 16);
  await dump.close();
  return { opened: true, reads };
}

describe('kdump-compressed files damaged or made hostile', () => {
  let base: FileSource;
  let prefix: Uint8Array;
  beforeAll(async () => {
    base = await FileSource.open(zlib.path);
    prefix = (await base.read(0, 65536)).slice();
  });
  afterAll(async () => {
    await base?.close();
  });

  it('truncations of the first 64 KiB: open what is there or say what is missing', async () => {
    const t = performance.now();
    const cuts = new Set<number>([0, 8, 100, 451, 452, 463, 464, 4096, 4100, 4200, 4300, 8236, 12288, 12289]);
    for (let c = 0; c <= 65536; c += 521) cuts.add(c);
    for (const b of [28672, 45056, 45056 + 24, 45056 + 24 * 1000]) {
      cuts.add(b - 1);
      cuts.add(b);
      cuts.add(b + 1);
    }
    let opened = 0;
    for (const cut of cuts) {
      const out = await exercise(new MemorySource(prefix.subarray(0, cut), `cut-${cut}`));
      // A whole main header is enough to open; anything shorter is refused with a reason.
      expect(out.opened, `cut at ${cut}: ${out.error}`).toBe(cut >= 464);
      if (out.opened) opened++;
    }
    expect(opened).toBeGreaterThan(120);
    expect(performance.now() - t).toBeLessThan(20_000);
  });

  it('a cut file reports truncated pages, not zeros', async () => {
    // The first 64 KiB hold the bitmaps and ~830 page descriptors, no page data.
    const d = await openDumpSource(new MemorySource(prefix, 'first-64k'));
    expect(d.problems.find((p) => p.kind === 'truncated')?.message).toMatch(
      /ends inside the page descriptor table .*: 20130 of 20983 dumped pages/,
    );
    expect((await d.memory.read(0xa401cb0n, 16)).gaps.map((g) => g.reason)).toEqual(['truncated']);
    expect((await d.memory.read(0xbc70678n, 16)).gaps.map((g) => g.reason)).toEqual(['excluded']);
    expect(d.prstatus.length).toBe(2);
    expect(d.vmcoreinfo?.osRelease).toBe('6.1.0-56-amd64');
  });

  it('random bit flips in the headers, bitmaps and descriptors', async () => {
    const rnd = prng(2024);
    const t = performance.now();
    let opened = 0;
    for (let i = 0; i < 250; i++) {
      const src = new PatchedSource(base, `flip-${i}`);
      const flips = 1 + (rnd() % 4);
      // Half the flips land in the first 4 KiB block (the main header), the rest anywhere in 64 KiB.
      for (let f = 0; f < flips; f++) {
        const at = i % 2 === 0 ? rnd() % 4096 : rnd() % 65536;
        src.set(at, [prefix[at]! ^ (1 << (rnd() & 7))]);
      }
      if ((await exercise(src)).opened) opened++;
    }
    expect(opened).toBeGreaterThan(120);
    expect(performance.now() - t).toBeLessThan(30_000);
  });

  it('flipped page data decodes or is reported corrupt, for every compression', async () => {
    const rnd = prng(77);
    for (const ref of compressed) {
      const file = await FileSource.open(ref.path);
      const samples = ref.truth.drgn.memory_samples.filter(
        (s: { kdump_page_desc?: { flags: number } | null }) =>
          s.kdump_page_desc && s.kdump_page_desc.flags !== 0,
      );
      expect(samples.length, ref.name).toBeGreaterThan(5);
      let corrupt = 0;
      for (let i = 0; i < 120; i++) {
        const s = samples[i % samples.length];
        const { offset, size } = s.kdump_page_desc;
        const src = new PatchedSource(file, `${ref.name}-data-${i}`);
        const at = offset + (rnd() % size);
        const orig = (await file.read(at, 1))[0]!;
        src.set(at, [orig ^ (1 + (rnd() % 255))]);
        const d = await openDumpSource(src);
        const r = await d.memory.read(BigInt(s.paddr_pagewalk), 16);
        for (const g of r.gaps) expect(g.reason, ref.name).toBe('corrupt');
        if (r.gaps.length) corrupt++;
        // zlib has a checksum: what decodes at all is the original (the flip hit unused padding bits).
        else if (ref.name.endsWith('zlib')) expect(hex(r.bytes), ref.name).toBe(s.bytes);
        await d.close();
      }
      expect(corrupt, ref.name).toBeGreaterThan(ref.name.endsWith('zlib') ? 100 : 30);
      await file.close();
    }
  });

  it('absurd header values: a clear error, or an open dump that says what is wrong', async () => {
    const SUB = 4096;
    const cases: {
      what: string;
      patch: (s: PatchedSource) => void;
      expect: (o: Outcome, d?: Dump) => void;
    }[] = [
      {
        what: 'block_size 0',
        patch: (s) => s.u32(428, 0),
        expect: (o) => expect(o.error).toMatch(/block_size at offset 428 is 0/),
      },
      {
        what: 'block_size 2^31',
        patch: (s) => s.u32(428, 0x80000000),
        expect: (o) => expect(o.error).toMatch(/block_size/),
      },
      {
        what: 'block_size 2^30',
        patch: (s) => s.u32(428, 1 << 30),
        expect: (o) => expect(o.error).toMatch(/block_size/),
      },
      {
        what: 'header_version huge',
        patch: (s) => s.u32(8, 0x7fffffff),
        expect: (o) => expect(o.error).toMatch(/header_version/),
      },
      {
        what: 'sub_hdr_size huge',
        patch: (s) => s.u32(432, 0x7fffffff),
        expect: (o) => expect(o.opened).toBe(true),
      },
      {
        what: 'bitmap_blocks huge',
        patch: (s) => s.u32(436, 0xffffffff),
        expect: (o) => expect(o.opened).toBe(true),
      },
      {
        what: 'max_mapnr huge',
        patch: (s) => s.u32(440, 0xffffffff).u64(SUB + 96, 0xffff_ffff_ffff_ffffn),
        expect: (o) => expect(o.opened).toBe(true),
      },
      {
        what: 'offset_note huge',
        patch: (s) => s.u64(SUB + 48, 1n << 62n),
        expect: (o) => expect(o.opened).toBe(true),
      },
      {
        what: 'size_note huge',
        patch: (s) => s.u64(SUB + 56, 1n << 40n),
        expect: (o) => expect(o.opened).toBe(true),
      },
      {
        what: 'notes and VMCOREINFO nowhere',
        patch: (s) =>
          s
            .u64(SUB + 48, -1n)
            .u64(SUB + 32, 1n << 50n)
            .u64(SUB + 40, 0xffff_ffffn),
        expect: (o) => expect(o.opened).toBe(true),
      },
      {
        what: 'eraseinfo huge',
        patch: (s) => s.u64(SUB + 72, 1n << 63n),
        expect: (o) => expect(o.opened).toBe(true),
      },
      {
        what: 'split with absurd range',
        patch: (s) =>
          s
            .u32(SUB + 12, 1)
            .u64(SUB + 80, 1n << 60n)
            .u64(SUB + 88, 5n),
        expect: (o) => expect(o.opened).toBe(true),
      },
      // Page descriptors of the first dumped pages (the shared zero page and pfn 1's neighbours).
      {
        what: 'descriptor size huge',
        patch: (s) => s.u32(45056 + 8, 0xffffffff).u32(45056 + 12, 1),
        expect: (o) => expect(o.opened).toBe(true),
      },
      {
        what: 'descriptor offset huge',
        patch: (s) => s.u64(45056, 1n << 62n),
        expect: (o) => expect(o.opened).toBe(true),
      },
      {
        what: 'descriptor offset negative',
        patch: (s) => s.u64(45056, -1n),
        expect: (o) => expect(o.opened).toBe(true),
      },
      {
        what: 'descriptor flags all set',
        patch: (s) => s.u32(45056 + 12, 0xffffffff),
        expect: (o) => expect(o.opened).toBe(true),
      },
    ];
    for (const c of cases) {
      const t = performance.now();
      const src = new PatchedSource(base, c.what);
      c.patch(src);
      const out = await exercise(src);
      c.expect(out);
      expect(performance.now() - t, c.what).toBeLessThan(5000);
    }
  });

  it('absurd values are reported plainly', async () => {
    const problems = async (patch: (s: PatchedSource) => void) => {
      const s = new PatchedSource(base);
      patch(s);
      const d = await openDumpSource(s);
      return { d, messages: d.problems.map((p) => p.message).join('\n') };
    };
    const bitmaps = await problems((s) => s.u32(436, 0xffffffff));
    expect(bitmaps.messages).toMatch(/ends before the second bitmap/);
    expect((await bitmaps.d.memory.read(0xa401cb0n, 16)).gaps.map((g) => g.reason)).toEqual(['truncated']);
    const mapnr = await problems((s) => s.u64(4096 + 96, 1n << 60n));
    expect(mapnr.messages).toMatch(/max_mapnr is \d+ pages but the bitmaps cover only 131072/);
    expect((await mapnr.d.memory.read(0xa401cb0n, 16)).gaps).toEqual([]);
    const notes = await problems((s) => s.u64(4096 + 56, 1n << 40n));
    expect(notes.messages).toMatch(/1099511627776 bytes of notes at offset 4200; ignored as implausible/);
    expect(notes.d.prstatus).toEqual([]);
    expect(notes.d.vmcoreinfo?.osRelease).toBe('6.1.0-56-amd64'); // from offset_vmcoreinfo
    const desc = await problems((s) => s.u32(45056 + 8, 0xffffffff).u32(45056 + 12, 1));
    // Descriptor 0 is pfn 1's: the shared zero page.
    const r = await desc.d.memory.read(0x1000n, 16);
    expect(r.gaps).toEqual([
      {
        offset: 0,
        length: 16,
        reason: 'corrupt',
        detail: expect.stringMatching(/zlib page of 4294967295 bytes/),
      },
    ]);
  });
});

describe('flattened streams damaged', () => {
  // The whole 17 MB stream in memory: every open scans all its record headers.
  let base: MemorySource;
  let prefix: Uint8Array;
  beforeAll(() => {
    base = new MemorySource(readFileSync(flat.path), flat.path);
    prefix = new Uint8Array(readFileSync(flat.path).subarray(0, 65536));
  });

  it('truncations and bit flips of the first 64 KiB', async () => {
    const t = performance.now();
    for (let cut = 0; cut <= 65536; cut += 1021)
      await exercise(new MemorySource(prefix.subarray(0, cut), `flat-cut-${cut}`));
    const rnd = prng(5);
    for (let i = 0; i < 120; i++) {
      const src = new PatchedSource(base, `flat-flip-${i}`);
      // Record headers sit at 4096, 4096+16+464, …: aim a third of the flips at the first few.
      const at = i % 3 === 0 ? 4096 + (rnd() % 600) : rnd() % 65536;
      src.set(at, [prefix[at]! ^ (1 << (rnd() & 7))]);
      await exercise(src);
    }
    expect(performance.now() - t).toBeLessThan(30_000);
  });
});
