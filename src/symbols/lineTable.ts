/**
 * Source file and line for an address, from the DWARF line tables of an ELF file (a vmlinux with
 * debug info). Lazy and bounded: the address finds its compilation unit through `.debug_aranges`
 * (read once, ≈180 KB), the unit's first DIE gives DW_AT_stmt_list and DW_AT_comp_dir, and only that
 * unit's line program is read and run. Decoded units stay in an LRU cache bounded by row count. A
 * 600 MB vmlinux costs a few hundred KB of reads per stack.
 *
 * Without `.debug_aranges`, or for an address in executable code it does not cover, units are indexed
 * once by the ranges in their first DIE (DW_AT_low_pc/high_pc/ranges), reading only unit headers.
 *
 * Addresses are link-time addresses: the caller removes the KASLR slide. Nothing here throws for bad
 * DWARF at lookup time: the answer is "no line info" with the reason.
 */
import { posix } from 'node:path';
import { type ByteSource, FileSource } from '../dump/source';
import { LruCache } from '../util/lru';
import {
  type AddressRangeIndex,
  buildRangeIndex,
  MAX_ARANGES,
  parseAranges,
  type UnitRange,
  unitForAddress,
} from './dwarf/aranges';
import {
  type Abbreviation,
  type AttributeValue,
  DW_AT,
  findAbbreviation,
  parseUnitHeader,
  readRootAttributes,
  rootAbbreviationCode,
  type UnitHeader,
} from './dwarf/compileUnit';
import { DwarfCursor, DwarfError, DwarfTruncatedError } from './dwarf/cursor';
import { DW_FORM, type FormValue, formNumber } from './dwarf/forms';
import { type DecodedLineProgram, decodeLineProgram, findRow, lineUnitSize } from './dwarf/lineProgram';
import { type AddressRange, parseRangeList, parseRnglist } from './dwarf/rangeLists';
import { type ElfSectionHeader, readElfLayout, SHF_COMPRESSED, SHT_NOBITS } from './elfSections';

export class LineTableError extends Error {
  override readonly name = 'LineTableError';
}

export interface SourceLine {
  /** The path the compiler recorded: comp_dir / include directory / file name, normalized. May be relative. */
  file: string;
  line: number;
  /** 1-based; absent when the line table does not say. */
  column?: number;
}

export interface LineTableOptions {
  /** Close the source with the table. */
  ownsSource?: boolean;
  /** false: ignore `.debug_aranges` and index units from `.debug_info` (what happens when it is missing). */
  useAranges?: boolean;
}

export type LineLookup = { found: true; line: SourceLine } | { found: false; reason: string };

/** One line program bigger than this is not a real compilation unit (Debian 6.1's largest is ≈300 KB). */
const MAX_LINE_UNIT_BYTES = 32 * 1024 * 1024;
/** Rows kept decoded across all cached units (≈28 bytes each). */
const DECODED_ROW_BUDGET = 1 << 20;
const CACHED_PROGRAMS = 64;
const CACHED_UNITS = 1024;
/** First read of a unit header + root DIE / an abbreviation / a string; grown ×8 when too short. */
const FIRST_READ = 256;
const MAX_ROOT_READ = 64 * 1024;
const MAX_ABBREV_READ = 1024 * 1024;
const MAX_PATH = 4096;
/** Units indexed when `.debug_aranges` cannot be used. */
const MAX_SCANNED_UNITS = 1 << 18;
/** Bytes the unit index may read (Debian 6.1 needs ≈23 MB, mostly abbreviation tables). */
const SCAN_READ_BUDGET = 256 * 1024 * 1024;

const SHF_ALLOC = 0x2n;
const SHF_EXECINSTR = 0x4n;

const DEBUG_SECTIONS = [
  '.debug_line',
  '.debug_info',
  '.debug_abbrev',
  '.debug_aranges',
  '.debug_str',
  '.debug_line_str',
  '.debug_str_offsets',
  '.debug_addr',
  '.debug_ranges',
  '.debug_rnglists',
] as const;
type DebugSection = (typeof DEBUG_SECTIONS)[number];

