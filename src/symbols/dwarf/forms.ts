/**
 * DWARF attribute forms (DWARF 5 §7.5.6, plus the GNU extensions GCC and dwz emit): how many bytes
 * each one takes and what its value is. A form not listed is refused: its size is unknown, so nothing
 * after it could be read.
 */
import { type DwarfCursor, DwarfError } from './cursor';

export const DW_FORM = {
  addr: 0x01,
  block2: 0x03,
  block4: 0x04,
  data2: 0x05,
  data4: 0x06,
  data8: 0x07,
  string: 0x08,
  block: 0x09,
  block1: 0x0a,
  data1: 0x0b,
  flag: 0x0c,
  sdata: 0x0d,
  strp: 0x0e,
  udata: 0x0f,
  ref_addr: 0x10,
  ref1: 0x11,
  ref2: 0x12,
  ref4: 0x13,
  ref8: 0x14,
  ref_udata: 0x15,
  indirect: 0x16,
  sec_offset: 0x17,
  exprloc: 0x18,
  flag_present: 0x19,
  strx: 0x1a,
  addrx: 0x1b,
  ref_sup4: 0x1c,
  strp_sup: 0x1d,
  data16: 0x1e,
  line_strp: 0x1f,
  ref_sig8: 0x20,
  implicit_const: 0x21,
  loclistx: 0x22,
  rnglistx: 0x23,
  ref_sup8: 0x24,
  strx1: 0x25,
  strx2: 0x26,
  strx3: 0x27,
  strx4: 0x28,
  addrx1: 0x29,
  addrx2: 0x2a,
  addrx3: 0x2b,
  addrx4: 0x2c,
  GNU_addr_index: 0x1f01,
  GNU_str_index: 0x1f02,
  GNU_ref_alt: 0x1f20,
  GNU_strp_alt: 0x1f21,
} as const;

/** What a unit's header says about field sizes. */
export interface UnitEncoding {
  version: number;
  offsetSize: 4 | 8;
  addressSize: number;
}

export type FormValue =
  /** Constants, flags, references, addresses, section offsets. */
  | { kind: 'number'; value: bigint }
  /** A string stored in place (DW_FORM_string). */
  | { kind: 'string'; value: string }
  /** A string at an offset in a string section. */
  | { kind: 'strp'; section: '.debug_str' | '.debug_line_str' | 'supplementary'; offset: number }
  /** A string through .debug_str_offsets. */
  | { kind: 'strx'; index: number }
  /** An address through .debug_addr. */
  | { kind: 'addrx'; index: number }
  /** Bytes this reader has no use for (blocks, expressions, 16-byte data). */
  | { kind: 'skipped' };

const MAX_INDIRECTION = 4;
/** Blocks in a unit's root DIE or a line header are small; a bigger one is corrupt data. */
const MAX_BLOCK = 16 * 1024 * 1024;

function block(c: DwarfCursor, length: number): FormValue {
  if (length > MAX_BLOCK) throw new DwarfError(`block of ${length} bytes is implausible`);
  c.skip(length, 'block');
  return { kind: 'skipped' };
}

/** Read one attribute value of `form`; `implicitConst` is the value stored in the abbreviation. */
export function readForm(
  c: DwarfCursor,
  form: number,
  enc: UnitEncoding,
  implicitConst?: bigint,
  depth = 0,
): FormValue {
  const num = (value: bigint): FormValue => ({ kind: 'number', value });
  switch (form) {
    case DW_FORM.addr:
      return num(c.unsigned(enc.addressSize));
    case DW_FORM.data1:
    case DW_FORM.ref1:
    case DW_FORM.flag:
      return num(BigInt(c.u8()));
    case DW_FORM.data2:
    case DW_FORM.ref2:
      return num(BigInt(c.u16()));
    case DW_FORM.data4:
    case DW_FORM.ref4:
    case DW_FORM.ref_sup4:
      return num(BigInt(c.u32()));
    case DW_FORM.data8:
    case DW_FORM.ref8:
    case DW_FORM.ref_sig8:
    case DW_FORM.ref_sup8:
      return num(c.u64());
    case DW_FORM.data16:
      c.skip(16, 'data16');
      return { kind: 'skipped' };
    case DW_FORM.udata:
    case DW_FORM.ref_udata:
    case DW_FORM.loclistx:
    case DW_FORM.rnglistx:
      return num(c.ulebBig());
    case DW_FORM.sdata:
      return num(c.slebBig());
    case DW_FORM.flag_present:
      return num(1n);
    case DW_FORM.implicit_const:
      return num(implicitConst ?? 0n);
    case DW_FORM.string:
      return { kind: 'string', value: c.cstring() };
    case DW_FORM.strp:
      return { kind: 'strp', section: '.debug_str', offset: c.offset(enc.offsetSize) };
    case DW_FORM.line_strp:
      return { kind: 'strp', section: '.debug_line_str', offset: c.offset(enc.offsetSize) };
    case DW_FORM.strp_sup:
    case DW_FORM.GNU_strp_alt:
      return { kind: 'strp', section: 'supplementary', offset: c.offset(enc.offsetSize) };
    case DW_FORM.sec_offset:
    case DW_FORM.GNU_ref_alt:
      return num(BigInt(c.offset(enc.offsetSize)));
    case DW_FORM.ref_addr:
      // DWARF 2 sized it like an address; later versions like an offset.
      return num(enc.version <= 2 ? c.unsigned(enc.addressSize) : BigInt(c.offset(enc.offsetSize)));
    case DW_FORM.strx:
    case DW_FORM.GNU_str_index:
      return { kind: 'strx', index: c.uleb() };
    case DW_FORM.strx1:
      return { kind: 'strx', index: c.u8() };
    case DW_FORM.strx2:
      return { kind: 'strx', index: c.u16() };
    case DW_FORM.strx3:
      return { kind: 'strx', index: c.u24() };
    case DW_FORM.strx4:
      return { kind: 'strx', index: c.u32() };
    case DW_FORM.addrx:
    case DW_FORM.GNU_addr_index:
      return { kind: 'addrx', index: c.uleb() };
    case DW_FORM.addrx1:
      return { kind: 'addrx', index: c.u8() };
    case DW_FORM.addrx2:
      return { kind: 'addrx', index: c.u16() };
    case DW_FORM.addrx3:
      return { kind: 'addrx', index: c.u24() };
    case DW_FORM.addrx4:
      return { kind: 'addrx', index: c.u32() };
    case DW_FORM.block1:
      return block(c, c.u8());
    case DW_FORM.block2:
      return block(c, c.u16());
    case DW_FORM.block4:
      return block(c, c.u32());
    case DW_FORM.block:
    case DW_FORM.exprloc:
      return block(c, c.uleb());
    case DW_FORM.indirect: {
      if (depth >= MAX_INDIRECTION) throw new DwarfError('DW_FORM_indirect nested too deeply');
      return readForm(c, c.uleb(), enc, implicitConst, depth + 1);
    }
    default:
      throw new DwarfError(`unknown attribute form 0x${form.toString(16)}`);
  }
}

/** The value of a constant-class attribute as a safe number, or undefined for other kinds. */
export function formNumber(v: FormValue | undefined): number | undefined {
  if (v?.kind !== 'number' || v.value > BigInt(Number.MAX_SAFE_INTEGER) || v.value < 0n) return undefined;
  return Number(v.value);
}
