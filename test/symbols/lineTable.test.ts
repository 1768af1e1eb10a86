/**
 * DWARF line tables on synthetic ELF files: every line-program version, both string section kinds,
 * 64-bit DWARF, a 32-bit big-endian file, the index without `.debug_aranges`; and corrupt input, which
 * must end in "no line info" with a reason, quickly and without a throw.
 */
import { describe, expect, it } from 'vitest';
import { MemorySource } from '../../src/dump/source';
import { DwarfLineTable, type LineLookup, LineTableError } from '../../src/symbols/lineTable';
import { buildDwarf, Emitter, LineOps, type UnitSpec, writeLineProgram } from '../support/dwarfBuilder';
import { buildVmlinux } from '../support/vmlinuxBuilder';

const EM_X86_64 = 62;
const TEXT = 0xffff_ffff_8100_0000n;

/** Rows: TEXT → main.c:10:5, TEXT+4 → main.c:12, TEXT+8 → util.h:13, sequence ends at TEXT+12. */
function standardProgram(le = true, addressSize = 8, base = TEXT): Uint8Array {
  return new LineOps(le)
    .setAddress(base, addressSize)
    .setFile(1)
    .advanceLine(9)
    .setColumn(5)
    .copy()
    .setColumn(0)
    .special(4, 2)
    .setFile(2)
    .special(4, 1)
    .advancePc(4)
    .endSequence()
    .bytes();
}

function unit(version: 2 | 3 | 4 | 5, extra: Partial<UnitSpec> = {}, le = true): UnitSpec {
  const addressSize = extra.addressSize ?? 8;
  const base = extra.low ?? TEXT;
  return {
    version: version >= 5 ? 5 : 4,
    name: 'kernel/main.c',
    compDir: '/build/linux',
    low: base,
    high: base + 12n,
    ...extra,
    line: {
      version,
      compDir: '/build/linux',
      directories: ['kernel', 'include/linux'],
      // DWARF 5 numbers files from 0 (the primary file), earlier versions from 1.
      files:
        version >= 5
          ? [
              { name: 'main.c', dir: 1 },
              { name: 'main.c', dir: 1 },
              { name: 'util.h', dir: 2 },
            ]
          : [
              { name: 'main.c', dir: 1 },
              { name: 'util.h', dir: 2 },
            ],
      program: standardProgram(le, addressSize, base),
      ...extra.line,
    },
  };
}

interface FileOptions {
  le?: boolean;
  elfClass?: 32 | 64;
  omit?: string[];
  replace?: Record<string, Uint8Array>;
  flags?: Record<string, number>;
}

function elfWith(units: UnitSpec[], o: FileOptions = {}): Uint8Array {
  const le = o.le ?? true;
  const sections = { ...buildDwarf(units, le), ...o.replace } as Record<string, Uint8Array>;
  return buildVmlinux({
    machine: EM_X86_64,
    elfClass: o.elfClass ?? 64,
    littleEndian: le,
    symbols: [],
    stripped: true,
    extraSections: Object.entries(sections)
      .filter(([name]) => !o.omit?.includes(name))
      .map(([name, data]) => ({ name, data, flags: o.flags?.[name] })),
  });
}

async function table(units: UnitSpec[], o: FileOptions = {}): Promise<DwarfLineTable> {
  return DwarfLineTable.fromSource(new MemorySource(elfWith(units, o), 'synthetic-vmlinux'));
}

const at = (t: DwarfLineTable, offset: bigint, base = TEXT) => t.lookup(base + offset);
const found = (file: string, line: number, column?: number): LineLookup => ({
  found: true,
  line: column === undefined ? { file, line } : { file, line, column },
});

