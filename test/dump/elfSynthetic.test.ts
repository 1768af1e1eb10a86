/**
 * The ELF reader on cores built by test/support/elfBuilder.ts: both classes and byte orders, e_phnum
 * overflow, several PT_NOTE segments, 8-byte note alignment, filtered tails, overlapping segments,
 * segments without addresses, truncation anywhere and the incomplete flag. Every read checks exact
 * bytes and exact unavailable ranges with their reasons.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DumpError } from '../../src/dump/errors';
import { openDump, openDumpSource } from '../../src/dump/open';
import { MemorySource } from '../../src/dump/source';
import type { Dump } from '../../src/dump/types';
import { hex } from '../../src/util/bytes';
import {
  ByteWriter,
  buildElfCore,
  type ElfCoreSpec,
  EM,
  type NoteSpec,
  NT_PRSTATUS,
  pattern,
  type SegmentSpec,
  vmcoreinfoNote,
} from '../support/elfBuilder';

const open = (bytes: Uint8Array, name = 'synthetic.vmcore') => openDumpSource(new MemorySource(bytes, name));

async function openError(bytes: Uint8Array, name = 'synthetic.vmcore'): Promise<DumpError> {
  const err = await open(bytes, name).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DumpError);
  return err as DumpError;
}

/** An x86_64 NT_PRSTATUS (336 bytes) with pid and rip (pr_reg at 112, rip is word 16). */
function x86Prstatus(pid: number, rip: bigint, le = true): NoteSpec {
  const w = new ByteWriter(le);
  w.reserve(336);
  w.u32(32, pid);
  w.u64(112 + 16 * 8, rip);
  return { name: 'CORE', type: NT_PRSTATUS, desc: w.result() };
}

const INFO = vmcoreinfoNote({ OSRELEASE: '6.1.0-synthetic', PAGESIZE: 4096, CRASHTIME: 1700000000 });

async function expectRead(dump: Dump, paddr: bigint, length: number, expected: Uint8Array | null, gaps = []) {
  const r = await dump.memory.read(paddr, length);
  expect(r.gaps).toEqual(gaps);
  if (expected) expect(hex(r.bytes)).toBe(hex(expected));
}

function reasons(r: { gaps: { offset: number; length: number; reason: string }[] }) {
  return r.gaps.map((g) => [g.offset, g.length, g.reason]);
}

describe('ELF class and byte order', () => {
  const variants = [
    { cls: 64, le: true },
    { cls: 64, le: false },
    { cls: 32, le: true },
    { cls: 32, le: false },
  ] as const;
  it.each(variants)('ELF$cls little-endian=$le: header, notes and memory', async ({ cls, le }) => {
    const low = pattern(0x2000, 1);
    const high = pattern(0x1000, 2);
    const elf = buildElfCore({
      class: cls,
      littleEndian: le,
      machine: EM.x86_64,
      segments: [
        { kind: 'note', notes: [x86Prstatus(7, 0xffff_ffff_8100_0010n, le), INFO] },
        { kind: 'load', paddr: 0x10_0000n, vaddr: 0xffff_8880_0010_0000n, data: low },
        { kind: 'load', paddr: 0xfff0_0000n, data: high },
      ],
    });
    const dump = await open(elf.bytes);
    expect(dump.format).toBe('elf');
    expect(dump.details).toEqual({
      elfClass: `ELF${cls}`,
      endianness: le ? 'little' : 'big',
      programHeaders: 3,
      extendedNumbering: false,
      loadSegments: 2,
    });
    expect(dump.littleEndian).toBe(le);
    expect(dump.prstatus[0]!.pid).toBe(7);
    expect(dump.prstatus[0]!.registers.get('rip')).toBe(0xffff_ffff_8100_0010n);
    expect(dump.vmcoreinfo?.crashTime).toBe(1700000000);
    expect(dump.problems).toEqual([]);
    expect(dump.memory.ranges()).toEqual([
      { start: 0x10_0000n, end: 0x10_2000n },
      { start: 0xfff0_0000n, end: 0xfff0_1000n },
    ]);
    await expectRead(dump, 0x10_0ff0n, 0x20, low.subarray(0xff0, 0x1010));
    await expectRead(dump, 0xfff0_0ffcn, 4, high.subarray(0xffc));
    // ELF32 keeps only 32 bits of p_vaddr.
    expect(dump.virtualSegments).toEqual(
      [
        {
          vaddr: cls === 64 ? 0xffff_8880_0010_0000n : 0x0010_0000n,
          paddr: 0x10_0000n,
          size: 0x2000n,
        },
      ].filter((s) => s.vaddr !== s.paddr),
    );
  });
});

