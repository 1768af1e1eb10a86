/**
 * makedumpfile's compressed format on files built by test/support/kdumpBuilder.ts: every header
 * version, the 64-bit and both 32-bit sub-header layouts, big endian, legacy DISKDUMP with one
 * bitmap, the shared zero page, incomplete dumps with lost pages, split files, truncated files and
 * corrupt page descriptors.
 */
import { describe, expect, it } from 'vitest';
import { archByUname } from '../../src/arch';
import { DumpError } from '../../src/dump/errors';
import { type KdumpPhysicalMemory, openKdumpCompressed } from '../../src/dump/kdumpCompressed';
import { openDumpSource } from '../../src/dump/open';
import { MemorySource } from '../../src/dump/source';
import type { Dump, ReadResult } from '../../src/dump/types';
import {
  buildKdump,
  type KdumpOptions,
  type Layout,
  type PageSpec,
  patternPage,
  prng,
} from '../support/kdumpBuilder';

const BS = 4096;
const VMCOREINFO = 'OSRELEASE=6.1.0-test\nPAGESIZE=4096\nCRASHTIME=1700000000\n';

/** A page set with one page of each kind. */
function standardPages(): Map<number, PageSpec> {
  return new Map<number, PageSpec>([
    [1, { kind: 'data', bytes: patternPage(1), compression: 'zlib' }],
    [2, { kind: 'data', bytes: patternPage(2), compression: 'lzo' }],
    [3, { kind: 'data', bytes: patternPage(3), compression: 'snappy' }],
    [4, { kind: 'data', bytes: patternPage(4), compression: 'zstd' }],
    [5, { kind: 'data', bytes: patternPage(5), compression: 'none' }],
    [6, { kind: 'zero' }],
    [7, { kind: 'excluded' }],
    [8, { kind: 'zero' }],
    [12, { kind: 'data', bytes: patternPage(12), compression: 'zlib' }],
    [13, { kind: 'excluded' }],
    [39, { kind: 'data', bytes: patternPage(39), compression: 'lzo' }],
  ]);
}

function registersFor(machine: string, cpu: number): Record<string, bigint> {
  const arch = archByUname(machine)!;
  const regs: Record<string, bigint> = {};
  arch.prstatus.registers.forEach((r, i) => {
    regs[r.name] = BigInt(0x1000 * (cpu + 1) + i);
  });
  return regs;
}

async function open(o: KdumpOptions, name = 'synthetic'): Promise<Dump> {
  return openDumpSource(new MemorySource(buildKdump(o).bytes, name));
}

async function reasonAt(d: Dump, pfn: number): Promise<string[]> {
  return (await d.memory.read(BigInt(pfn * BS), BS)).gaps.map((g) => g.reason);
}

async function expectPage(d: Dump, pfn: number, page: Uint8Array): Promise<void> {
  const r = await d.memory.read(BigInt(pfn * BS), BS);
  expect(r.gaps, `pfn ${pfn}`).toEqual([]);
  expect(Buffer.from(r.bytes).equals(Buffer.from(page)), `pfn ${pfn}`).toBe(true);
}

const CASES: { layout: Layout; le: boolean; machine: string; subName: string }[] = [
  { layout: '64', le: true, machine: 'x86_64', subName: '64-bit' },
  { layout: '64', le: false, machine: 's390x', subName: '64-bit' },
  { layout: '32-packed', le: true, machine: 'i686', subName: '32-bit packed' },
  { layout: '32-padded', le: true, machine: 'armv7l', subName: '32-bit padded' },
  { layout: '32-padded', le: false, machine: 'armv7b', subName: '32-bit padded' },
];

