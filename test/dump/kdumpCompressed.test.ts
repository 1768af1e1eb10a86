/**
 * makedumpfile's compressed format on the real dumps (zlib, LZO, snappy, zstd and the flattened
 * zlib stream, all written by makedumpfile 1.7.2 from the same crash): header fields and bitmap
 * counts against ground-truth.json, page descriptors of the reference samples, pages filtered by
 * -d 31 reported as excluded, and every dumped page byte-identical to the unfiltered ELF dump.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KdumpPhysicalMemory, openKdumpCompressed } from '../../src/dump/kdumpCompressed';
import { openDump } from '../../src/dump/open';
import { FileSource } from '../../src/dump/source';
import type { Dump } from '../../src/dump/types';
import { hex } from '../../src/util/bytes';
import { type CorpusDump, corpus } from '../support/corpus';

const all = corpus();
const compressed = all.filter((d) => /kdump$/.test(d.truth.format));
const elfFull = all.find((d) => d.name === 'kdump-sysrq/vmcore.elf-full');

it('the corpus has the compressed dumps', () => {
  expect(compressed.map((d) => d.name.split('/')[1]).sort()).toEqual(
    expect.arrayContaining([
      'vmcore.flat-zlib',
      'vmcore.kdump-lzo',
      'vmcore.kdump-snappy',
      'vmcore.kdump-zlib',
      'vmcore.kdump-zstd',
    ]),
  );
  expect(elfFull).toBeDefined();
});

const COMPRESSION_NAMES: Record<string, string> = {
  DUMP_DH_COMPRESSED_ZLIB: 'zlib',
  DUMP_DH_COMPRESSED_LZO: 'lzo',
  DUMP_DH_COMPRESSED_SNAPPY: 'snappy',
  DUMP_DH_COMPRESSED_ZSTD: 'zstd',
};

interface Sample {
  what: string;
  bytes: string | null;
  paddr_pagewalk?: string;
  kdump_page_desc?: { offset: number; size: number; flags: number; page_flags: number } | null;
  error?: string;
}

describe.each(compressed.map((d) => [d.name, d] as const))('%s', (_name, ref: CorpusDump) => {
  let dump: Dump;
  let memory: KdumpPhysicalMemory;
  const c = ref.truth.container;
  const samples: Sample[] = ref.truth.drgn.memory_samples;
  beforeAll(async () => {
    dump = await openDump(ref.path);
    memory = dump.memory as KdumpPhysicalMemory;
  });
  afterAll(async () => {
    await dump?.close();
  });

  it('reads the main header and the sub-header as the reference does', () => {
    expect(dump.format).toBe('kdump');
    expect(dump.container).toBe(ref.truth.format.startsWith('flattened') ? 'flattened' : 'plain');
    expect(dump.details.signature).toBe(c.signature.trim());
    expect(dump.details.headerVersion).toBe(c.header_version);
    expect(dump.details.status).toBe(c.status);
    expect(dump.details.blockSize).toBe(c.block_size);
    expect(dump.details.subHeaderBlocks).toBe(c.sub_hdr_size);
    expect(dump.details.bitmapBlocks).toBe(c.bitmap_blocks);
    expect(dump.details.maxMapnr).toBe(c.sub_header.max_mapnr_64);
    expect(dump.details.maxMapnr).toBe(c.max_pfn);
    expect(dump.details.nrCpus).toBe(c.nr_cpus);
    expect(dump.details.machine).toBe(c.utsname.machine);
    expect(dump.details.release).toBe(c.utsname.release);
    expect(dump.details.nodename).toBe(c.utsname.nodename);
    expect(dump.details.timestamp).toBe(c.timestamp.tv_sec);
    expect(dump.details.dumpLevel).toBe(c.sub_header.dump_level);
    expect(dump.details.endianness).toBe('little');
    expect(dump.details.headerLayout).toBe('64-bit');
    expect(dump.details.bitmaps).toBe(2);
    expect('0x' + dump.headerPhysBase!.toString(16)).toBe(c.sub_header.phys_base);
    expect(dump.compression).toEqual(c.status_flags.map((f: string) => COMPRESSION_NAMES[f]));
    expect(dump.memory.pageSize).toBe(c.block_size);
  });

  it('counts both bitmaps exactly', () => {
    expect(dump.details.ramPages).toBe(c.pages_valid_bitmap1);
    expect(dump.details.dumpedPages).toBe(c.pages_dumped_bitmap2);
    const filtered = c.pages_valid_bitmap1 - c.pages_dumped_bitmap2;
    const problem = dump.problems.find((p) => p.kind === 'excluded-pages');
    expect(problem?.message).toContain(`${filtered} of ${c.pages_valid_bitmap1} pages`);
    expect(dump.problems.filter((p) => p.kind !== 'excluded-pages')).toEqual([]);
  });

  it('lists RAM from the first bitmap', () => {
    const pages = dump.memory.ranges().reduce((n, r) => n + Number(r.end - r.start) / c.block_size, 0);
    expect(pages).toBe(c.pages_valid_bitmap1);
    expect(dump.memory.ranges()[0]!.start).toBe(0x1000n);
  });

  it('finds the reference page descriptor of every sample', async () => {
    const withDesc = samples.filter((s) => s.paddr_pagewalk && s.kdump_page_desc);
    expect(withDesc.length).toBeGreaterThan(10);
    for (const s of withDesc) {
      const pfn = Number(BigInt(s.paddr_pagewalk!) / BigInt(c.block_size));
      const d = await memory.pageDescriptor(pfn);
      const want = s.kdump_page_desc!;
      expect(d, s.what).toMatchObject({
        offset: BigInt(want.offset),
        size: want.size,
        flags: want.flags,
        pageFlags: BigInt(want.page_flags),
      });
      const { bytes, gaps } = await dump.memory.read(BigInt(s.paddr_pagewalk!), 16);
      expect(gaps, s.what).toEqual([]);
      expect(hex(bytes), s.what).toBe(s.bytes);
    }
  });

  it('reports pages filtered by -d 31 as excluded, never as zeros', async () => {
    // drgn names the physical address of each user page it could not read ("Excluded page: 0x…").
    const excluded = samples
      .map((s) => /Excluded page: (0x[0-9a-f]+)$/.exec(s.error ?? '')?.[1])
      .filter((a): a is string => a !== undefined && !a.startsWith('0xffff'));
    expect(excluded.length).toBe(4);
    for (const a of excluded) {
      const { bytes, gaps } = await dump.memory.read(BigInt(a), 16);
      expect(gaps, a).toEqual([{ offset: 0, length: 16, reason: 'excluded', detail: expect.any(String) }]);
      expect(bytes.every((b) => b === 0)).toBe(true);
      const d = await memory.pageDescriptor(Number(BigInt(a) / 4096n));
      expect(d).toMatchObject({ reason: 'excluded' });
    }
    // vmcoreinfo_data's page lies in the crashkernel reservation: not RAM of the dump at all.
    const hole = samples.find((s) => s.paddr_pagewalk && s.bytes === null)!;
    const { gaps } = await dump.memory.read(BigInt(hole.paddr_pagewalk!), 16);
    expect(gaps.map((g) => g.reason)).toEqual(['not-in-dump']);
    // Beyond max_mapnr.
    const beyond = await dump.memory.read(BigInt(c.max_pfn) * 4096n, 8192);
    expect(beyond.gaps).toEqual([
      { offset: 0, length: 8192, reason: 'not-in-dump', detail: expect.any(String) },
    ]);
  });

  it('reads a range that spans dumped, excluded and hole pages with exact gaps', async () => {
    // 0x9e000..0x101000: the end of low RAM, the 0xa0000-0x100000 hole, the first page above 1 MiB.
    const start = 0x9e000n;
    const { bytes, gaps } = await dump.memory.read(start, 0x101000 - 0x9e000);
    expect(bytes.length).toBe(0x63000);
    for (const g of gaps)
      expect(bytes.subarray(g.offset, g.offset + g.length).every((b) => b === 0)).toBe(true);
    const hole = gaps.find((g) => g.reason === 'not-in-dump')!;
    expect(start + BigInt(hole.offset)).toBe(0x9f000n);
    expect(start + BigInt(hole.offset + hole.length)).toBe(0x100000n);
  });
});

describe('the same physical page reads identically from every format', () => {
  let elf: Dump;
  const dumps: Dump[] = [];
  beforeAll(async () => {
    elf = await openDump(elfFull!.path);
    for (const d of compressed) dumps.push(await openDump(d.path));
  });
  afterAll(async () => {
    await elf?.close();
    for (const d of dumps) await d.close();
  });

  it('every dumped page equals the unfiltered ELF dump; every format agrees on every gap', async () => {
    const c = compressed[0]!.truth.container;
    const end = BigInt(c.max_pfn) * 4096n;
    const step = 1 << 20;
    let dumpedBytes = 0;
    let excludedBytes = 0;
    for (let at = 0n; at < end; at += BigInt(step)) {
      const len = Number(end - at < BigInt(step) ? end - at : BigInt(step));
      const full = await elf.memory.read(at, len);
      const results = await Promise.all(dumps.map((d) => d.memory.read(at, len)));
      const first = results[0]!;
      for (const [i, r] of results.entries()) {
        expect(
          r.gaps.map((g) => [g.offset, g.length, g.reason]),
          `${compressed[i]!.name} @${at}`,
        ).toEqual(first.gaps.map((g) => [g.offset, g.length, g.reason]));
        expect(Buffer.from(r.bytes).equals(Buffer.from(first.bytes)), `${compressed[i]!.name} @${at}`).toBe(
          true,
        );
      }
      // Bytes the compressed dumps hold are the ELF dump's bytes.
      let cur = 0;
      const compare = (from: number, to: number) => {
        if (to <= from) return;
        const a = Buffer.from(first.bytes.subarray(from, to));
        const b = Buffer.from(full.bytes.subarray(from, to));
        if (!a.equals(b)) expect.fail(`bytes differ in [${at + BigInt(from)}, ${at + BigInt(to)})`);
        dumpedBytes += to - from;
      };
      for (const g of first.gaps) {
        compare(cur, g.offset);
        cur = g.offset + g.length;
        if (g.reason === 'excluded') {
          // Filtered pages exist in the unfiltered dump: excluded is not a hole.
          expect(
            full.gaps.filter((fg) => fg.offset < g.offset + g.length && fg.offset + fg.length > g.offset),
          ).toEqual([]);
          excludedBytes += g.length;
        } else expect(g.reason).toBe('not-in-dump');
      }
      compare(cur, len);
    }
    expect(dumpedBytes).toBe(c.pages_dumped_bitmap2 * 4096);
    expect(excludedBytes).toBe((c.pages_valid_bitmap1 - c.pages_dumped_bitmap2) * 4096);
  });

  it('the flattened stream reassembles in place to exactly the plain zlib file', async () => {
    const { openFlattened } = await import('../../src/dump/flattened');
    const flat = compressed.find((d) => d.name.endsWith('flat-zlib'))!;
    const plain = compressed.find((d) => d.name.endsWith('kdump-zlib'))!;
    const a = await openFlattened(await FileSource.open(flat.path));
    const b = await FileSource.open(plain.path);
    try {
      expect(a.size).toBe(b.size);
      expect(a.problems).toEqual([]);
      expect(a.details).toMatchObject({ flattenedRecords: 538, flattenedEndMarker: true });
      for (let off = 0; off < b.size; off += 1 << 20) {
        const x = await a.read(off, 1 << 20);
        const y = await b.read(off, 1 << 20);
        if (!Buffer.from(x).equals(Buffer.from(y))) expect.fail(`differs in the MiB at ${off}`);
      }
      // Small reads across record boundaries and the uncovered bytes between the bitmap records.
      for (const off of [0, 460, 4090, 28660, 45050, 45056 + 24 * 100 - 5, b.size - 7]) {
        expect(hex(await a.read(off, 40)), `at ${off}`).toBe(hex(await b.read(off, 40)));
      }
      expect((await a.read(b.size, 10)).length).toBe(0);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('opens a kdump file given directly to openKdumpCompressed', async () => {
    const plain = compressed.find((d) => d.name.endsWith('kdump-lzo'))!;
    const d = await openKdumpCompressed(await FileSource.open(plain.path));
    expect(d.format).toBe('kdump');
    expect(d.container).toBe('plain');
    expect(d.prstatus.length).toBe(plain.truth.prstatus.length);
    await d.close();
  });
});
