/**
 * makedumpfile's flattened format read in place: records in any order, overlaps (later records
 * win, as `makedumpfile -R` writes them), holes, streams cut short, hostile record headers, and an
 * ELF image inside a stream. The real flattened dump is covered by kdumpCompressed.test.ts.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DumpError } from '../../src/dump/errors';
import { type FlattenedSource, openFlattened } from '../../src/dump/flattened';
import { openDumpSource } from '../../src/dump/open';
import { type ByteSource, MemorySource } from '../../src/dump/source';
import { corpus } from '../support/corpus';
import {
  buildFlattened,
  buildKdump,
  concat,
  type FlatRecord,
  type PageSpec,
  patternPage,
  prng,
  recordsOf,
} from '../support/kdumpBuilder';

const pages = new Map<number, PageSpec>([
  [1, { kind: 'data', bytes: patternPage(1), compression: 'zlib' }],
  [2, { kind: 'data', bytes: patternPage(2), compression: 'lzo' }],
  [3, { kind: 'excluded' }],
  [5, { kind: 'zero' }],
  [9, { kind: 'data', bytes: patternPage(9), compression: 'snappy' }],
]);
const image = buildKdump({ maxMapnr: 16, pages, vmcoreinfo: 'OSRELEASE=6.1.0-flat\n' }).bytes;

function shuffled<T>(items: T[], seed: number): T[] {
  const rnd = prng(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rnd() % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** What `makedumpfile -R` would write: each record at its offset, in order. */
function reassemble(records: readonly FlatRecord[]): Uint8Array {
  const size = records.reduce((m, r) => Math.max(m, r.offset + r.data.length), 0);
  const out = new Uint8Array(size);
  for (const r of records) out.set(r.data, r.offset);
  return out;
}

async function flat(records: FlatRecord[], opts?: { endMarker?: boolean }): Promise<FlattenedSource> {
  return openFlattened(new MemorySource(buildFlattened(records, opts), 'stream'));
}

