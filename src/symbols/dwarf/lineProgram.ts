/**
 * One line-number program of `.debug_line` (DWARF 2–5, §6.2): its header (directories, files, the
 * opcode parameters) and the rows its state machine emits, kept as address ranges sorted for binary
 * search. Only one unit is decoded at a time, from bytes the caller read for that unit alone.
 *
 * Corrupt input is bounded: the program cannot run past its unit, LEB128 is capped, the row count is
 * capped, and any inconsistency ends the decode with a DwarfError naming it.
 */
import { DwarfCursor, DwarfError } from './cursor';
import { DW_FORM, type FormValue, formNumber, readForm, type UnitEncoding } from './forms';

/** Rows one unit may produce before it is refused (the largest in Debian's 6.1 vmlinux has ~60k). */
export const MAX_ROWS_PER_UNIT = 1 << 20;
/** Directory or file entries one header may list. */
const MAX_HEADER_ENTRIES = 1 << 16;
/** Sequences one unit may hold (each needs an end_sequence byte, so this is far above real counts). */
const MAX_SEQUENCES = 1 << 18;

const DW_LNS = {
  copy: 1,
  advance_pc: 2,
  advance_line: 3,
  set_file: 4,
  set_column: 5,
  negate_stmt: 6,
  set_basic_block: 7,
  const_add_pc: 8,
  fixed_advance_pc: 9,
  set_prologue_end: 10,
  set_epilogue_begin: 11,
  set_isa: 12,
} as const;

const DW_LNE = { end_sequence: 1, set_address: 2, define_file: 3, set_discriminator: 4 } as const;

const DW_LNCT = { path: 1, directory_index: 2 } as const;

export interface LineFileEntry {
  path: FormValue;
  directoryIndex: number;
}

export interface LineProgramHeader {
  version: number;
  offsetSize: 4 | 8;
  /** From the v5 header; for older versions from DW_LNE_set_address operands. */
  addressSize: number | undefined;
  minimumInstructionLength: number;
  maximumOperationsPerInstruction: number;
  defaultIsStmt: boolean;
  lineBase: number;
  lineRange: number;
  opcodeBase: number;
  standardOpcodeLengths: number[];
  /** include_directories; in DWARF 5 entry 0 is the compilation directory. */
  directories: FormValue[];
  /** file_names; DWARF 5 numbers them from 0, earlier versions from 1. */
  files: LineFileEntry[];
  /** Offset of the first opcode, relative to the unit start. */
  programOffset: number;
  /** Offset just past the unit, relative to the unit start. */
  unitEnd: number;
}

/**
 * Address ranges of the rows, sorted by start: row i covers [starts[i], ends[i]). Rows that cover no
 * bytes (several rows at one address: only the last one counts) are left out.
 */
export interface LineRows {
  count: number;
  starts: BigUint64Array;
  ends: BigUint64Array;
  lines: Uint32Array;
  columns: Uint32Array;
  files: Uint32Array;
}

export interface DecodedLineProgram {
  header: LineProgramHeader;
  rows: LineRows;
}

/** The length of the unit that starts at `bytes[0]` (initial length included), to know how much to read. */
export function lineUnitSize(first12: Uint8Array, littleEndian: boolean): number {
  const c = new DwarfCursor(first12, littleEndian);
  const { length } = c.initialLength();
  return c.pos + length;
}