/** What a unit's first DIE says, strings resolved. */
interface UnitInfo {
  offset: number;
  header: UnitHeader;
  stmtList: number | undefined;
  compDir: string | undefined;
  name: string | undefined;
  strOffsetsBase: number | undefined;
  attributes: Map<number, AttributeValue>;
}

interface LoadedProgram extends DecodedLineProgram {
  unit: UnitInfo;
  /** Resolved paths by file-register value (undefined: cannot be named). */
  paths: Map<number, string | undefined>;
}

type Result<T> = { ok: true; value: T } | { ok: false; reason: string };

function failure(err: unknown): { ok: false; reason: string } {
  return { ok: false, reason: err instanceof Error ? err.message : String(err) };
}

export class DwarfLineTable {
  private arangesIndex: Promise<AddressRangeIndex | undefined> | undefined;
  private scannedIndex: Promise<AddressRangeIndex> | undefined;
  private readonly units = new LruCache<number, Promise<Result<UnitInfo>>>(CACHED_UNITS);
  private readonly programs = new LruCache<number, Result<LoadedProgram>>(CACHED_PROGRAMS, {
    weigh: (r) => (r.ok ? r.value.rows.count + 1 : 1),
    maxWeight: DECODED_ROW_BUDGET,
  });
  private readonly loading = new Map<number, Promise<Result<LoadedProgram>>>();
  private readonly abbreviations = new LruCache<string, Abbreviation | undefined>(CACHED_UNITS);
  /** Bytes read from the file so far (all sections). */
  bytesRead = 0;

  private constructor(
    private readonly source: ByteSource,
    private readonly sections: Map<DebugSection, ElfSectionHeader>,
    private readonly littleEndian: boolean,
    private readonly code: readonly AddressRange[],
    private readonly ownsSource: boolean,
    /** One line for people: what the file holds. */
    readonly description: string,
  ) {}

  /** Open the line tables of an ELF file; throws LineTableError when it has none that can be used. */
  static async open(path: string, options: LineTableOptions = {}): Promise<DwarfLineTable> {
    // No block cache: the reads are small and scattered over hundreds of MB; decoded data is cached here.
    const source = await FileSource.open(path, { blockCache: false });
    try {
      return await DwarfLineTable.fromSource(source, { ...options, ownsSource: true });
    } catch (err) {
      await source.close();
      throw err;
    }
  }

  static async fromSource(source: ByteSource, options: LineTableOptions = {}): Promise<DwarfLineTable> {
    let layout: Awaited<ReturnType<typeof readElfLayout>>;
    try {
      layout = await readElfLayout(source);
    } catch (err) {
      throw new LineTableError((err as Error).message);
    }
    const sections = new Map<DebugSection, ElfSectionHeader>();
    for (const s of layout.sections) {
      if (s.name.startsWith('.zdebug_')) {
        throw new LineTableError(
          `${source.name}: the DWARF sections are compressed (${s.name}), which is not supported: decompress them with "objcopy --decompress-debug-sections"`,
        );
      }
      const name = s.name as DebugSection;
      if (!DEBUG_SECTIONS.includes(name) || sections.has(name) || s.type === SHT_NOBITS || s.size === 0)
        continue;
      if (name === '.debug_aranges' && options.useAranges === false) continue;
      if (s.flags & BigInt(SHF_COMPRESSED)) {
        throw new LineTableError(
          `${source.name}: ${s.name} is compressed (SHF_COMPRESSED), which is not supported: decompress the debug sections with "objcopy --decompress-debug-sections"`,
        );
      }
      if (s.offset + s.size > source.size) {
        throw new LineTableError(`${source.name}: ${s.name} runs past the end of the file (truncated?)`);
      }
      sections.set(name, s);
    }
    const missing = (['.debug_line', '.debug_info', '.debug_abbrev'] as const).filter(
      (n) => !sections.has(n),
    );
    if (missing.length > 0) {
      throw new LineTableError(
        `${source.name} has no DWARF line information (missing ${missing.join(', ')}): a vmlinux built without CONFIG_DEBUG_INFO, or stripped`,
      );
    }
    const code = layout.sections
      .filter((s) => (s.flags & SHF_EXECINSTR) !== 0n && (s.flags & SHF_ALLOC) !== 0n && s.size > 0)
      .map((s) => ({ start: s.addr, end: s.addr + BigInt(s.size) }));
    const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
    const description = `DWARF line tables: .debug_line ${mb(sections.get('.debug_line')!.size)}, ${
      sections.has('.debug_aranges')
        ? 'units found through .debug_aranges'
        : 'no .debug_aranges (units indexed from .debug_info)'
    }`;
    return new DwarfLineTable(
      source,
      sections,
      layout.littleEndian,
      code,
      options.ownsSource ?? false,
      description,
    );
  }