describe('line programs of every DWARF version', () => {
  it.each([2, 3, 4, 5] as const)(
    'version %i: comp_dir/include dir/name, line and column by address',
    async (v) => {
      const t = await table([unit(v)]);
      expect(await at(t, 0n)).toEqual(found('/build/linux/kernel/main.c', 10, 5));
      expect(await at(t, 3n)).toEqual(found('/build/linux/kernel/main.c', 10, 5));
      expect(await at(t, 4n)).toEqual(found('/build/linux/kernel/main.c', 12));
      expect(await at(t, 8n)).toEqual(found('/build/linux/include/linux/util.h', 13));
      expect(await at(t, 11n)).toEqual(found('/build/linux/include/linux/util.h', 13));
      // The end of the sequence and anything outside the unit have no line.
      expect((await at(t, 12n)).found).toBe(false);
      expect((await at(t, -1n)).found).toBe(false);
    },
  );

  it.each(['string', 'strp', 'line_strp'] as const)(
    'DWARF 5 paths and unit strings as DW_FORM_%s',
    async (form) => {
      const u = unit(5, { stringForm: form });
      u.line.pathForm = form;
      const t = await table([u]);
      expect(await at(t, 8n)).toEqual(found('/build/linux/include/linux/util.h', 13));
    },
  );

  it('64-bit DWARF units and line programs', async () => {
    const u = unit(5, { dwarf64: true });
    u.line.dwarf64 = true;
    const t = await table([u]);
    expect(await at(t, 4n)).toEqual(found('/build/linux/kernel/main.c', 12));
  });

  it('a 32-bit big-endian file with 4-byte addresses', async () => {
    const base = 0xc100_0000n;
    const t = await table([unit(4, { addressSize: 4, low: base }, false)], { le: false, elfClass: 32 });
    expect(await at(t, 4n, base)).toEqual(found('/build/linux/kernel/main.c', 12));
    const t5 = await table([unit(5, { addressSize: 4, low: base }, false)], { le: false, elfClass: 32 });
    expect(await at(t5, 8n, base)).toEqual(found('/build/linux/include/linux/util.h', 13));
  });

  it('a relative comp_dir stays relative (Debian), absolute include dirs and names stand alone, paths are normalized', async () => {
    const u = unit(5, { compDir: 'debian/build/amd64' });
    u.line.compDir = 'debian/build/amd64';
    u.line.directories = ['kernel/../kernel/./', '/usr/include'];
    u.line.files = [
      { name: 'main.c', dir: 1 },
      { name: 'main.c', dir: 1 },
      { name: 'stddef.h', dir: 2 },
    ];
    const t = await table([u]);
    expect(await at(t, 0n)).toEqual(found('debian/build/amd64/kernel/main.c', 10, 5));
    expect(await at(t, 8n)).toEqual(found('/usr/include/stddef.h', 13));
  });

  it('several rows at one address: the last counts; line 0 means no line; define_file adds a file', async () => {
    const program = new LineOps()
      .setAddress(TEXT)
      .advanceLine(19)
      .copy() // line 20 at TEXT, covers nothing
      .advanceLine(10)
      .copy() // line 30 at TEXT: this one covers TEXT..TEXT+4
      .defineFile('extra.h', 2)
      .setFile(3)
      .special(4, 1) // extra.h:31 at TEXT+4
      .advanceLine(-31)
      .special(4, 0) // line 0 at TEXT+8
      .advancePc(4)
      .endSequence()
      .bytes();
    const t = await table([unit(4, { line: { ...unit(4).line, program } })]);
    expect(await at(t, 0n)).toEqual(found('/build/linux/kernel/main.c', 30));
    expect(await at(t, 4n)).toEqual(found('/build/linux/include/linux/extra.h', 31));
    const zero = await at(t, 8n);
    expect(zero).toEqual({ found: false, reason: expect.stringMatching(/line 0/) });
  });

  it('sequences out of address order, several units, const_add_pc and fixed_advance_pc', async () => {
    const program = new LineOps()
      .setAddress(TEXT + 0x100n)
      .advanceLine(99)
      .copy() // 100 at +0x100
      .constAddPc() // +17 bytes
      .special(0, 1) // 101 at +0x111
      .fixedAdvancePc(0x10)
      .endSequence() // ends +0x121
      .setAddress(TEXT)
      .advanceLine(4)
      .copy() // 5 at +0
      .fixedAdvancePc(8)
      .endSequence()
      .bytes();
    const first = unit(5, { line: { ...unit(5).line, program }, high: TEXT + 0x121n });
    const second = unit(4, { low: TEXT + 0x200n, name: 'kernel/other.c' });
    const t = await table([first, second]);
    expect(await at(t, 0n)).toEqual(found('/build/linux/kernel/main.c', 5));
    expect((await at(t, 8n)).found).toBe(false);
    expect(await at(t, 0x110n)).toEqual(found('/build/linux/kernel/main.c', 100));
    expect(await at(t, 0x111n)).toEqual(found('/build/linux/kernel/main.c', 101));
    expect(await at(t, 0x120n)).toEqual(found('/build/linux/kernel/main.c', 101));
    expect(await at(t, 0x204n)).toEqual(found('/build/linux/kernel/main.c', 12));
  });

  it('without .debug_aranges, units are indexed from their first DIE (low_pc/high_pc)', async () => {
    const units = [unit(4), unit(5, { low: TEXT + 0x40n, name: 'b.c' })];
    for (const t of [
      await table(units, { omit: ['.debug_aranges'] }),
      await DwarfLineTable.fromSource(new MemorySource(elfWith(units)), { useAranges: false }),
    ]) {
      expect(t.description).toMatch(/no \.debug_aranges|units found/);
      expect(await at(t, 4n)).toEqual(found('/build/linux/kernel/main.c', 12));
      expect(await at(t, 0x48n)).toEqual(found('/build/linux/include/linux/util.h', 13));
      expect((await at(t, 0x1000n)).found).toBe(false);
    }
  });

  it('files it cannot use are refused when opened, with the reason', async () => {
    const src = (bytes: Uint8Array) => DwarfLineTable.fromSource(new MemorySource(bytes, 'x'));
    await expect(src(elfWith([unit(5)], { omit: ['.debug_line'] }))).rejects.toThrow(
      /no DWARF line information \(missing \.debug_line\)/,
    );
    await expect(src(elfWith([unit(5)], { flags: { '.debug_line': 0x800 } }))).rejects.toThrow(
      /\.debug_line is compressed \(SHF_COMPRESSED\).*objcopy --decompress-debug-sections/,
    );
    await expect(src(new TextEncoder().encode('0000 T not an elf file at all, just text\n'))).rejects.toThrow(
      LineTableError,
    );
  });
});