describe.each(CASES)('$machine ($layout, $le)', ({ layout, le, machine, subName }) => {
  it.each([1, 2, 3, 4, 5, 6])('header version %i', async (version) => {
    const pages = standardPages();
    const d = await open({
      version,
      layout,
      littleEndian: le,
      machine,
      maxMapnr: 40,
      pages,
      physBase: 0x1234000n,
      dumpLevel: 31,
      cpus: [
        { pid: 100, registers: registersFor(machine, 0) },
        { pid: 0, registers: registersFor(machine, 1) },
      ],
      vmcoreinfo: VMCOREINFO,
    });
    const arch = archByUname(machine)!;
    expect(d.format).toBe('kdump');
    expect(d.arch.name).toBe(arch.name);
    expect(d.littleEndian).toBe(le);
    expect(d.details).toMatchObject({
      headerVersion: version,
      endianness: le ? 'little' : 'big',
      headerLayout: subName,
      blockSize: BS,
      maxMapnr: 40,
      dumpLevel: 31,
      bitmaps: 2,
      ramPages: 11,
      dumpedPages: 9,
    });
    expect(d.headerPhysBase).toBe(0x1234000n);
    expect([...d.compression].sort()).toEqual(['lzo', 'snappy', 'zlib', 'zstd']);
    for (const [pfn, spec] of pages) {
      if (spec.kind === 'data') await expectPage(d, pfn, spec.bytes);
      if (spec.kind === 'zero') await expectPage(d, pfn, new Uint8Array(BS));
      if (spec.kind === 'excluded') expect(await reasonAt(d, pfn)).toEqual(['excluded']);
    }
    expect(await reasonAt(d, 0)).toEqual(['not-in-dump']);
    expect(await reasonAt(d, 20)).toEqual(['not-in-dump']);
    expect(await reasonAt(d, 40)).toEqual(['not-in-dump']);
    expect(d.memory.ranges()).toEqual([
      { start: 0x1000n, end: 0x9000n },
      { start: 0xc000n, end: 0xe000n },
      { start: 0x27000n, end: 0x28000n },
    ]);
    // Notes: registers from v4, VMCOREINFO from v3.
    if (version >= 4) {
      expect(d.prstatus.map((p) => p.pid)).toEqual([100, 0]);
      expect(d.prstatus[1]!.registers.get(arch.pc)).toBe(registersFor(machine, 1)[arch.pc]);
      expect(d.prstatus[0]!.registers.get(arch.sp)).toBe(registersFor(machine, 0)[arch.sp]);
    } else expect(d.prstatus).toEqual([]);
    if (version >= 3) {
      expect(d.vmcoreinfo?.osRelease).toBe('6.1.0-test');
      expect(d.notes.map((n) => n.name)).toContain('VMCOREINFO');
    } else {
      expect(d.vmcoreinfo).toBeUndefined();
      expect(d.problems.map((p) => p.kind)).toContain('no-vmcoreinfo');
    }
    expect(d.problems.filter((p) => !['excluded-pages', 'no-vmcoreinfo'].includes(p.kind))).toEqual([]);
    await d.close();
  });
});