  /** The source line of a link-time address, or undefined. */
  async lineFor(address: bigint): Promise<SourceLine | undefined> {
    const r = await this.lookup(address);
    return r.found ? r.line : undefined;
  }

  /** The source line of a link-time address, or why there is none. */
  async lookup(address: bigint): Promise<LineLookup> {
    try {
      const unitOffset = await this.unitFor(address);
      if (unitOffset === undefined) {
        return { found: false, reason: `no compilation unit covers 0x${address.toString(16)}` };
      }
      const program = await this.program(unitOffset);
      if (!program.ok) return { found: false, reason: program.reason };
      const p = program.value;
      const row = findRow(p.rows, address);
      if (row < 0) {
        return {
          found: false,
          reason: `the line table of ${p.unit.name ?? `unit 0x${unitOffset.toString(16)}`} has no row for 0x${address.toString(16)}`,
        };
      }
      const line = p.rows.lines[row]!;
      if (line === 0)
        return { found: false, reason: 'the compiler gave this instruction no source line (line 0)' };
      const fileIndex = p.rows.files[row]!;
      const file = await this.filePath(p, fileIndex);
      if (file === undefined)
        return { found: false, reason: `file ${fileIndex} of the line table cannot be named` };
      const column = p.rows.columns[row]!;
      return { found: true, line: column > 0 ? { file, line, column } : { file, line } };
    } catch (err) {
      return { found: false, reason: (err as Error).message };
    }
  }

  async close(): Promise<void> {
    this.programs.clear();
    this.units.clear();
    if (this.ownsSource) await this.source.close();
  }

  // --- finding the unit ----------------------------------------------------------------------------

  private async unitFor(address: bigint): Promise<number | undefined> {
    this.arangesIndex ??= this.readAranges();
    const aranges = await this.arangesIndex;
    if (aranges) {
      const unit = unitForAddress(aranges, address);
      if (unit !== undefined) return unit;
      // Complete aranges leave out only code without debug info; index units once to be sure.
      if (!this.code.some((r) => address >= r.start && address < r.end)) return undefined;
    }
    this.scannedIndex ??= this.scanUnits();
    return unitForAddress(await this.scannedIndex, address);
  }

  /** The aranges index, or undefined when the section is missing, empty or unreadable. */
  private async readAranges(): Promise<AddressRangeIndex | undefined> {
    const s = this.sections.get('.debug_aranges');
    if (!s) return undefined;
    if (s.size > 256 * 1024 * 1024) return undefined;
    const index = parseAranges(await this.read('.debug_aranges', 0, s.size), this.littleEndian);
    return index.count > 0 ? index : undefined;
  }

  /** Index every unit by the ranges its first DIE names: headers only, bounded in units and bytes read. */
  private async scanUnits(): Promise<AddressRangeIndex> {
    const size = this.sections.get('.debug_info')!.size;
    const ranges: UnitRange[] = [];
    let offset = 0;
    const budgetEnd = this.bytesRead + SCAN_READ_BUDGET;
    for (let n = 0; offset < size && n < MAX_SCANNED_UNITS && this.bytesRead < budgetEnd; n++) {
      const info = await this.unit(offset);
      if (!info.ok) break; // without a header the next unit cannot be found
      try {
        for (const r of await this.unitRanges(info.value)) {
          if (ranges.length < MAX_ARANGES) ranges.push({ ...r, unit: offset });
        }
      } catch {
        // A unit whose ranges cannot be read is left out of the index; the others still count.
      }
      offset += info.value.header.unitSize;
    }
    return buildRangeIndex(ranges);
  }