describe('flattened streams', () => {
  it('reassembles records given in any order and opens the kdump image inside', async () => {
    const records = shuffled(recordsOf(image, 777), 1);
    const d = await openDumpSource(new MemorySource(buildFlattened(records), 'flat'));
    expect(d.format).toBe('kdump');
    expect(d.container).toBe('flattened');
    expect(d.details).toMatchObject({ flattenedRecords: records.length, flattenedEndMarker: true });
    expect(d.vmcoreinfo?.osRelease).toBe('6.1.0-flat');
    expect(d.problems.filter((p) => p.kind !== 'excluded-pages')).toEqual([]);
    const r = await d.memory.read(4096n, 4096 * 9);
    expect(r.gaps.map((g) => [g.offset / 4096, g.length / 4096, g.reason])).toEqual([
      [2, 1, 'excluded'],
      [3, 1, 'not-in-dump'],
      [5, 3, 'not-in-dump'],
    ]);
    expect(Buffer.from(r.bytes.subarray(0, 4096)).equals(Buffer.from(patternPage(1)))).toBe(true);
    expect(Buffer.from(r.bytes.subarray(8 * 4096)).equals(Buffer.from(patternPage(9)))).toBe(true);
  });

  it('lets later records win where they overlap, exactly as reassembly would', async () => {
    // Garbage over everything first, then the real records: the real data wins.
    const garbage = { offset: 0, data: new Uint8Array(image.length).fill(0xee) };
    const a = await flat([garbage, ...shuffled(recordsOf(image, 1000), 2)]);
    expect(a.size).toBe(image.length);
    expect(a.details.flattenedOverlaps).toBe(true);
    expect(Buffer.from(await a.read(0, image.length)).equals(Buffer.from(image))).toBe(true);
    // The real records first, then a patch: the patch wins.
    const patch = { offset: 5000, data: new Uint8Array(300).fill(0x77) };
    const b = await flat([...recordsOf(image, 1000), patch]);
    const bytes = await b.read(4900, 500);
    expect(Buffer.from(bytes.subarray(0, 100)).equals(Buffer.from(image.subarray(4900, 5000)))).toBe(true);
    expect(bytes.subarray(100, 400).every((x) => x === 0x77)).toBe(true);
    expect(Buffer.from(bytes.subarray(400)).equals(Buffer.from(image.subarray(5300, 5400)))).toBe(true);
  });

  it('matches a reference reassembly on random overlapping records', async () => {
    const rnd = prng(42);
    for (let round = 0; round < 60; round++) {
      const records: FlatRecord[] = [];
      const n = 1 + (rnd() % 40);
      for (let k = 0; k < n; k++) {
        const offset = rnd() % 20000;
        const length = rnd() % 3000;
        records.push({ offset, data: Uint8Array.from({ length }, () => 1 + (rnd() % 255)) });
      }
      if (records.every((r) => r.data.length === 0)) records.push({ offset: 0, data: Uint8Array.of(1) });
      const want = reassemble(records);
      const src = await flat(records);
      expect(src.size, `round ${round}`).toBe(want.length);
      expect(
        Buffer.from(await src.read(0, want.length + 100)).equals(Buffer.from(want)),
        `round ${round}`,
      ).toBe(true);
      for (let q = 0; q < 20; q++) {
        const off = rnd() % (want.length + 10);
        const len = rnd() % 4000;
        const got = await src.read(off, len);
        expect(
          Buffer.from(got).equals(Buffer.from(want.subarray(off, off + len))),
          `round ${round} read ${off}+${len}`,
        ).toBe(true);
      }
    }
  });

  it('leaves bytes no record supplies zero', async () => {
    const src = await flat([
      { offset: 100, data: new Uint8Array(10).fill(1) },
      { offset: 200, data: new Uint8Array(10).fill(2) },
    ]);
    expect(src.size).toBe(210);
    const b = await src.read(0, 300);
    expect(b.length).toBe(210);
    expect([...b.subarray(95, 115)]).toEqual([0, 0, 0, 0, 0, ...new Array(10).fill(1), 0, 0, 0, 0, 0]);
    expect(b.subarray(200).every((x) => x === 2)).toBe(true);
  });

  it('opens a stream with no end marker and says it was cut short', async () => {
    const d = await openDumpSource(
      new MemorySource(buildFlattened(recordsOf(image, 4096), { endMarker: false })),
    );
    expect(d.details.flattenedEndMarker).toBe(false);
    expect(d.problems.find((p) => p.kind === 'truncated')?.message).toMatch(
      /no end marker: it was cut short after \d+ records/,
    );
    const r = await d.memory.read(9n * 4096n, 4096);
    expect(r.gaps).toEqual([]);
  });

  it('stops at a zero-filled tail (a sparse terabyte after the last record) instead of scanning it', async () => {
    const stream = buildFlattened(recordsOf(image, 4096), { endMarker: false });
    // The stream, then zeros up to 1 TiB, as a preallocated or `cp --sparse` copy that stopped early leaves it.
    const tail: ByteSource = {
      name: 'zero-tail',
      size: 2 ** 40,
      read: async (offset, length) => {
        const out = new Uint8Array(Math.max(0, Math.min(length, 2 ** 40 - offset)));
        if (offset < stream.length) out.set(stream.subarray(offset, offset + out.length));
        return out;
      },
      close: async () => {},
    };
    const d = await openDumpSource(tail);
    const messages = d.problems.filter((p) => p.kind === 'truncated').map((p) => p.message);
    expect(messages[0]).toBe(
      `the flattened stream turns into zeros at stream offset ${stream.length} after ${recordsOf(image, 4096).length} records (${2 ** 40 - stream.length} bytes of zeros follow, no end marker): it was cut short`,
    );
    expect(Buffer.from((await d.memory.read(9n * 4096n, 4096)).bytes)).toEqual(Buffer.from(patternPage(9)));
  });

  it('opens a stream cut inside a record: what is there, and exactly what is missing', async () => {
    const stream = buildFlattened(recordsOf(image, 4096));
    const cutAt = stream.length - 16 - 500; // 500 bytes short of the last record's end
    const d = await openDumpSource(new MemorySource(stream.subarray(0, cutAt), 'cut'));
    const messages = d.problems.filter((p) => p.kind === 'truncated').map((p) => p.message);
    expect(messages[0]).toMatch(
      /cut short: record #\d+ at stream offset \d+ should carry \d+ bytes for image offset \d+ but the stream ends after \d+/,
    );
    expect(messages[1]).toMatch(/no end marker/);
    // The image is shorter than the kdump headers say: the last page's data is missing.
    expect(messages.some((m) => /data of about 1 of 4 dumped pages, from about page 9/.test(m))).toBe(true);
    expect((await d.memory.read(9n * 4096n, 16)).gaps.map((g) => g.reason)).toEqual(['truncated']);
    expect((await d.memory.read(1n * 4096n, 16)).gaps).toEqual([]);

    const inHeader = await openFlattened(new MemorySource(stream.subarray(0, 4096 + 16 + 4096 + 7)));
    expect(inHeader.problems[0]!.message).toMatch(
      /ends inside a record header at stream offset 8208 \(7 of 16 bytes\)/,
    );
  });

  it('refuses hostile record headers and headers that are not a flattened stream', async () => {
    const header = buildFlattened([]).subarray(0, 4096);
    const record = (offset: bigint, size: bigint, data = new Uint8Array(0)) => {
      const h = new Uint8Array(16);
      new DataView(h.buffer).setBigInt64(0, offset, false);
      new DataView(h.buffer).setBigInt64(8, size, false);
      return concat([h, data]);
    };
    const cases: [Uint8Array, string, RegExp][] = [
      [
        concat([header, record(-5n, 10n)]),
        'corrupt',
        /record #0 has an impossible image offset -5.*at file offset 0x1000/,
      ],
      [concat([header, record(10n, -3n)]), 'corrupt', /impossible image offset 10 or size -3/],
      [concat([header, record(1n << 60n, 16n)]), 'corrupt', /impossible/],
      [header, 'truncated', /holds no data records/],
      [header.subarray(0, 100), 'truncated', /inside its 4096-byte header/],
    ];
    for (const [bytes, kind, message] of cases) {
      const err = await openFlattened(new MemorySource(bytes)).catch((e) => e);
      expect(err, String(message)).toBeInstanceOf(DumpError);
      expect((err as DumpError).kind, String(message)).toBe(kind);
      expect((err as Error).message, String(message)).toMatch(message);
    }
    const wrongType = buildFlattened(recordsOf(image, 4096));
    new DataView(wrongType.buffer).setBigInt64(16, 2n, false);
    await expect(openFlattened(new MemorySource(wrongType))).rejects.toThrow(/header type is 2/);
    const newer = buildFlattened(recordsOf(image, 4096));
    new DataView(newer.buffer).setBigInt64(24, 3n, false);
    expect((await openFlattened(new MemorySource(newer))).problems[0]!.message).toMatch(/version 3/);
    // A flattened stream inside a flattened stream.
    const nested = buildFlattened(recordsOf(buildFlattened(recordsOf(image, 4096)), 4096));
    await expect(openDumpSource(new MemorySource(nested))).rejects.toThrow(
      /contains another flattened stream/,
    );
  });

  it('scans a stream of many small records quickly', async () => {
    const records = recordsOf(image, 8);
    expect(records.length).toBeGreaterThan(3000);
    const big = shuffled([...records, ...records, ...records, ...records, ...records, ...records], 3);
    const t = performance.now();
    const src = await flat(big);
    expect(performance.now() - t).toBeLessThan(3000);
    expect(Buffer.from(await src.read(0, image.length)).equals(Buffer.from(image))).toBe(true);
  });
});