describe('e_phnum overflow (PN_XNUM)', () => {
  it.each([64, 32] as const)('ELF%i: the count comes from section header 0', async (cls) => {
    const data = pattern(64, 3);
    const elf = buildElfCore({
      class: cls,
      littleEndian: cls === 64,
      machine: cls === 64 ? EM.aarch64 : EM.arm,
      extendedNumbering: true,
      segments: [
        { kind: 'note', notes: [INFO] },
        { kind: 'load', paddr: 0x4000_0000n, data },
        { kind: 'load', paddr: 0x4000_1000n, data: data.subarray(0, 32), memsz: 0x1000 },
      ],
    });
    const dump = await open(elf.bytes);
    expect(dump.details.extendedNumbering).toBe(true);
    expect(dump.details.programHeaders).toBe(3);
    expect(dump.details.loadSegments).toBe(2);
    await expectRead(dump, 0x4000_0000n, 64, data);
    expect(reasons(await dump.memory.read(0x4000_1000n, 64))).toEqual([[32, 32, 'excluded']]);
  });

  it('reads a core with 70000 program headers, as QEMU writes with paging=true', async () => {
    const n = 70000;
    const segments: SegmentSpec[] = [{ kind: 'note', notes: [INFO] }];
    for (let i = 0; i < n; i++) {
      const d = new Uint8Array(8);
      new DataView(d.buffer).setUint32(0, i, true);
      new DataView(d.buffer).setUint32(4, ~i >>> 0, true);
      segments.push({ kind: 'load', paddr: BigInt(i) * 0x1000n, data: d });
    }
    const elf = buildElfCore({ class: 64, littleEndian: true, machine: EM.x86_64, segments });
    expect(new DataView(elf.bytes.buffer).getUint16(56, true)).toBe(0xffff);
    const dump = await open(elf.bytes);
    expect(dump.details.programHeaders).toBe(n + 1);
    expect(dump.details.loadSegments).toBe(n);
    for (const i of [0, 1, 65534, 65535, 65536, n - 1]) {
      const r = await dump.memory.read(BigInt(i) * 0x1000n, 12);
      const v = new DataView(r.bytes.buffer, r.bytes.byteOffset);
      expect([v.getUint32(0, true), v.getUint32(4, true)]).toEqual([i, ~i >>> 0]);
      expect(reasons(r)).toEqual([[8, 4, 'not-in-dump']]);
    }
  });

  it('a PN_XNUM count without a section header is reported, not guessed', async () => {
    const elf = buildElfCore({
      class: 64,
      littleEndian: true,
      machine: EM.x86_64,
      extendedNumbering: true,
      segments: [{ kind: 'note', notes: [INFO] }],
    });
    const bytes = elf.bytes.slice();
    new DataView(bytes.buffer).setBigUint64(40, 0n, true); // e_shoff = 0
    const err = await openError(bytes);
    expect(err.kind).toBe('corrupt');
    expect(err.message).toMatch(/PN_XNUM|section header/);
    // e_shoff pointing past the end of the file.
    new DataView(bytes.buffer).setBigUint64(40, 0x7fff_ffff_ffffn, true);
    expect((await openError(bytes)).kind).toBe('truncated');
    new DataView(bytes.buffer).setBigUint64(40, 0xffff_ffff_ffff_fff0n, true);
    expect(['truncated', 'corrupt']).toContain((await openError(bytes)).kind);
  });
});