describe('kdump-compressed files built to order', () => {
  it('reads a read that spans pages of every kind, with exact gaps', async () => {
    const pages = standardPages();
    const d = await open({ maxMapnr: 40, pages, vmcoreinfo: VMCOREINFO, cpus: [] });
    const r = await d.memory.read(BigInt(BS + BS / 2), BS * 7);
    expect(r.gaps).toEqual([
      { offset: BS * 5 + BS / 2, length: BS, reason: 'excluded', detail: expect.stringMatching(/filtered/) },
    ]);
    expect(
      Buffer.from(r.bytes.subarray(BS * 3 + BS / 2, BS * 4 + BS / 2)).equals(Buffer.from(patternPage(5))),
    ).toBe(true);
    expect(r.bytes.subarray(BS * 6 + BS / 2).every((b) => b === 0)).toBe(true);
    expect(
      Buffer.from(r.bytes.subarray(0, BS / 2)).equals(Buffer.from(patternPage(1).subarray(BS / 2))),
    ).toBe(true);
    // From inside the hole at pfn 0 to past max_mapnr.
    const wide = await d.memory.read(0n, BS * 41);
    expect(wide.gaps.map((g) => [g.offset / BS, g.length / BS, g.reason])).toEqual([
      [0, 1, 'not-in-dump'],
      [7, 1, 'excluded'],
      [9, 3, 'not-in-dump'],
      [13, 1, 'excluded'],
      [14, 25, 'not-in-dump'],
      [40, 1, 'not-in-dump'],
    ]);
    await d.close();
  });

  it('shares one zero page among all-zero pages', async () => {
    const built = buildKdump({ maxMapnr: 40, pages: standardPages() });
    const d = await openKdumpCompressed(new MemorySource(built.bytes));
    const m = d.memory as KdumpPhysicalMemory;
    const z6 = await m.pageDescriptor(6);
    const z8 = await m.pageDescriptor(8);
    expect(z6).toMatchObject({ offset: BigInt(built.dataStart), size: BS, flags: 0, rank: 5 });
    expect(z8).toMatchObject({ offset: BigInt(built.dataStart), size: BS, flags: 0, rank: 6 });
    expect(await m.pageDescriptor(7)).toMatchObject({ reason: 'excluded' });
    expect(await m.pageDescriptor(39)).toMatchObject({ rank: 8, descOffset: built.descBase + 8 * 24 });
  });

  it('reads a header version 6 max_mapnr from the 64-bit field, not the truncated 32-bit one', async () => {
    const pages = standardPages();
    const d = await open({ maxMapnr: 40, maxMapnr32Override: 5, pages });
    expect(d.details.maxMapnr).toBe(40);
    await expectPage(d, 39, patternPage(39));
    const v5 = await open({ version: 5, maxMapnr: 40, maxMapnr32Override: 20, pages });
    expect(v5.details.maxMapnr).toBe(20);
    expect(await reasonAt(v5, 39)).toEqual(['not-in-dump']);
    await expectPage(v5, 12, patternPage(12));
  });

  it('reads legacy DISKDUMP with a single bitmap', async () => {
    const pages = standardPages();
    const d = await open({ signature: 'DISKDUMP', singleBitmap: true, version: 1, maxMapnr: 40, pages });
    expect(d.format).toBe('diskdump');
    expect(d.details).toMatchObject({ signature: 'DISKDUMP', bitmaps: 1, dumpedPages: 9 });
    expect(d.notes).toEqual([]);
    expect(d.headerPhysBase).toBeUndefined();
    await expectPage(d, 1, patternPage(1));
    await expectPage(d, 39, patternPage(39));
    await expectPage(d, 6, new Uint8Array(BS));
    // One bitmap cannot tell a hole from a filtered page.
    expect(await reasonAt(d, 7)).toEqual(['not-in-dump']);
    expect((await d.memory.read(7n * 4096n, 8)).gaps[0]!.detail).toMatch(/does not say which/);
    expect(d.problems.map((p) => p.kind)).toEqual(['no-vmcoreinfo']);
  });

  it('reports lost pages of an incomplete dump', async () => {
    const pages = standardPages();
    pages.set(14, { kind: 'lost' });
    pages.set(15, { kind: 'lost' });
    const d = await open({ maxMapnr: 40, pages, incomplete: true, vmcoreinfo: VMCOREINFO });
    expect(d.problems.find((p) => p.kind === 'incomplete')?.message).toMatch(/status bit 0x8/);
    expect(d.details.incomplete).toBe(true);
    const r = await d.memory.read(14n * 4096n, 2 * BS);
    expect(r.gaps).toEqual([
      { offset: 0, length: 2 * BS, reason: 'lost', detail: expect.stringMatching(/incomplete/) },
    ]);
    await expectPage(d, 39, patternPage(39));
    // The same descriptor in a dump not marked incomplete is corrupt, not silently lost.
    const notMarked = await open({ maxMapnr: 40, pages });
    expect(await reasonAt(notMarked, 14)).toEqual(['corrupt']);
  });

  it('reads one file of a split dump, counting ranks from its first page', async () => {
    const pages = standardPages();
    const d = await open({ maxMapnr: 40, pages, split: { start: 4, end: 13 } });
    expect(d.problems.find((p) => p.message.includes('split'))).toBeDefined();
    await expectPage(d, 4, patternPage(4));
    await expectPage(d, 5, patternPage(5));
    await expectPage(d, 6, new Uint8Array(BS));
    await expectPage(d, 12, patternPage(12));
    expect(await reasonAt(d, 7)).toEqual(['excluded']);
    const other = await d.memory.read(1n * 4096n, 8);
    expect(other.gaps).toEqual([
      { offset: 0, length: 8, reason: 'not-in-dump', detail: 'in another file of this split dump' },
    ]);
    expect(await reasonAt(d, 39)).toEqual(['not-in-dump']);
  });

  it('reads 64 KiB pages', async () => {
    const big = (seed: number) => {
      const p = new Uint8Array(65536);
      for (let i = 0; i < 16; i++) p.set(patternPage(seed + i), i * 4096);
      return p;
    };
    const pages = new Map<number, PageSpec>([
      [0, { kind: 'data', bytes: big(1), compression: 'zlib' }],
      [1, { kind: 'data', bytes: big(2), compression: 'lzo' }],
      [2, { kind: 'excluded' }],
      [3, { kind: 'data', bytes: big(3), compression: 'zstd' }],
    ]);
    const d = await open({ machine: 'aarch64', blockSize: 65536, maxMapnr: 8, pages });
    expect(d.arch.name).toBe('aarch64');
    expect(d.memory.pageSize).toBe(65536);
    const r = await d.memory.read(65536n - 100n, 65536 * 3 + 100);
    expect(r.gaps.map((g) => [g.offset, g.length, g.reason])).toEqual([[65636, 65536, 'excluded']]);
    expect(Buffer.from(r.bytes.subarray(100, 65636)).equals(Buffer.from(big(2)))).toBe(true);
    expect(Buffer.from(r.bytes.subarray(65536 * 2 + 100, 65536 * 3 + 100)).equals(Buffer.from(big(3)))).toBe(
      true,
    );
  });

  it('finds the architecture from the notes when utsname.machine is garbage, and the shifted utsname', async () => {
    const cpus = [{ pid: 1, registers: registersFor('s390x', 0) }];
    const built = buildKdump({
      littleEndian: false,
      machine: 's390x',
      maxMapnr: 40,
      pages: standardPages(),
      cpus,
    });
    built.bytes.fill(0, 272, 272 + 65);
    built.bytes.set(new TextEncoder().encode('???'), 272);
    const d = await openDumpSource(new MemorySource(built.bytes));
    expect(d.arch.name).toBe('s390x');
    expect(d.problems.find((p) => p.message.includes('inferred from the NT_PRSTATUS'))).toBeDefined();
    await expectPage(d, 3, patternPage(3));

    // makedumpfile < 1.6.9 on kernels ≥ 5.11: utsname shifted 4 bytes towards the start.
    const i386 = buildKdump({ layout: '32-packed', machine: 'i686', maxMapnr: 40, pages: standardPages() });
    i386.bytes.fill(0, 268, 272 + 65);
    i386.bytes.set(new TextEncoder().encode('i686'), 268);
    const s = await openDumpSource(new MemorySource(i386.bytes));
    expect(s.arch.name).toBe('i386');
    expect(s.details.headerLayout).toBe('32-bit packed');
    await expectPage(s, 39, patternPage(39));

    // No machine and no notes: said plainly.
    const none = buildKdump({ machine: 'pdp11', maxMapnr: 40, pages: standardPages() });
    await expect(openDumpSource(new MemorySource(none.bytes))).rejects.toThrow(/pdp11.*not an architecture/);
  });

  it('tells the two 32-bit sub-header layouts apart by where they put the notes', async () => {
    // An ARM file whose machine string names no arch still reads its padded sub-header.
    const cpus = [{ pid: 7, registers: registersFor('armv7l', 0) }];
    const built = buildKdump({
      layout: '32-padded',
      machine: 'armv7l',
      maxMapnr: 40,
      pages: standardPages(),
      cpus,
      vmcoreinfo: VMCOREINFO,
    });
    built.bytes.fill(0, 272, 272 + 65);
    const d = await openDumpSource(new MemorySource(built.bytes));
    expect(d.details.headerLayout).toBe('32-bit padded');
    expect(d.vmcoreinfo?.osRelease).toBe('6.1.0-test');
    expect(d.prstatus[0]!.pid).toBe(7);
    // An i386 file read with the ARM preference would not find its notes: the packed layout wins.
    const packed = buildKdump({
      layout: '32-packed',
      machine: 'armv7l',
      maxMapnr: 40,
      pages: standardPages(),
      vmcoreinfo: VMCOREINFO,
    });
    const p = await openDumpSource(new MemorySource(packed.bytes));
    expect(p.details.headerLayout).toBe('32-bit packed');
    expect(p.vmcoreinfo?.osRelease).toBe('6.1.0-test');
  });

  it('reports corrupt page descriptors and undecodable pages as corrupt', async () => {
    const garbage = new Uint8Array(100).fill(0x5a);
    const pages = new Map<number, PageSpec>([
      [1, { kind: 'descriptor', size: 4096, flags: 3, data: patternPage(1) }], // two compressions
      [2, { kind: 'descriptor', size: 100, flags: 0, data: garbage }], // raw but not a page
      [3, { kind: 'descriptor', size: 0xffffffff, flags: 1, data: garbage }], // absurd size
      [4, { kind: 'descriptor', size: 100, flags: 1, data: garbage }], // not zlib
      [5, { kind: 'descriptor', size: 100, flags: 2, data: garbage }], // not LZO
      [6, { kind: 'descriptor', size: 100, flags: 4, data: garbage }], // not snappy
      [7, { kind: 'descriptor', size: 100, flags: 0x20, data: garbage }], // not zstd
      [8, { kind: 'descriptor', offset: -5n, size: 4096, flags: 0 }],
      [9, { kind: 'descriptor', offset: 1n << 62n, size: 4096, flags: 0 }],
      [10, { kind: 'descriptor', offset: 1n << 40n, size: 4096, flags: 0 }], // beyond the end
      [11, { kind: 'descriptor', size: 4096, flags: 0x80, data: patternPage(11) }],
      [12, { kind: 'data', bytes: patternPage(12), compression: 'zlib' }],
    ]);
    const d = await open({ maxMapnr: 16, pages });
    const reasons = [];
    for (let pfn = 1; pfn <= 11; pfn++) reasons.push((await d.memory.read(BigInt(pfn * BS), 8)).gaps[0]);
    expect(reasons.map((g) => g?.reason)).toEqual([
      'corrupt',
      'corrupt',
      'corrupt',
      'corrupt',
      'corrupt',
      'corrupt',
      'corrupt',
      'corrupt',
      'corrupt',
      'truncated',
      'corrupt',
    ]);
    expect(reasons[0]!.detail).toMatch(/more than one compression/);
    expect(reasons[1]!.detail).toMatch(/raw page of 100 bytes/);
    expect(reasons[3]!.detail).toMatch(/zlib/);
    expect(reasons[4]!.detail).toMatch(/LZO/);
    expect(reasons[6]!.detail).toMatch(/zstd/);
    expect(reasons[9]!.detail).toMatch(/file ends/);
    await expectPage(d, 12, patternPage(12));
  });

  it('refuses headers that make no sense, saying which field and where', async () => {
    const base = () => buildKdump({ maxMapnr: 40, pages: standardPages() }).bytes;
    const patch = (bytes: Uint8Array, off: number, v: number) => {
      new DataView(bytes.buffer, bytes.byteOffset).setUint32(off, v >>> 0, true);
      return bytes;
    };
    const cases: [Uint8Array, RegExp][] = [
      [patch(base(), 428, 0), /block_size at offset 428 is 0/],
      [patch(base(), 428, 0x80000000), /block_size at offset 428 is -2147483648/],
      [patch(base(), 428, 1 << 30), /block_size at offset 428 is 1073741824/],
      [patch(base(), 428, 3000), /not a page size/],
      [patch(base(), 8, 0), /header_version/],
      [patch(base(), 436, 0), /bitmap_blocks/],
      [base().subarray(0, 300), /ends inside the kdump main header/],
    ];
    for (const [bytes, message] of cases) {
      const err = await openDumpSource(new MemorySource(bytes)).catch((e) => e);
      expect(err, String(message)).toBeInstanceOf(DumpError);
      expect((err as Error).message, String(message)).toMatch(message);
    }
  });
});