describe('an ELF dump inside a flattened stream', () => {
  const elf = corpus().find((d) => d.name === 'kdump-sysrq/vmcore.elf-d31');
  it('opens with the ELF reader, its header not in the first record', async () => {
    // The first 2 MiB of the real filtered ELF dump: headers and notes, most memory cut off.
    const fd = new Uint8Array(2 << 20);
    const file = openSync(elf!.path, 'r');
    expect(readSync(file, fd, 0, fd.length, 0)).toBe(fd.length);
    closeSync(file);
    const records = shuffled(recordsOf(fd, 65536), 4);
    expect(records[0]!.offset).not.toBe(0);
    const d = await openDumpSource(new MemorySource(buildFlattened(records), elf!.path));
    expect(d.format).toBe('elf');
    expect(d.container).toBe('flattened');
    expect(d.prstatus.map((p) => p.pid)).toEqual(elf!.truth.prstatus.map((p: { pid: number }) => p.pid));
    const rip = d.prstatus[0]!.registers.get('rip')!;
    expect('0x' + rip.toString(16).padStart(16, '0')).toBe(elf!.truth.prstatus[0].regs.rip);
    expect(d.vmcoreinfo?.osRelease).toBe(elf!.truth.kernel.osrelease);
    expect(d.details.flattenedRecords).toBe(32);
  });

  it('a PT_NOTE larger than everything the stream holds is refused, not read as megabytes of holes', async () => {
    const head = new Uint8Array(64 * 1024);
    const file = openSync(elf!.path, 'r');
    readSync(file, head, 0, head.length, 0);
    closeSync(file);
    const view = new DataView(head.buffer);
    const phnum = view.getUint16(56, true);
    const note = [...Array(phnum).keys()].map((i) => 64 + i * 56).find((o) => view.getUint32(o, true) === 4)!;
    view.setBigUint64(note + 32, 48n << 20n, true); // p_filesz: 48 MiB
    // A record far away makes the image 256 MiB: the notes would fit in it, as holes.
    const records = [...recordsOf(head, 65536), { offset: 256 << 20, data: new Uint8Array(16) }];
    const d = await openDumpSource(new MemorySource(buildFlattened(records), 'hostile'));
    expect(d.problems.map((p) => p.message)).toContain(
      `a PT_NOTE segment claims ${48 << 20} bytes at offset ${view.getBigUint64(note + 8, true)}, more than the ${64 * 1024 + 16} bytes the flattened stream holds; ignored`,
    );
    expect(d.prstatus).toEqual([]);
  });
});