describe('notes', () => {
  it('walks every PT_NOTE: one per CPU, an empty one, terminators with garbage after them, VMCOREINFO apart', async () => {
    const garbage = pattern(40, 9);
    const elf = buildElfCore({
      class: 64,
      littleEndian: true,
      machine: EM.x86_64,
      segments: [
        { kind: 'note', notes: [x86Prstatus(100, 0x1111n)], terminator: true, trailing: garbage },
        { kind: 'note', notes: [], filesz: 0 }, // an offline CPU
        { kind: 'note', notes: [x86Prstatus(0, 0x2222n)], terminator: true },
        { kind: 'note', notes: [INFO] },
        { kind: 'load', paddr: 0n, data: pattern(16, 1) },
      ],
    });
    const dump = await open(elf.bytes);
    expect(dump.notes.map((n) => [n.name, n.type, n.desc.length])).toEqual([
      ['CORE', 1, 336],
      ['CORE', 1, 336],
      ['VMCOREINFO', 0, INFO.desc.length],
    ]);
    expect(dump.notes.map((n) => n.fileOffset)).toEqual([
      elf.noteOffsets[0]![0],
      elf.noteOffsets[2]![0],
      elf.noteOffsets[3]![0],
    ]);
    expect(dump.prstatus.map((p) => [p.noteIndex, p.pid, p.registers.get('rip')])).toEqual([
      [0, 100, 0x1111n],
      [1, 0, 0x2222n],
    ]);
    expect(dump.vmcoreinfo?.osRelease).toBe('6.1.0-synthetic');
    expect(dump.problems).toEqual([]);
  });

  it('honours 8-byte note alignment (p_align = 8): name and descriptor padded to 8', async () => {
    const odd: NoteSpec = { name: 'LINUX', type: 0x700, desc: pattern(13, 4) };
    const seg = {
      kind: 'note' as const,
      align: 8 as const,
      notes: [odd, x86Prstatus(5, 0xabcdn), { name: 'QEMU!', type: 0, desc: pattern(3, 5) }, INFO],
    };
    const elf = buildElfCore({ class: 64, littleEndian: true, machine: EM.x86_64, segments: [seg] });
    const dump = await open(elf.bytes);
    expect(dump.notes.map((n) => [n.name, n.type, hex(n.desc)])).toEqual(
      seg.notes.map((n) => [n.name, n.type, hex(n.desc)]),
    );
    expect(dump.prstatus[0]!.registers.get('rip')).toBe(0xabcdn);
    expect(dump.vmcoreinfo?.pageSize).toBe(4096);
    expect(dump.problems).toEqual([]);
  });

  it('accepts note names without their NUL', async () => {
    const p = x86Prstatus(9, 0x99n);
    const elf = buildElfCore({
      class: 64,
      littleEndian: true,
      machine: EM.x86_64,
      segments: [{ kind: 'note', notes: [{ ...p, rawName: new TextEncoder().encode('CORE') }, INFO] }],
    });
    const dump = await open(elf.bytes);
    expect(dump.prstatus.map((x) => x.pid)).toEqual([9]);
    expect(dump.vmcoreinfo).toBeDefined();
  });

  it('a note claiming more than its segment ends the walk with a problem, keeping the notes before it', async () => {
    const elf = buildElfCore({
      class: 64,
      littleEndian: true,
      machine: EM.x86_64,
      segments: [{ kind: 'note', notes: [x86Prstatus(1, 1n), INFO] }],
    });
    const bytes = elf.bytes.slice();
    const infoHeader = elf.noteOffsets[0]![1]!;
    new DataView(bytes.buffer).setUint32(infoHeader + 4, 0x7fff_0000, true); // descsz
    const dump = await open(bytes);
    expect(dump.prstatus.map((x) => x.pid)).toEqual([1]);
    expect(dump.vmcoreinfo).toBeUndefined();
    const kinds = dump.problems.map((p) => p.kind);
    expect(kinds).toContain('notes');
    expect(kinds).toContain('no-vmcoreinfo');
    expect(dump.problems.find((p) => p.kind === 'notes')!.message).toContain(`0x${infoHeader.toString(16)}`);
  });

  it('a note area of 200000 tiny notes: bounded, no stack overflow, the real notes before them kept', async () => {
    const tiny: NoteSpec = { name: 'X', type: 7, desc: new Uint8Array(0) };
    const elf = buildElfCore({
      class: 64,
      littleEndian: true,
      machine: EM.x86_64,
      segments: [
        { kind: 'note', notes: [x86Prstatus(1, 0x10n), INFO] },
        { kind: 'note', notes: Array.from({ length: 200_000 }, () => tiny) },
      ],
    });
    const dump = await open(elf.bytes);
    expect(dump.prstatus.map((p) => p.pid)).toEqual([1]);
    expect(dump.vmcoreinfo?.osRelease).toBe('6.1.0-synthetic');
    expect(dump.notes.length).toBeLessThan(200_000);
    expect(dump.notes.length).toBeGreaterThan(1000);
    expect(dump.problems.map((p) => p.kind)).toEqual(['notes']);
    expect(dump.problems[0]!.message).toMatch(/more notes than any kernel writes/);
  });

  it('without VMCOREINFO says so and assumes 4 KiB pages', async () => {
    const elf = buildElfCore({
      class: 64,
      littleEndian: true,
      machine: EM.x86_64,
      segments: [{ kind: 'note', notes: [x86Prstatus(1, 1n)] }],
    });
    const dump = await open(elf.bytes);
    expect(dump.problems.map((p) => p.kind)).toEqual(['no-vmcoreinfo']);
    expect(dump.memory.pageSize).toBe(4096);
  });
});