  private async unitRanges(u: UnitInfo): Promise<AddressRange[]> {
    const a = u.attributes;
    const low = await this.addressValue(u, a.get(DW_AT.low_pc));
    const ranges = a.get(DW_AT.ranges);
    if (ranges) return this.rangeList(u, ranges, low ?? 0n);
    const high = a.get(DW_AT.high_pc);
    if (low === undefined || !high || high.value.kind === 'skipped') return [];
    // DW_AT_high_pc of class constant is a length (DWARF 4+); of class address, the end.
    const isLength = high.form !== DW_FORM.addr && high.value.kind === 'number';
    const end = isLength ? low + (high.value as { value: bigint }).value : await this.addressValue(u, high);
    return end !== undefined && end > low ? [{ start: low, end }] : [];
  }

  private async rangeList(u: UnitInfo, attr: AttributeValue, base: bigint): Promise<AddressRange[]> {
    const h = u.header;
    if (h.version < 5) {
      const offset = formNumber(attr.value);
      if (offset === undefined || !this.sections.has('.debug_ranges')) return [];
      return this.readGrowing('.debug_ranges', offset, MAX_ROOT_READ, (bytes) =>
        parseRangeList(new DwarfCursor(bytes, this.littleEndian), h.addressSize, base),
      );
    }
    let offset = formNumber(attr.value);
    if (offset === undefined) return [];
    if (attr.form === DW_FORM.rnglistx) {
      // An index into the offsets table that follows the unit's rnglists header.
      // Without DW_AT_rnglists_base: the first table, after its header (12 bytes, 20 in 64-bit DWARF).
      const tableBase =
        formNumber(u.attributes.get(DW_AT.rnglists_base)?.value) ?? (h.offsetSize === 8 ? 20 : 12);
      const entry = await this.read('.debug_rnglists', tableBase + offset * h.offsetSize, h.offsetSize);
      offset = tableBase + new DwarfCursor(entry, this.littleEndian).offset(h.offsetSize);
    }
    if (!this.sections.has('.debug_rnglists')) return [];
    return this.readGrowing('.debug_rnglists', offset, MAX_ROOT_READ, (bytes) =>
      parseRnglist(new DwarfCursor(bytes, this.littleEndian), h.addressSize, base, (i) =>
        this.indexedAddress(u, i),
      ),
    );
  }

  private async addressValue(u: UnitInfo, attr: AttributeValue | undefined): Promise<bigint | undefined> {
    if (!attr) return undefined;
    if (attr.value.kind === 'number') return attr.value.value;
    if (attr.value.kind === 'addrx') return this.indexedAddress(u, attr.value.index);
    return undefined;
  }

  /** An address from `.debug_addr` (DW_FORM_addrx, DW_RLE_startx_*). */
  private async indexedAddress(u: UnitInfo, index: number): Promise<bigint | undefined> {
    if (!this.sections.has('.debug_addr')) return undefined;
    const base = formNumber(u.attributes.get(DW_AT.addr_base)?.value) ?? 8;
    const size = u.header.addressSize;
    const bytes = await this.read('.debug_addr', base + index * size, size);
    return new DwarfCursor(bytes, this.littleEndian).unsigned(size);
  }

  // --- the unit's first DIE ------------------------------------------------------------------------

  private unit(offset: number): Promise<Result<UnitInfo>> {
    let u = this.units.get(offset);
    if (!u) {
      u = this.readUnit(offset).then(
        (value): Result<UnitInfo> => ({ ok: true, value }),
        (err: unknown) =>
          failure(new DwarfError(`unit at .debug_info+0x${offset.toString(16)}: ${(err as Error).message}`)),
      );
      this.units.set(offset, u);
    }
    return u;
  }