/** Replace the line program of a valid file with raw bytes (the unit, initial length included). */
function withLineSection(bytes: Uint8Array, u = unit(5)): Promise<DwarfLineTable> {
  return table([u], { replace: { '.debug_line': bytes } });
}

/** A valid DWARF 5 line header followed by `program` (which may be anything). */
function lineUnit(program: Uint8Array): Uint8Array {
  const e = new Emitter();
  const u = unit(5);
  writeLineProgram(
    e,
    { ...u.line, pathForm: 'string', program },
    {
      // Strings inline: no string table needed.
      str: undefined as never,
      lineStr: undefined as never,
    },
  );
  return e.bytes();
}

async function expectNoLine(t: DwarfLineTable, reason: RegExp, offset = 0n): Promise<void> {
  const started = performance.now();
  const r = await at(t, offset);
  expect(r).toEqual({ found: false, reason: expect.stringMatching(reason) });
  expect(performance.now() - started).toBeLessThan(5000);
}

describe('corrupt DWARF: bounded, and "no line info" with a reason', () => {
  it('a truncated .debug_line (the unit runs past the section)', async () => {
    const whole = lineUnit(standardProgram());
    await expectNoLine(await withLineSection(whole.subarray(0, 40)), /runs past the end of \.debug_line/);
    await expectNoLine(await withLineSection(whole.subarray(0, 3)), /runs past the end|past \.debug_line/);
  });

  it('absurd and reserved unit lengths', async () => {
    const huge = new Emitter()
      .u32(0xffff_ffff)
      .u64(1n << 52n)
      .u16(5)
      .bytes();
    await expectNoLine(await withLineSection(huge), /implausible/);
    const max = new Emitter()
      .u32(0xffff_ffff)
      .u64((1n << 64n) - 1n)
      .bytes();
    await expectNoLine(await withLineSection(max), /absurd/);
    const reserved = new Emitter().u32(0xffff_fff5).u16(5).bytes();
    await expectNoLine(await withLineSection(reserved), /reserved unit length/);
  });

  it('LEB128 that never ends, or holds more than 64 bits', async () => {
    const endless = new LineOps()
      .setAddress(TEXT)
      .raw([2, ...new Array(40).fill(0x80), 0])
      .endSequence()
      .bytes();
    await expectNoLine(await withLineSection(lineUnit(endless)), /LEB128 longer than 10 bytes/);
    const tooBig = new LineOps()
      .setAddress(TEXT)
      .raw([3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f])
      .bytes();
    await expectNoLine(await withLineSection(lineUnit(tooBig)), /LEB128 value is too large/);
    const unterminated = new LineOps().setAddress(TEXT).raw([2, 0x80, 0x80]).bytes();
    await expectNoLine(await withLineSection(lineUnit(unterminated)), /LEB128 runs past the end/);
  });

  it('a program that emits rows without end (a copy loop) is cut off at the row cap', async () => {
    const ops = new LineOps().setAddress(TEXT);
    ops.raw(new Array((1 << 20) + 1).fill(1)); // DW_LNS_copy
    await expectNoLine(await withLineSection(lineUnit(ops.endSequence().bytes())), /more than 1048576 rows/);
  });

  it('addresses that wrap around or run backwards still end, and answer only what they cover', async () => {
    const program = new LineOps()
      .setAddress(TEXT)
      .copy()
      .advancePc((1n << 53n) - 1n)
      .copy()
      .advancePc((1n << 53n) - 1n)
      .copy()
      .setAddress(TEXT - 0x1000n)
      .copy()
      .endSequence()
      .bytes();
    const t = await withLineSection(lineUnit(program));
    const r = await at(t, 0n);
    expect(r.found === false || r.line.line === 1).toBe(true);
  });

  it('header tables that claim absurd counts, zero line_range, unknown versions', async () => {
    const e = new Emitter();
    e.unit(false, () => {
      e.u16(5).u8(8).u8(0);
      const setLength = e.placeholder(4);
      const start = e.length;
      e.u8(1).u8(1).u8(1).u8(0xfb).u8(14).u8(13).raw([0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1]);
      e.u8(0).uleb(1n << 40n); // no entry format, 2^40 directories
      setLength(e.length - start);
    });
    await expectNoLine(await withLineSection(e.bytes()), /entries is implausible/);

    const zeroRange = lineUnit(standardProgram());
    zeroRange[4 + 2 + 2 + 4 + 4] = 0; // line_range
    await expectNoLine(await withLineSection(zeroRange), /line_range is 0/);

    const version9 = lineUnit(standardProgram());
    version9[4] = 9;
    await expectNoLine(await withLineSection(version9), /version 9/);
  });

  it('garbage in .debug_info or .debug_abbrev', async () => {
    const noise = Uint8Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff);
    await expectNoLine(
      await table([unit(5)], { replace: { '.debug_info': noise } }),
      /unit at \.debug_info\+0x0/,
    );
    await expectNoLine(
      await table([unit(5)], { replace: { '.debug_abbrev': new Uint8Array([0]) } }),
      /abbreviation 7 is not in the table/,
    );
  });

  it('random corruption of every DWARF section never throws and never hangs', async () => {
    const valid = elfWith([unit(5), unit(4, { low: TEXT + 0x40n })]);
    let seed = 20240611;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    const started = performance.now();
    let answered = 0;
    for (let round = 0; round < 300; round++) {
      const bytes = valid.slice();
      // Corrupt between the ELF header and the section header table at the end: the DWARF sections.
      for (let k = 0; k < 1 + rand(6); k++) bytes[64 + rand(bytes.length - 64 - 1024)] = rand(256);
      let t: DwarfLineTable;
      try {
        t = await DwarfLineTable.fromSource(new MemorySource(bytes));
      } catch (err) {
        expect(err).toBeInstanceOf(LineTableError);
        continue;
      }
      for (const offset of [0n, 4n, 8n, 0x44n]) {
        const r = await at(t, offset);
        expect(typeof r.found).toBe('boolean');
        answered++;
      }
    }
    expect(answered).toBeGreaterThan(0);
    expect(performance.now() - started).toBeLessThan(20_000);
  });
});