describe('kdump-compressed files cut short', () => {
  const pages = standardPages();
  const cpus = [{ pid: 1, registers: registersFor('x86_64', 0) }];
  const built = buildKdump({ maxMapnr: 40, pages, cpus, vmcoreinfo: VMCOREINFO });
  const cut = async (at: number) => openDumpSource(new MemorySource(built.bytes.subarray(0, at), 'cut'));
  const truncatedProblems = (d: Dump) =>
    d.problems.filter((p) => p.kind === 'truncated').map((p) => p.message);

  it('inside the last page: the other pages read, that one is truncated', async () => {
    const d = await cut(built.bytes.length - 10);
    expect(truncatedProblems(d)).toEqual([
      expect.stringMatching(/data of about 1 of 9 dumped pages, from about page 39 \(physical 0x27000\)/),
    ]);
    await expectPage(d, 12, patternPage(12));
    const r: ReadResult = await d.memory.read(39n * 4096n, 16);
    expect(r.gaps).toEqual([
      { offset: 0, length: 16, reason: 'truncated', detail: expect.stringMatching(/file ends/) },
    ]);
  });

  it('inside the page descriptor table: says how many pages are missing from which page on', async () => {
    const d = await cut(built.descBase + 24 * 4 + 10);
    expect(truncatedProblems(d)).toEqual([
      expect.stringMatching(
        /ends inside the page descriptor table .*: 5 of 9 dumped pages, from page 5 \(physical 0x5000\) on/,
      ),
    ]);
    expect(await reasonAt(d, 5)).toEqual(['truncated']);
    expect(await reasonAt(d, 39)).toEqual(['truncated']);
    expect(await reasonAt(d, 7)).toEqual(['excluded']);
    expect(await reasonAt(d, 0)).toEqual(['not-in-dump']);
    // Pages 1..4 have descriptors, but their data lies beyond the end too.
    expect(await reasonAt(d, 1)).toEqual(['truncated']);
  });

  it('inside the second bitmap', async () => {
    const b2 = (1 + built.subHdrSize + built.bitmapBlocks / 2) * BS;
    const d = await cut(b2 + 1);
    expect(truncatedProblems(d)).toEqual([
      expect.stringMatching(/ends inside the second bitmap .* pages below 8 \(physical 0x8000\)/),
      expect.stringMatching(/ends before the page descriptor table \(at offset 16384\)/),
    ]);
    expect(await reasonAt(d, 12)).toEqual(['truncated']);
    expect(await reasonAt(d, 1)).toEqual(['truncated']); // its descriptor is beyond the end
    expect(d.prstatus.length).toBe(1);
    expect(d.vmcoreinfo?.osRelease).toBe('6.1.0-test');
  });

  it('inside the notes: registers missing, said so', async () => {
    const d = await cut(BS + 104 + 200);
    const messages = truncatedProblems(d);
    expect(messages[0]).toMatch(/notes at offset 4200 need \d+ bytes but the file ends after 200/);
    expect(messages[1]).toMatch(/VMCOREINFO at offset 4580 needs 56 bytes but the file ends after 0/);
    expect(messages[2]).toMatch(/ends before the first bitmap \(at offset 8192\): no page can be read/);
    expect(messages.length).toBe(3);
    expect(d.prstatus).toEqual([]);
    expect(await reasonAt(d, 1)).toEqual(['truncated']);
  });

  it('inside the sub-header', async () => {
    const d = await cut(BS + 20);
    expect(truncatedProblems(d)[0]).toMatch(
      /ends inside the kdump sub-header at offset 4096 \(20 of 104 bytes\)/,
    );
    expect(d.details.maxMapnr).toBe(40);
    expect(await reasonAt(d, 1)).toEqual(['truncated']);
  });
});