  private async readUnit(offset: number): Promise<UnitInfo> {
    const { header, attributes } = await this.readGrowing(
      '.debug_info',
      offset,
      MAX_ROOT_READ,
      async (bytes) => {
        const header = parseUnitHeader(bytes, this.littleEndian);
        const code = rootAbbreviationCode(bytes, this.littleEndian, header);
        const abbreviation = await this.abbreviation(header.abbrevOffset, code);
        return { header, attributes: readRootAttributes(bytes, this.littleEndian, header, abbreviation) };
      },
    );
    const info: UnitInfo = {
      offset,
      header,
      attributes,
      stmtList: formNumber(attributes.get(DW_AT.stmt_list)?.value),
      strOffsetsBase: formNumber(attributes.get(DW_AT.str_offsets_base)?.value),
      compDir: undefined,
      name: undefined,
    };
    info.compDir = await this.stringValue(attributes.get(DW_AT.comp_dir)?.value, info).catch(() => undefined);
    info.name = await this.stringValue(attributes.get(DW_AT.name)?.value, info).catch(() => undefined);
    return info;
  }

  private async abbreviation(tableOffset: number, code: number): Promise<Abbreviation> {
    const key = `${tableOffset}:${code}`;
    let a = this.abbreviations.get(key);
    if (!a) {
      a = await this.readGrowing('.debug_abbrev', tableOffset, MAX_ABBREV_READ, (bytes) =>
        findAbbreviation(bytes, this.littleEndian, code),
      );
      this.abbreviations.set(key, a);
    }
    if (!a)
      throw new DwarfError(
        `abbreviation ${code} is not in the table at .debug_abbrev+0x${tableOffset.toString(16)}`,
      );
    return a;
  }

  // --- the line program ----------------------------------------------------------------------------

  private async program(unitOffset: number): Promise<Result<LoadedProgram>> {
    const cached = this.programs.get(unitOffset);
    if (cached) return cached;
    let pending = this.loading.get(unitOffset);
    if (!pending) {
      pending = this.loadProgram(unitOffset).then(
        (value): Result<LoadedProgram> => ({ ok: true, value }),
        (err: unknown) => failure(err),
      );
      this.loading.set(unitOffset, pending);
      pending.then((r) => {
        this.loading.delete(unitOffset);
        this.programs.set(unitOffset, r);
      });
    }
    return pending;
  }

  private async loadProgram(unitOffset: number): Promise<LoadedProgram> {
    const unit = await this.unit(unitOffset);
    if (!unit.ok) throw new DwarfError(unit.reason);
    const u = unit.value;
    const where = u.name ?? `unit at .debug_info+0x${unitOffset.toString(16)}`;
    if (u.stmtList === undefined) throw new DwarfError(`${where} has no line table (no DW_AT_stmt_list)`);
    const sectionSize = this.sections.get('.debug_line')!.size;
    if (u.stmtList >= sectionSize) throw new DwarfError(`${where}: DW_AT_stmt_list points past .debug_line`);
    try {
      const head = await this.read('.debug_line', u.stmtList, Math.min(12, sectionSize - u.stmtList));
      const size = lineUnitSize(head, this.littleEndian);
      if (size > MAX_LINE_UNIT_BYTES) throw new DwarfError(`a line program of ${size} bytes is implausible`);
      if (u.stmtList + size > sectionSize)
        throw new DwarfError('the line program runs past the end of .debug_line');
      const bytes = await this.read('.debug_line', u.stmtList, size);
      return { ...decodeLineProgram(bytes, this.littleEndian), unit: u, paths: new Map() };
    } catch (err) {
      throw new DwarfError(
        `line program of ${where} (.debug_line+0x${u.stmtList.toString(16)}): ${(err as Error).message}`,
      );
    }
  }

  /** comp_dir / include directory / name for a file-register value, normalized. */
  private async filePath(p: LoadedProgram, fileIndex: number): Promise<string | undefined> {
    if (p.paths.has(fileIndex)) return p.paths.get(fileIndex);
    let path: string | undefined;
    try {
      path = await this.resolveFile(p, fileIndex);
    } catch {
      path = undefined;
    }
    p.paths.set(fileIndex, path);
    return path;
  }

