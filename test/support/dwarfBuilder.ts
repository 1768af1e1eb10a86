/**
 * Writes small DWARF debug sections for tests: compilation units (DWARF 4 or 5 headers, a root DIE with
 * DW_AT_name, DW_AT_comp_dir, DW_AT_stmt_list, DW_AT_low_pc/high_pc), line programs of DWARF 2–5 and
 * `.debug_aranges`. Laid out from the DWARF 5 specification (§6.1.2, §6.2, §7.5), not from the reader.
 */

/** An appending byte writer with endian-aware integers and LEB128. */
export class Emitter {
  private buf = new Uint8Array(256);
  length = 0;

  constructor(readonly littleEndian = true) {}

  private room(n: number): number {
    const at = this.length;
    if (at + n > this.buf.length) {
      let size = this.buf.length;
      while (size < at + n) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, at));
      this.buf = next;
    }
    this.length += n;
    return at;
  }
  private int(v: bigint, size: number): this {
    const at = this.room(size);
    for (let i = 0; i < size; i++) {
      const shift = BigInt(8 * (this.littleEndian ? i : size - 1 - i));
      this.buf[at + i] = Number((BigInt.asUintN(64, v) >> shift) & 0xffn);
    }
    return this;
  }
  u8(v: number): this {
    return this.int(BigInt(v), 1);
  }
  u16(v: number): this {
    return this.int(BigInt(v), 2);
  }
  u32(v: number): this {
    return this.int(BigInt(v), 4);
  }
  u64(v: bigint | number): this {
    return this.int(BigInt(v), 8);
  }
  sized(v: bigint | number, size: number): this {
    return this.int(BigInt(v), size);
  }
  uleb(v: number | bigint): this {
    let x = BigInt(v);
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x !== 0n) b |= 0x80;
      this.u8(b);
    } while (x !== 0n);
    return this;
  }
  sleb(v: number | bigint): this {
    let x = BigInt(v);
    for (;;) {
      const b = Number(x & 0x7fn);
      x >>= 7n;
      const done = (x === 0n && (b & 0x40) === 0) || (x === -1n && (b & 0x40) !== 0);
      this.u8(done ? b : b | 0x80);
      if (done) return this;
    }
  }
  cstr(s: string): this {
    for (const b of Buffer.from(s, 'utf8')) this.u8(b);
    return this.u8(0);
  }
  raw(bytes: Uint8Array | number[]): this {
    const at = this.room(bytes.length);
    this.buf.set(bytes, at);
    return this;
  }
  /** Write a placeholder of `size` bytes and return a function that fills it in later. */
  placeholder(size: number): (v: number | bigint) => void {
    const at = this.room(size);
    return (v) => {
      for (let i = 0; i < size; i++) {
        const shift = BigInt(8 * (this.littleEndian ? i : size - 1 - i));
        this.buf[at + i] = Number((BigInt.asUintN(64, BigInt(v)) >> shift) & 0xffn);
      }
    };
  }
  /** A unit: initial length (32- or 64-bit DWARF) covering what `body` writes. */
  unit(dwarf64: boolean, body: () => void): this {
    if (dwarf64) this.u32(0xffff_ffff);
    const setLength = this.placeholder(dwarf64 ? 8 : 4);
    const start = this.length;
    body();
    setLength(this.length - start);
    return this;
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** Builds a line program's opcodes (§6.2.5) for the standard parameters used by `lineProgram`. */
export class LineOps {
  readonly e: Emitter;
  constructor(
    littleEndian = true,
    private readonly opcodeBase = 13,
    private readonly lineBase = -5,
    private readonly lineRange = 14,
  ) {
    this.e = new Emitter(littleEndian);
  }
  setAddress(address: bigint, size = 8): this {
    this.e
      .u8(0)
      .uleb(1 + size)
      .u8(2)
      .sized(address, size);
    return this;
  }
  advanceLine(delta: number): this {
    this.e.u8(3).sleb(delta);
    return this;
  }
  advancePc(n: number | bigint): this {
    this.e.u8(2).uleb(n);
    return this;
  }
  setFile(file: number): this {
    this.e.u8(4).uleb(file);
    return this;
  }
  setColumn(column: number): this {
    this.e.u8(5).uleb(column);
    return this;
  }
  copy(): this {
    this.e.u8(1);
    return this;
  }
  constAddPc(): this {
    this.e.u8(8);
    return this;
  }
  fixedAdvancePc(n: number): this {
    this.e.u8(9).u16(n);
    return this;
  }
  negateStmt(): this {
    this.e.u8(6);
    return this;
  }
  /** A special opcode: add `address` bytes and `line` lines, then append a row. */
  special(address: number, line: number): this {
    const opcode = line - this.lineBase + this.lineRange * address + this.opcodeBase;
    if (line < this.lineBase || line >= this.lineBase + this.lineRange || opcode > 255) {
      throw new Error(`no special opcode for +${address} bytes, +${line} lines`);
    }
    this.e.u8(opcode);
    return this;
  }
  defineFile(name: string, dir: number): this {
    const body = new Emitter(this.e.littleEndian).u8(3).cstr(name).uleb(dir).uleb(0).uleb(0).bytes();
    this.e.u8(0).uleb(body.length).raw(body);
    return this;
  }
  setDiscriminator(d: number): this {
    const body = new Emitter(this.e.littleEndian).u8(4).uleb(d).bytes();
    this.e.u8(0).uleb(body.length).raw(body);
    return this;
  }
  endSequence(): this {
    this.e.u8(0).uleb(1).u8(1);
    return this;
  }
  raw(bytes: number[]): this {
    this.e.raw(bytes);
    return this;
  }
  bytes(): Uint8Array {
    return this.e.bytes();
  }
}

export type StringForm = 'string' | 'strp' | 'line_strp';

export interface LineProgramSpec {
  version: 2 | 3 | 4 | 5;
  dwarf64?: boolean;
  /** DWARF 5 only: directory 0. */
  compDir?: string;
  /** Include directories (DWARF 5: entries 1…; earlier: 1…, 0 being the comp_dir). */
  directories: string[];
  /** DWARF 5: file 0 is the primary source file; earlier versions number from 1. */
  files: { name: string; dir: number }[];
  /** DWARF 5 directory/file name form. */
  pathForm?: StringForm;
  program: Uint8Array;
  minimumInstructionLength?: number;
}

export interface UnitSpec {
  version: 4 | 5;
  dwarf64?: boolean;
  addressSize?: 4 | 8;
  name: string;
  compDir?: string;
  stringForm?: StringForm;
  /** Range for DW_AT_low_pc/DW_AT_high_pc (and .debug_aranges). */
  low: bigint;
  high: bigint;
  line: LineProgramSpec;
}

export interface DwarfSections {
  '.debug_info': Uint8Array;
  '.debug_abbrev': Uint8Array;
  '.debug_line': Uint8Array;
  '.debug_str': Uint8Array;
  '.debug_line_str': Uint8Array;
  '.debug_aranges': Uint8Array;
}

const DW_FORM = {
  addr: 0x01,
  data8: 0x07,
  string: 0x08,
  strp: 0x0e,
  sec_offset: 0x17,
  line_strp: 0x1f,
  udata: 0x0f,
  data1: 0x0b,
};
const DW_AT = { name: 0x03, stmt_list: 0x10, low_pc: 0x11, high_pc: 0x12, comp_dir: 0x1b, producer: 0x25 };

class StringTable {
  readonly e: Emitter;
  private readonly at = new Map<string, number>();
  constructor(le: boolean) {
    this.e = new Emitter(le);
  }
  offset(s: string): number {
    let o = this.at.get(s);
    if (o === undefined) {
      o = this.e.length;
      this.e.cstr(s);
      this.at.set(s, o);
    }
    return o;
  }
}

/** Write a line-program unit (header + program). */
export function writeLineProgram(
  out: Emitter,
  spec: LineProgramSpec,
  strings: { str: StringTable; lineStr: StringTable },
  addressSize = 8,
): void {
  const dwarf64 = spec.dwarf64 ?? false;
  const offsetSize = dwarf64 ? 8 : 4;
  const writePath = (e: Emitter, s: string) => {
    const form = spec.pathForm ?? 'line_strp';
    if (form === 'string') e.cstr(s);
    else if (form === 'strp') e.sized(strings.str.offset(s), offsetSize);
    else e.sized(strings.lineStr.offset(s), offsetSize);
  };
  out.unit(dwarf64, () => {
    out.u16(spec.version);
    if (spec.version >= 5) out.u8(addressSize).u8(0);
    const setHeaderLength = out.placeholder(offsetSize);
    const headerStart = out.length;
    out.u8(spec.minimumInstructionLength ?? 1);
    if (spec.version >= 4) out.u8(1); // maximum_operations_per_instruction
    out.u8(1); // default_is_stmt
    out.u8(-5 & 0xff); // line_base
    out.u8(14); // line_range
    out.u8(13); // opcode_base
    out.raw([0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1]);
    if (spec.version >= 5) {
      const form = { string: DW_FORM.string, strp: DW_FORM.strp, line_strp: DW_FORM.line_strp }[
        spec.pathForm ?? 'line_strp'
      ];
      out.u8(1).uleb(1).uleb(form); // directories: DW_LNCT_path
      const dirs = [spec.compDir ?? '', ...spec.directories];
      out.uleb(dirs.length);
      for (const d of dirs) writePath(out, d);
      out.u8(2).uleb(1).uleb(form).uleb(2).uleb(DW_FORM.udata); // files: path, directory_index
      out.uleb(spec.files.length);
      for (const f of spec.files) {
        writePath(out, f.name);
        out.uleb(f.dir);
      }
    } else {
      for (const d of spec.directories) out.cstr(d);
      out.u8(0);
      for (const f of spec.files) out.cstr(f.name).uleb(f.dir).uleb(0).uleb(0);
      out.u8(0);
    }
    setHeaderLength(out.length - headerStart);
    out.raw(spec.program);
  });
}

/** Debug sections for a set of units, each with its own line program and aranges set. */
export function buildDwarf(units: UnitSpec[], littleEndian = true): DwarfSections {
  const info = new Emitter(littleEndian);
  const abbrev = new Emitter(littleEndian);
  const line = new Emitter(littleEndian);
  const aranges = new Emitter(littleEndian);
  const str = new StringTable(littleEndian);
  const lineStr = new StringTable(littleEndian);
  str.offset(''); // offset 0 is the empty string, as compilers emit it
  lineStr.offset('');
  for (const u of units) {
    const dwarf64 = u.dwarf64 ?? false;
    const offsetSize = dwarf64 ? 8 : 4;
    const addressSize = u.addressSize ?? 8;
    const stmtList = line.length;
    writeLineProgram(line, u.line, { str, lineStr }, addressSize);

    const abbrevOffset = abbrev.length;
    const form = { string: DW_FORM.string, strp: DW_FORM.strp, line_strp: DW_FORM.line_strp }[
      u.stringForm ?? 'strp'
    ];
    // A real compiler's table: a subprogram abbreviation first, so the unit's is not code 1.
    abbrev.uleb(1).uleb(0x2e).u8(0).uleb(DW_AT.name).uleb(DW_FORM.string).uleb(0).uleb(0);
    abbrev.uleb(7).uleb(0x11).u8(1);
    abbrev.uleb(DW_AT.producer).uleb(form).uleb(DW_AT.name).uleb(form);
    if (u.compDir !== undefined) abbrev.uleb(DW_AT.comp_dir).uleb(form);
    abbrev.uleb(DW_AT.low_pc).uleb(DW_FORM.addr).uleb(DW_AT.high_pc).uleb(DW_FORM.data8);
    abbrev.uleb(DW_AT.stmt_list).uleb(DW_FORM.sec_offset).uleb(0).uleb(0);
    abbrev.uleb(0);

    const unitOffset = info.length;
    const writeString = (s: string) => {
      if (form === DW_FORM.string) info.cstr(s);
      else if (form === DW_FORM.strp) info.sized(str.offset(s), offsetSize);
      else info.sized(lineStr.offset(s), offsetSize);
    };
    info.unit(dwarf64, () => {
      info.u16(u.version);
      if (u.version >= 5) info.u8(1).u8(addressSize).sized(abbrevOffset, offsetSize);
      else info.sized(abbrevOffset, offsetSize).u8(addressSize);
      info.uleb(7);
      writeString('GNU C11 test');
      writeString(u.name);
      if (u.compDir !== undefined) writeString(u.compDir);
      info
        .sized(u.low, addressSize)
        .u64(u.high - u.low)
        .sized(stmtList, offsetSize);
      info.uleb(0); // end of children
    });

    aranges.unit(false, () => {
      const setStart = aranges.length - 4;
      aranges.u16(2).u32(unitOffset).u8(addressSize).u8(0);
      while ((aranges.length - setStart) % (2 * addressSize) !== 0) aranges.u8(0);
      aranges.sized(u.low, addressSize).sized(u.high - u.low, addressSize);
      aranges.sized(0, addressSize).sized(0, addressSize);
    });
  }
  return {
    '.debug_info': info.bytes(),
    '.debug_abbrev': abbrev.bytes(),
    '.debug_line': line.bytes(),
    '.debug_str': str.e.bytes(),
    '.debug_line_str': lineStr.e.bytes(),
    '.debug_aranges': aranges.bytes(),
  };
}