/**
 * A 16 TiB dump (2^32 pages: two 512 MiB bitmaps) generated on the fly, with RAM and dumped pages
 * only in its first 100 pages. Nothing may read the whole bitmaps.
 */
class HugeKdumpSource {
  readonly name = 'huge';
  readonly maxMapnr = 2 ** 32;
  readonly bitmapBlocks = 2 * (2 ** 32 / 8 / BS);
  readonly descBase = (2 + this.bitmapBlocks) * BS;
  readonly dataStart = this.descBase + 100 * 24;
  readonly size = this.dataStart + 100 * BS;
  bytesRead = 0;
  private readonly head: Uint8Array;

  constructor() {
    const small = buildKdump({ maxMapnr: 8, pages: new Map([[1, { kind: 'zero' }]]) });
    this.head = small.bytes.slice(0, 2 * BS);
    const v = new DataView(this.head.buffer);
    v.setUint32(432, 1, true); // sub_hdr_size
    v.setUint32(436, this.bitmapBlocks, true);
    v.setUint32(440, 0xffffffff, true);
    v.setBigUint64(BS + 96, BigInt(this.maxMapnr), true); // max_mapnr_64
    v.setBigUint64(BS + 48, 0n, true); // no notes
  }

  private byteAt(off: number): number {
    if (off < 2 * BS) return this.head[off]!;
    const perBitmap = (this.bitmapBlocks / 2) * BS;
    if (off < this.descBase) {
      const within = (off - 2 * BS) % perBitmap;
      return within < 12 ? 0xff : within === 12 ? 0x0f : 0; // pfns 0..99
    }
    if (off < this.dataStart) {
      const i = Math.floor((off - this.descBase) / 24);
      const d = new Uint8Array(24);
      new DataView(d.buffer).setBigUint64(0, BigInt(this.dataStart + i * BS), true);
      new DataView(d.buffer).setUint32(8, BS, true);
      return d[(off - this.descBase) % 24]!;
    }
    const i = Math.floor((off - this.dataStart) / BS);
    return patternPage(i)[(off - this.dataStart) % BS]!;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const end = Math.min(this.size, offset + length);
    if (end <= offset) return new Uint8Array(0);
    this.bytesRead += end - offset;
    const out = new Uint8Array(end - offset);
    const perBitmap = (this.bitmapBlocks / 2) * BS;
    for (let o = offset; o < end; o++) {
      // Long runs of bitmap zeros are filled fast.
      const within = (o - 2 * BS) % perBitmap;
      if (o >= 2 * BS && o < this.descBase && within >= 13) {
        const skip = Math.min(end, o + (perBitmap - within), this.descBase) - o;
        o += skip - 1;
        continue;
      }
      out[o - offset] = this.byteAt(o);
    }
    return out;
  }

