/**
 * The header of a unit in `.debug_info` (DWARF 2–5, §7.5.1) and the attributes of its first DIE,
 * the DW_TAG_compile_unit: where its line program is (DW_AT_stmt_list), its compilation directory and
 * name, and its address ranges. Only that one DIE is decoded, with its abbreviation looked up in
 * `.debug_abbrev`; the rest of the unit is never read.
 */
import { DwarfCursor, DwarfError } from './cursor';
import { DW_FORM, type FormValue, readForm, type UnitEncoding } from './forms';

export const DW_UT = {
  compile: 1,
  type: 2,
  partial: 3,
  skeleton: 4,
  split_compile: 5,
  split_type: 6,
} as const;

export const DW_AT = {
  name: 0x03,
  stmt_list: 0x10,
  low_pc: 0x11,
  high_pc: 0x12,
  comp_dir: 0x1b,
  ranges: 0x55,
  str_offsets_base: 0x72,
  addr_base: 0x73,
  rnglists_base: 0x74,
} as const;

const DW_TAG_compile_unit = 0x11;
const DW_TAG_partial_unit = 0x3c;
const DW_TAG_skeleton_unit = 0x4a;

export interface UnitHeader extends UnitEncoding {
  unitType: number;
  abbrevOffset: number;
  /** Offset of the first DIE from the unit start. */
  dieOffset: number;
  /** Size of the whole unit, initial length included. */
  unitSize: number;
}

export interface Abbreviation {
  code: number;
  tag: number;
  attributes: { name: number; form: number; implicitConst?: bigint }[];
}

/** Parse a unit header from bytes that start at the unit. */
export function parseUnitHeader(bytes: Uint8Array, littleEndian: boolean): UnitHeader {
  const c = new DwarfCursor(bytes, littleEndian);
  const { length, offsetSize } = c.initialLength();
  const unitSize = c.pos + length;
  const version = c.u16();
  if (version < 2 || version > 5) throw new DwarfError(`unit version ${version} is not DWARF 2–5`);
  let unitType: number = DW_UT.compile;
  let addressSize: number;
  let abbrevOffset: number;
  if (version >= 5) {
    unitType = c.u8();
    addressSize = c.u8();
    abbrevOffset = c.offset(offsetSize);
    if (unitType === DW_UT.skeleton || unitType === DW_UT.split_compile) c.skip(8, 'dwo_id');
    else if (unitType === DW_UT.type || unitType === DW_UT.split_type)
      c.skip(8 + offsetSize, 'type signature');
    else if (unitType !== DW_UT.compile && unitType !== DW_UT.partial) {
      throw new DwarfError(`unknown unit type 0x${unitType.toString(16)}`);
    }
  } else {
    abbrevOffset = c.offset(offsetSize);
    addressSize = c.u8();
  }
  if (addressSize !== 2 && addressSize !== 4 && addressSize !== 8) {
    throw new DwarfError(`unit address size ${addressSize} is not supported`);
  }
  if (c.pos > unitSize) throw new DwarfError(`unit length ${length} is shorter than its header`);
  return { version, offsetSize, addressSize, unitType, abbrevOffset, dieOffset: c.pos, unitSize };
}

/** The abbreviation code of the unit's first DIE. */
export function rootAbbreviationCode(bytes: Uint8Array, littleEndian: boolean, header: UnitHeader): number {
  const c = new DwarfCursor(bytes, littleEndian, header.dieOffset, Math.min(bytes.length, header.unitSize));
  return c.uleb();
}

/** Find abbreviation `code` in the table that starts at `table[0]`; undefined when the table ends first. */
export function findAbbreviation(
  table: Uint8Array,
  littleEndian: boolean,
  code: number,
): Abbreviation | undefined {
  const c = new DwarfCursor(table, littleEndian);
  for (;;) {
    const entryCode = c.uleb();
    if (entryCode === 0) return undefined;
    const tag = c.uleb();
    c.u8(); // has children
    const attributes: Abbreviation['attributes'] = [];
    for (;;) {
      const name = c.uleb();
      const form = c.uleb();
      if (name === 0 && form === 0) break;
      if (form === DW_FORM.implicit_const) attributes.push({ name, form, implicitConst: c.slebBig() });
      else attributes.push({ name, form });
    }
    if (entryCode === code) return { code, tag, attributes };
  }
}

export interface AttributeValue {
  form: number;
  value: FormValue;
}

/** The attributes of the unit's first DIE, keyed by DW_AT code. Unknown forms throw (the unit is refused). */
export function readRootAttributes(
  bytes: Uint8Array,
  littleEndian: boolean,
  header: UnitHeader,
  abbreviation: Abbreviation,
): Map<number, AttributeValue> {
  if (
    abbreviation.tag !== DW_TAG_compile_unit &&
    abbreviation.tag !== DW_TAG_partial_unit &&
    abbreviation.tag !== DW_TAG_skeleton_unit
  ) {
    throw new DwarfError(
      `the unit's first DIE has tag 0x${abbreviation.tag.toString(16)}, not a compile unit`,
    );
  }
  const c = new DwarfCursor(bytes, littleEndian, header.dieOffset, Math.min(bytes.length, header.unitSize));
  c.uleb(); // the abbreviation code
  const values = new Map<number, AttributeValue>();
  for (const a of abbreviation.attributes) {
    values.set(a.name, { form: a.form, value: readForm(c, a.form, header, a.implicitConst) });
  }
  return values;
}