/** Parse the header of the line program whose unit starts at `unit[0]` and ends at `unit.length`. */
export function parseLineProgramHeader(unit: Uint8Array, littleEndian: boolean): LineProgramHeader {
  const c = new DwarfCursor(unit, littleEndian);
  const { length, offsetSize } = c.initialLength();
  const unitEnd = c.pos + length;
  if (unitEnd > unit.length) {
    throw new DwarfError(`line program unit length ${length} runs past the ${unit.length} bytes available`);
  }
  const h = new DwarfCursor(unit, littleEndian, c.pos, unitEnd);
  const version = h.u16();
  if (version < 2 || version > 5) throw new DwarfError(`line program version ${version} is not DWARF 2–5`);
  let addressSize: number | undefined;
  if (version >= 5) {
    addressSize = h.u8();
    const segmentSelectorSize = h.u8();
    if (addressSize !== 1 && addressSize !== 2 && addressSize !== 4 && addressSize !== 8) {
      throw new DwarfError(`line program address size ${addressSize} is not supported`);
    }
    if (segmentSelectorSize !== 0) throw new DwarfError('segmented addresses are not supported');
  }
  const headerLength = h.offset(offsetSize);
  const programOffset = h.pos + headerLength;
  if (programOffset > unitEnd)
    throw new DwarfError(`line program header length ${headerLength} runs past its unit`);
  const minimumInstructionLength = h.u8();
  const maximumOperationsPerInstruction = version >= 4 ? h.u8() : 1;
  if (maximumOperationsPerInstruction === 0) throw new DwarfError('maximum_operations_per_instruction is 0');
  const defaultIsStmt = h.u8() !== 0;
  const lineBase = h.s8();
  const lineRange = h.u8();
  if (lineRange === 0) throw new DwarfError('line_range is 0');
  const opcodeBase = h.u8();
  if (opcodeBase === 0) throw new DwarfError('opcode_base is 0');
  const standardOpcodeLengths: number[] = [];
  for (let i = 1; i < opcodeBase; i++) standardOpcodeLengths.push(h.u8());

  // The entry tables end where the header says the program starts.
  const t = new DwarfCursor(unit, littleEndian, h.pos, programOffset);
  const enc: UnitEncoding = { version, offsetSize, addressSize: addressSize ?? 8 };
  const directories: FormValue[] = [];
  const files: LineFileEntry[] = [];
  if (version >= 5) {
    for (const entry of readEntryTable(t, enc, 'directory')) directories.push(entry.path);
    for (const entry of readEntryTable(t, enc, 'file')) files.push(entry);
  } else {
    for (;;) {
      const dir = t.cstring();
      if (dir === '') break;
      if (directories.length >= MAX_HEADER_ENTRIES) throw new DwarfError('too many include directories');
      directories.push({ kind: 'string', value: dir });
    }
    for (;;) {
      const entry = readLegacyFileEntry(t);
      if (!entry) break;
      if (files.length >= MAX_HEADER_ENTRIES) throw new DwarfError('too many file names');
      files.push(entry);
    }
  }
  return {
    version,
    offsetSize,
    addressSize,
    minimumInstructionLength,
    maximumOperationsPerInstruction,
    defaultIsStmt,
    lineBase,
    lineRange,
    opcodeBase,
    standardOpcodeLengths,
    directories,
    files,
    programOffset,
    unitEnd,
  };
}

/** A DWARF 2–4 file entry (name, directory index, mtime, length); undefined at the terminating empty name. */
function readLegacyFileEntry(c: DwarfCursor): LineFileEntry | undefined {
  const name = c.cstring();
  if (name === '') return undefined;
  const directoryIndex = c.uleb();
  c.uleb(); // modification time
  c.uleb(); // length
  return { path: { kind: 'string', value: name }, directoryIndex };
}

/** A DWARF 5 directory or file table: a format description, then entries in that format. */
function readEntryTable(c: DwarfCursor, enc: UnitEncoding, what: string): LineFileEntry[] {
  const formatCount = c.u8();
  const format: { type: number; form: number }[] = [];
  for (let i = 0; i < formatCount; i++) format.push({ type: c.uleb(), form: c.uleb() });
  const count = c.uleb();
  if (count > MAX_HEADER_ENTRIES) throw new DwarfError(`${count} ${what} entries is implausible`);
  if (count > 0 && !format.some((f) => f.type === DW_LNCT.path)) {
    throw new DwarfError(`the ${what} entry format has no path`);
  }
  const entries: LineFileEntry[] = [];
  for (let i = 0; i < count; i++) {
    let path: FormValue = { kind: 'skipped' };
    let directoryIndex = 0;
    for (const f of format) {
      if (f.form === DW_FORM.implicit_const) throw new DwarfError('DW_FORM_implicit_const in a line header');
      const v = readForm(c, f.form, enc);
      if (f.type === DW_LNCT.path) path = v;
      else if (f.type === DW_LNCT.directory_index) directoryIndex = formNumber(v) ?? 0;
    }
    entries.push({ path, directoryIndex });
  }
  return entries;
}

/** Growable typed arrays for rows, so a large unit does not become a million small objects. */
class RowBuffer {
  count = 0;
  addresses = new BigUint64Array(256);
  lines = new Uint32Array(256);
  columns = new Uint32Array(256);
  files = new Uint32Array(256);
  /** Each complete sequence: its rows [first, end) and the address just past it. */
  sequences: { first: number; end: number; endAddress: bigint }[] = [];
  private sequenceFirst = 0;