  async close(): Promise<void> {}
}

describe('huge dumps', () => {
  it('opens a 16 TiB dump and reads its pages without reading its 1 GiB of bitmaps', async () => {
    const src = new HugeKdumpSource();
    const rssBefore = process.memoryUsage().rss;
    const t = performance.now();
    const d = await openKdumpCompressed(src);
    expect(d.details).toMatchObject({ maxMapnr: 2 ** 32, rankIndex: 'lazy', rangesCoarse: true });
    for (const pfn of [0, 1, 50, 99]) await expectPage(d, pfn, patternPage(pfn));
    expect(await reasonAt(d, 100)).toEqual(['not-in-dump']);
    // A hole far away costs one bitmap chunk, not a scan of the bitmap before it.
    expect(await reasonAt(d, 2 ** 31 + 5)).toEqual(['not-in-dump']);
    expect(await reasonAt(d, 2 ** 32)).toEqual(['not-in-dump']);
    expect(performance.now() - t).toBeLessThan(5000);
    expect(src.bytesRead).toBeLessThan(4 * 1024 * 1024);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024);
  });

  it('counts ranks lazily over many bitmap windows exactly as the eager index does', async () => {
    // 2^24 pages: two 2 MiB bitmaps, so the lazy index extends window by window.
    const pages = new Map<number, PageSpec>();
    const rnd = prng(11);
    for (let i = 0; i < 300; i++) {
      const pfn = (i * 55_931 + (rnd() % 1000)) % 2 ** 24;
      pages.set(
        pfn,
        i % 5 === 0 ? { kind: 'excluded' } : { kind: 'data', bytes: patternPage(pfn), compression: 'zlib' },
      );
    }
    const built = buildKdump({ maxMapnr: 2 ** 24, pages });
    const eager = await openKdumpCompressed(new MemorySource(built.bytes));
    const lazy = await openKdumpCompressed(new MemorySource(built.bytes), 'plain', { eagerBitmapBytes: 0 });
    expect(eager.details.rankIndex).toBeUndefined();
    expect(lazy.details.rankIndex).toBe('lazy');
    // Visit pages bottom up, so the lazy index extends one window at a time as lookups need.
    const pfns = [...pages.keys()].sort((a, b) => a - b);
    for (const pfn of pfns) {
      const a = await (eager.memory as KdumpPhysicalMemory).pageDescriptor(pfn);
      const b = await (lazy.memory as KdumpPhysicalMemory).pageDescriptor(pfn);
      expect(b, `pfn ${pfn}`).toEqual(a);
      const spec = pages.get(pfn)!;
      if (spec.kind === 'data') await expectPage(lazy, pfn, spec.bytes);
      else expect(await reasonAt(lazy, pfn)).toEqual(['excluded']);
    }
    const ranks = (
      await Promise.all(pfns.map((p) => (eager.memory as KdumpPhysicalMemory).pageDescriptor(p)))
    ).flatMap((d) => ('rank' in d ? [d.rank] : []));
    expect(ranks.sort((a, b) => a - b)).toEqual([...Array(240).keys()]);
  });
});