  private async resolveFile(p: LoadedProgram, fileIndex: number): Promise<string | undefined> {
    const h = p.header;
    const entry = h.version >= 5 ? h.files[fileIndex] : h.files[fileIndex - 1];
    if (!entry) return undefined;
    const name = await this.stringValue(entry.path, p.unit);
    if (name === undefined || name === '') return undefined;
    if (posix.isAbsolute(name)) return posix.normalize(name);
    const compDir = p.unit.compDir ?? (h.version >= 5 ? await this.directory(p, 0) : undefined);
    let dir: string | undefined;
    if (h.version >= 5)
      dir = entry.directoryIndex === 0 ? compDir : await this.directory(p, entry.directoryIndex);
    else dir = entry.directoryIndex === 0 ? compDir : await this.directory(p, entry.directoryIndex - 1);
    const parts = [dir, name].filter((x): x is string => x !== undefined && x !== '');
    if (dir !== undefined && !posix.isAbsolute(dir) && compDir && dir !== compDir) parts.unshift(compDir);
    return posix.normalize(posix.join(...parts));
  }

  private async directory(p: LoadedProgram, index: number): Promise<string | undefined> {
    const d = p.header.directories[index];
    return d ? this.stringValue(d, p.unit) : undefined;
  }

  // --- strings and raw reads -------------------------------------------------------------------------

  private async stringValue(v: FormValue | undefined, u: UnitInfo): Promise<string | undefined> {
    if (!v) return undefined;
    if (v.kind === 'string') return v.value;
    if (v.kind === 'strp') {
      if (v.section === 'supplementary') return undefined; // in a dwz supplementary file we do not have
      return this.cstring(v.section, v.offset);
    }
    if (v.kind === 'strx') {
      if (!this.sections.has('.debug_str_offsets')) return undefined;
      const size = u.header.offsetSize;
      // Without DW_AT_str_offsets_base, the first table (after its 8- or 16-byte header).
      const base = u.strOffsetsBase ?? (size === 8 ? 16 : 8);
      const raw = await this.read('.debug_str_offsets', base + v.index * size, size);
      return this.cstring('.debug_str', new DwarfCursor(raw, this.littleEndian).offset(size));
    }
    return undefined;
  }

  private cstring(section: '.debug_str' | '.debug_line_str', offset: number): Promise<string> {
    return this.readGrowing(section, offset, MAX_PATH + 1, (bytes) =>
      new DwarfCursor(bytes, this.littleEndian).cstring(MAX_PATH),
    );
  }

  /**
   * Parse from `offset` with a small read first, retrying with 8× more bytes while the parser runs out
   * (up to `max` bytes or the end of the section).
   */
  private async readGrowing<T>(
    section: DebugSection,
    offset: number,
    max: number,
    parse: (bytes: Uint8Array) => T | Promise<T>,
  ): Promise<T> {
    const s = this.sections.get(section);
    if (!s) throw new DwarfError(`the file has no ${section}`);
    if (offset < 0 || offset >= s.size)
      throw new DwarfError(`offset 0x${offset.toString(16)} is outside ${section}`);
    const limit = Math.min(max, s.size - offset);
    let length = Math.min(FIRST_READ, limit);
    for (;;) {
      const bytes = await this.read(section, offset, length);
      try {
        return await parse(bytes);
      } catch (err) {
        if (!(err instanceof DwarfTruncatedError) || length >= limit) throw err;
        length = Math.min(limit, length * 8);
      }
    }
  }

  private async read(section: DebugSection, offset: number, length: number): Promise<Uint8Array> {
    const s = this.sections.get(section);
    if (!s) throw new DwarfError(`the file has no ${section}`);
    if (offset < 0 || length < 0 || offset + length > s.size) {
      throw new DwarfError(`${length} bytes at ${section}+0x${offset.toString(16)} lie outside the section`);
    }
    const bytes = await this.source.read(s.offset + offset, length);
    this.bytesRead += bytes.length;
    if (bytes.length < length) throw new DwarfError(`${this.source.name} ends inside ${section}`);
    return bytes;
  }
}