  push(address: bigint, file: number, line: number, column: number): void {
    if (this.count >= MAX_ROWS_PER_UNIT) {
      throw new DwarfError(`the line program has more than ${MAX_ROWS_PER_UNIT} rows`);
    }
    if (this.count === this.addresses.length) this.grow();
    this.addresses[this.count] = address;
    this.files[this.count] = clampU32(file);
    this.lines[this.count] = clampU32(line);
    this.columns[this.count] = clampU32(column);
    this.count++;
  }

  /** DW_LNE_end_sequence: the end row only marks where the sequence stops, it covers nothing itself. */
  endSequence(address: bigint): void {
    if (this.sequences.length >= MAX_SEQUENCES)
      throw new DwarfError('the line program has too many sequences');
    if (this.count > this.sequenceFirst) {
      this.sequences.push({ first: this.sequenceFirst, end: this.count, endAddress: address });
    }
    this.sequenceFirst = this.count;
  }

  private grow(): void {
    const n = this.addresses.length * 2;
    const a = new BigUint64Array(n);
    a.set(this.addresses);
    this.addresses = a;
    for (const key of ['lines', 'columns', 'files'] as const) {
      const b = new Uint32Array(n);
      b.set(this[key]);
      this[key] = b;
    }
  }
}

/** Line, column and file registers are unsigned 32-bit in storage; corrupt values become 0 ("unknown"). */
function clampU32(v: number): number {
  return v >= 0 && v <= 0xffff_ffff ? v : 0;
}

/** Run the line program of a parsed header over the same unit bytes. */
export function runLineProgram(unit: Uint8Array, littleEndian: boolean, header: LineProgramHeader): LineRows {
  const c = new DwarfCursor(unit, littleEndian, header.programOffset, header.unitEnd);
  const rows = new RowBuffer();
  const { minimumInstructionLength, lineBase, lineRange, opcodeBase, version } = header;
  const maxOps = header.maximumOperationsPerInstruction;
  const minLength = BigInt(minimumInstructionLength);
  const files = header.files;

  let address = 0n;
  let opIndex = 0;
  let file = 1;
  let line = 1;
  let column = 0;
  const reset = () => {
    address = 0n;
    opIndex = 0;
    file = 1;
    line = 1;
    column = 0;
  };
  // §6.2.5.1: advance by "operation advance" units; with one op per instruction that is min_inst_length each.
  const advance = (operationAdvance: number) => {
    if (maxOps === 1) {
      address = BigInt.asUintN(64, address + minLength * BigInt(operationAdvance));
    } else {
      const total = opIndex + operationAdvance;
      address = BigInt.asUintN(64, address + minLength * BigInt(Math.floor(total / maxOps)));
      opIndex = total % maxOps;
    }
  };

  while (!c.atEnd) {
    const opcode = c.u8();
    if (opcode >= opcodeBase) {
      const adjusted = opcode - opcodeBase;
      advance(Math.floor(adjusted / lineRange));
      line += lineBase + (adjusted % lineRange);
      rows.push(address, file, line, column);
      continue;
    }
    switch (opcode) {
      case 0: {
        const length = c.uleb();
        if (length === 0 || length > c.remaining)
          throw new DwarfError(`extended opcode length ${length} is invalid`);
        const next = c.pos + length;
        const sub = c.u8();
        if (sub === DW_LNE.end_sequence) {
          rows.endSequence(address);
          reset();
        } else if (sub === DW_LNE.set_address) {
          const size = length - 1;
          if (size !== 1 && size !== 2 && size !== 4 && size !== 8) {
            throw new DwarfError(`DW_LNE_set_address with a ${size}-byte operand`);
          }
          address = c.unsigned(size);
          opIndex = 0;
        } else if (sub === DW_LNE.define_file && version <= 4) {
          const entry = readLegacyFileEntry(c);
          if (entry) {
            if (files.length >= MAX_HEADER_ENTRIES) throw new DwarfError('too many file names');
            files.push(entry);
          }
        }
        // set_discriminator and vendor opcodes: nothing this reader keeps.
        if (c.pos > next) throw new DwarfError('extended opcode overran its length');
        c.pos = next;
        break;
      }
      case DW_LNS.copy:
        rows.push(address, file, line, column);
        break;
      case DW_LNS.advance_pc:
        advance(c.uleb());
        break;
      case DW_LNS.advance_line:
        line += c.sleb();
        break;
      case DW_LNS.set_file:
        file = c.uleb();
        break;
      case DW_LNS.set_column:
        column = c.uleb();
        break;
      case DW_LNS.negate_stmt:
      case DW_LNS.set_basic_block:
      case DW_LNS.set_prologue_end:
      case DW_LNS.set_epilogue_begin:
        break;
      case DW_LNS.const_add_pc:
        advance(Math.floor((255 - opcodeBase) / lineRange));
        break;
      case DW_LNS.fixed_advance_pc:
        address = BigInt.asUintN(64, address + BigInt(c.u16()));
        opIndex = 0;
        break;
      case DW_LNS.set_isa:
        c.uleb();
        break;
      default: {
        // An opcode this reader does not know, below opcode_base: the header says how many LEB128 operands.
        const operands = header.standardOpcodeLengths[opcode - 1] ?? 0;
        for (let i = 0; i < operands; i++) c.uleb();
      }
    }
  }
  // Rows after the last end_sequence belong to no complete sequence: toRanges leaves them out.
  return toRanges(rows);
}