describe('physical memory', () => {
  it('reports excluded tails (p_filesz < p_memsz) and holes with exact ranges', async () => {
    const a = pattern(0x1800, 11);
    const b = pattern(0x1000, 12);
    const elf = buildElfCore({
      class: 64,
      littleEndian: true,
      machine: EM.x86_64,
      segments: [
        { kind: 'note', notes: [INFO] },
        { kind: 'load', paddr: 0x10000n, data: a, memsz: 0x4000 },
        { kind: 'load', paddr: 0x20000n, data: b },
      ],
    });
    const dump = await open(elf.bytes);
    expect(dump.problems.map((p) => p.kind)).toEqual(['excluded-pages']);
    expect(dump.problems[0]!.message).toContain('10.0 KiB');
    expect(dump.memory.ranges()).toEqual([
      { start: 0x10000n, end: 0x14000n },
      { start: 0x20000n, end: 0x21000n },
    ]);
    // Stored, then the filtered tail.
    const r1 = await dump.memory.read(0x11700n, 0x200);
    expect(hex(r1.bytes.subarray(0, 0x100))).toBe(hex(a.subarray(0x1700)));
    expect(r1.bytes.subarray(0x100).every((x) => x === 0)).toBe(true);
    expect(reasons(r1)).toEqual([[0x100, 0x100, 'excluded']]);
    expect(r1.gaps[0]!.detail).toMatch(/p_filesz < p_memsz/);
    // Excluded tail, then a hole, then the next segment.
    const r2 = await dump.memory.read(0x13ff0n, 0xc020);
    expect(reasons(r2)).toEqual([
      [0, 0x10, 'excluded'],
      [0x10, 0xc000, 'not-in-dump'],
    ]);
    expect(hex(r2.bytes.subarray(0xc010))).toBe(hex(b.subarray(0, 0x10)));
    // Before the first and after the last segment.
    expect(reasons(await dump.memory.read(0n, 0x10))).toEqual([[0, 0x10, 'not-in-dump']]);
    expect(reasons(await dump.memory.read(0x20ff8n, 0x10))).toEqual([[8, 8, 'not-in-dump']]);
    expect(reasons(await dump.memory.read(0xffff_ffff_ffff_f000n, 0x10))).toEqual([[0, 0x10, 'not-in-dump']]);
  });

  it('overlapping kernel-image and direct-map segments: stored bytes win over a filtered tail', async () => {
    const ram = pattern(0x4000, 21);
    const elf = buildElfCore({
      class: 64,
      littleEndian: true,
      machine: EM.x86_64,
      segments: [
        { kind: 'note', notes: [INFO] },
        // Kernel image: first page stored, the rest filtered.
        {
          kind: 'load',
          paddr: 0x100_1000n,
          vaddr: 0xffff_ffff_8100_0000n,
          data: ram.subarray(0x1000, 0x2000),
          memsz: 0x3000,
        },
        // Direct map: all of the same RAM stored.
        { kind: 'load', paddr: 0x100_0000n, vaddr: 0xffff_8880_0100_0000n, data: ram },
      ],
    });
    const dump = await open(elf.bytes);
    await expectRead(dump, 0x100_0000n, 0x4000, ram);
    expect(dump.memory.ranges()).toEqual([{ start: 0x100_0000n, end: 0x100_4000n }]);
    expect(dump.virtualSegments).toEqual([
      { vaddr: 0xffff_ffff_8100_0000n, paddr: 0x100_1000n, size: 0x3000n },
      { vaddr: 0xffff_8880_0100_0000n, paddr: 0x100_0000n, size: 0x4000n },
    ]);
  });

  it('an excluded tail that no other segment stores stays excluded next to an overlap', async () => {
    const ram = pattern(0x2000, 22);
    const elf = buildElfCore({
      class: 64,
      littleEndian: true,
      machine: EM.x86_64,
      segments: [
        { kind: 'load', paddr: 0x1000n, data: ram.subarray(0, 0x1000), memsz: 0x3000 },
        { kind: 'load', paddr: 0x2000n, data: ram.subarray(0x1000) },
      ],
    });
    const dump = await open(elf.bytes);
    const r = await dump.memory.read(0x1000n, 0x3000);
    expect(reasons(r)).toEqual([[0x2000, 0x1000, 'excluded']]);
    expect(hex(r.bytes.subarray(0, 0x2000))).toBe(hex(ram));
  });

  it('segments without a virtual address (0 or all-ones) or without a physical one (all-ones)', async () => {
    const d = pattern(0x100, 31);
    const elf32 = buildElfCore({
      class: 32,
      littleEndian: true,
      machine: EM.i386,
      segments: [
        { kind: 'note', notes: [INFO] },
        { kind: 'load', paddr: 0x1000n, vaddr: 0xc000_1000n, data: d }, // lowmem: direct map
        { kind: 'load', paddr: 0x3800_0000n, vaddr: 0xffff_ffffn, data: d }, // highmem: no vaddr
        { kind: 'load', paddr: 0x4000_0000n, vaddr: 0n, data: d }, // QEMU without paging
      ],
    });
    const dump32 = await open(elf32.bytes);
    expect(dump32.virtualSegments).toEqual([{ vaddr: 0xc000_1000n, paddr: 0x1000n, size: 0x100n }]);
    await expectRead(dump32, 0x3800_0080n, 0x10, d.subarray(0x80, 0x90));
    await expectRead(dump32, 0x4000_0000n, 0x100, d);

    const elf64 = buildElfCore({
      class: 64,
      littleEndian: true,
      machine: EM.x86_64,
      segments: [
        { kind: 'load', paddr: 0x1000n, data: d },
        // /proc/kcore-style vmalloc segment: a virtual address but no physical one.
        {
          kind: 'load',
          paddr: 0xffff_ffff_ffff_ffffn,
          vaddr: 0xffff_c900_0000_0000n,
          data: pattern(0x100, 32),
        },
      ],
    });
    const dump64 = await open(elf64.bytes);
    expect(dump64.memory.ranges()).toEqual([{ start: 0x1000n, end: 0x1100n }]);
    expect(dump64.details.loadSegments).toBe(2);
  });

  it('a segment whose file offset is near 2^53 reads as truncated from a real file, never throws', async () => {
    const elf = buildElfCore({
      class: 64,
      littleEndian: true,
      machine: EM.x86_64,
      segments: [
        { kind: 'load', paddr: 0x1000n, data: new Uint8Array(0x100), offset: Number.MAX_SAFE_INTEGER - 0x10 },
      ],
    });
    const dir = mkdtempSync(join(tmpdir(), 'kdump-elf-'));
    try {
      const path = join(dir, 'vmcore');
      writeFileSync(path, elf.bytes);
      const dump = await openDump(path);
      expect(dump.problems.map((p) => p.kind)).toContain('truncated');
      expect(reasons(await dump.memory.read(0x1000n, 0x100))).toEqual([[0, 0x100, 'truncated']]);
      await dump.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('truncated and incomplete files', () => {
  const a = pattern(0x3000, 41);
  const b = pattern(0x2000, 42);
  const spec: ElfCoreSpec = {
    class: 64,
    littleEndian: true,
    machine: EM.x86_64,
    segments: [
      { kind: 'note', notes: [x86Prstatus(3, 0x33n), INFO] },
      { kind: 'load', paddr: 0x10_0000n, data: a },
      { kind: 'load', paddr: 0x20_0000n, data: b },
    ],
  };
  const full = buildElfCore(spec);
  const bStart = full.segmentOffsets[2]!;

  it('cut inside a PT_LOAD: the bytes before the cut read, the rest is "truncated"', async () => {
    const cut = bStart + 0x800;
    const dump = await open(full.bytes.slice(0, cut));
    const t = dump.problems.find((p) => p.kind === 'truncated');
    expect(t?.message).toContain('6.0 KiB');
    expect(t?.message).toContain(`(${cut} bytes)`);
    await expectRead(dump, 0x10_0000n, 0x3000, a);
    const r = await dump.memory.read(0x20_07f0n, 0x20);
    expect(hex(r.bytes.subarray(0, 0x10))).toBe(hex(b.subarray(0x7f0, 0x800)));
    expect(r.gaps).toEqual([
      { offset: 0x10, length: 0x10, reason: 'truncated', detail: 'the file ends before this data' },
    ]);
    expect(reasons(await dump.memory.read(0x20_1000n, 0x1000))).toEqual([[0, 0x1000, 'truncated']]);
    // A whole segment beyond the end.
    const dump2 = await open(full.bytes.slice(0, bStart));
    expect(reasons(await dump2.memory.read(0x20_0000n, 0x2000))).toEqual([[0, 0x2000, 'truncated']]);
  });

  it('cut inside the notes: the notes before the cut survive, the problem is named', async () => {
    const cut = full.noteOffsets[0]![1]! + 20; // in the VMCOREINFO note
    const dump = await open(full.bytes.slice(0, cut));
    expect(dump.prstatus.map((p) => p.pid)).toEqual([3]);
    expect(dump.vmcoreinfo).toBeUndefined();
    const kinds = dump.problems.map((p) => p.kind);
    expect(kinds).toContain('truncated');
    expect(kinds).toContain('no-vmcoreinfo');
    expect(reasons(await dump.memory.read(0x10_0000n, 0x10))).toEqual([[0, 0x10, 'truncated']]);
  });

  it('cut inside the headers: a DumpError that says what is missing and where', async () => {
    const inPhdrs = await openError(full.bytes.slice(0, full.phoff + 60));
    expect(inPhdrs.kind).toBe('truncated');
    expect(inPhdrs.offset).toBe(full.phoff);
    expect(inPhdrs.message).toMatch(/program headers/);
    const inEhdr = await openError(full.bytes.slice(0, 40));
    expect(inEhdr.kind).toBe('truncated');
    expect(inEhdr.message).toMatch(/ELF header/);
    expect((await openError(full.bytes.slice(0, 3))).kind).toBe('not-a-dump');
    expect((await openError(new Uint8Array(0))).message).toMatch(/empty/);
  });

  it('every cut point either opens with problems or fails with a DumpError', async () => {
    for (let cut = 0; cut <= full.bytes.length; cut += cut < 0x400 ? 1 : 0x100) {
      const result = await open(full.bytes.slice(0, cut)).then(
        async (d) => {
          await d.memory.read(0x10_0000n, 0x10);
          await d.memory.read(0x20_0000n, 0x10);
          return d.problems.length > 0 || cut === full.bytes.length ? 'ok' : `no problem at cut ${cut}`;
        },
        (e: unknown) => (e instanceof DumpError ? 'ok' : `threw ${String(e)} at cut ${cut}`),
      );
      expect(result).toBe('ok');
    }
  });

  it('the incomplete flag (e_flags bit 0) and a vmcore-incomplete name are reported', async () => {
    const flagged = await open(buildElfCore({ ...spec, flags: 1 }).bytes);
    expect(flagged.problems.map((p) => p.kind)).toEqual(['incomplete']);
    expect(flagged.problems[0]!.message).toMatch(/e_flags bit 0/);
    await expectRead(flagged, 0x10_0000n, 0x3000, a);

    const dir = mkdtempSync(join(tmpdir(), 'kdump-elf-'));
    try {
      const path = join(dir, 'vmcore-incomplete');
      writeFileSync(path, full.bytes);
      const named = await openDump(path);
      expect(named.problems.map((p) => p.kind)).toEqual(['incomplete']);
      await expectRead(named, 0x20_0000n, 0x2000, b);
      await named.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('not a core this reader can use', () => {
  const base: ElfCoreSpec = {
    class: 64,
    littleEndian: true,
    machine: EM.x86_64,
    segments: [{ kind: 'note', notes: [INFO] }],
  };
  it('an executable (a vmlinux given as the dump)', async () => {
    const err = await openError(buildElfCore({ ...base, type: 2 }).bytes, 'vmlinux');
    expect(err.kind).toBe('not-a-dump');
    expect(err.message).toMatch(/vmlinux.*type 2.*symbol file/);
  });
  it('an architecture it does not know (MIPS)', async () => {
    const err = await openError(buildElfCore({ ...base, machine: 8 }).bytes);
    expect(err.kind).toBe('unsupported');
    expect(err.message).toMatch(/machine 8/);
  });
  it('impossible class, byte order, entry size or count', async () => {
    const good = buildElfCore(base).bytes;
    const cls = good.slice();
    cls[4] = 3;
    expect((await openError(cls)).message).toMatch(/class byte is 3/);
    const data = good.slice();
    data[5] = 0;
    expect((await openError(data)).offset).toBe(5);
    const small = buildElfCore({ ...base, phentsize: 32 }).bytes;
    expect((await openError(small)).message).toMatch(/e_phentsize is 32, expected 56/);
    // A bigger entry size would multiply what is read by up to 65535 / 56.
    const big = buildElfCore({ ...base, phentsize: 0xfff0 }).bytes;
    expect(await openError(big)).toMatchObject({ kind: 'corrupt', offset: 54 });
    const none = good.slice();
    new DataView(none.buffer).setUint16(56, 0, true);
    expect((await openError(none)).message).toMatch(/no program headers/);
  });
});