/** Turn sequences of rows into sorted, non-empty address ranges. */
function toRanges(rows: RowBuffer): LineRows {
  const order = [...rows.sequences].sort((a, b) => {
    const x = rows.addresses[a.first]!;
    const y = rows.addresses[b.first]!;
    return x < y ? -1 : x > y ? 1 : 0;
  });
  const n = rows.count;
  const out: LineRows = {
    count: 0,
    starts: new BigUint64Array(n),
    ends: new BigUint64Array(n),
    lines: new Uint32Array(n),
    columns: new Uint32Array(n),
    files: new Uint32Array(n),
  };
  let sorted = true;
  for (const seq of order) {
    for (let i = seq.first; i < seq.end; i++) {
      const start = rows.addresses[i]!;
      const end = i + 1 < seq.end ? rows.addresses[i + 1]! : seq.endAddress;
      if (end <= start) continue; // covers nothing: a later row at the same address wins
      const k = out.count;
      if (k > 0 && start < out.starts[k - 1]!) sorted = false;
      out.starts[k] = start;
      out.ends[k] = end;
      out.lines[k] = rows.lines[i]!;
      out.columns[k] = rows.columns[i]!;
      out.files[k] = rows.files[i]!;
      out.count++;
    }
  }
  return sorted ? out : sortRanges(out);
}

/** Overlapping sequences (not produced by compilers, possible in corrupt data): sort the ranges. */
function sortRanges(r: LineRows): LineRows {
  const idx = Array.from({ length: r.count }, (_, i) => i).sort((a, b) => {
    const x = r.starts[a]!;
    const y = r.starts[b]!;
    return x < y ? -1 : x > y ? 1 : 0;
  });
  const pick = <T extends BigUint64Array | Uint32Array>(src: T, make: (n: number) => T): T => {
    const dst = make(r.count);
    idx.forEach((from, to) => {
      dst[to] = src[from]!;
    });
    return dst;
  };
  return {
    count: r.count,
    starts: pick(r.starts, (n) => new BigUint64Array(n)),
    ends: pick(r.ends, (n) => new BigUint64Array(n)),
    lines: pick(r.lines, (n) => new Uint32Array(n)),
    columns: pick(r.columns, (n) => new Uint32Array(n)),
    files: pick(r.files, (n) => new Uint32Array(n)),
  };
}

/** Index of the range holding `address`, or -1. */
export function findRow(rows: LineRows, address: bigint): number {
  let lo = 0;
  let hi = rows.count - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (rows.starts[mid]! <= address) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (found < 0) return -1;
  // Usually the last range starting at or below the address holds it; after overlapping sequences an
  // earlier, longer one may. Look back a bounded distance.
  for (let i = found, steps = 0; i >= 0 && steps < 64; i--, steps++) {
    if (address < rows.ends[i]!) return i;
  }
  return -1;
}

/** Decode one line-program unit. */
export function decodeLineProgram(unit: Uint8Array, littleEndian: boolean): DecodedLineProgram {
  const header = parseLineProgramHeader(unit, littleEndian);
  return { header, rows: runLineProgram(unit, littleEndian, header) };
}
