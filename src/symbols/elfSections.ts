/**
 * The section headers of an ELF file (ELF32/ELF64, either byte order) read lazily from a ByteSource:
 * the file header, the section header table and the section-name table, nothing else. The DWARF
 * readers then fetch only the pieces of the sections they need.
 */
import type { ByteSource } from '../dump/source';

export class ElfFormatError extends Error {
  override readonly name = 'ElfFormatError';
}

export const SHT_NOBITS = 8;
/** Section data is compressed (an Elf_Chdr precedes it). */
export const SHF_COMPRESSED = 0x800;

const SHN_XINDEX = 0xffff;
const MAX_SECTIONS = 1 << 16;
const MAX_NAME_TABLE = 16 * 1024 * 1024;

export interface ElfSectionHeader {
  name: string;
  type: number;
  flags: bigint;
  addr: bigint;
  offset: number;
  size: number;
}

export interface ElfLayout {
  elfClass: 32 | 64;
  littleEndian: boolean;
  machine: number;
  sections: ElfSectionHeader[];
}

async function readFully(
  source: ByteSource,
  offset: number,
  length: number,
  what: string,
): Promise<DataView> {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > source.size) {
    throw new ElfFormatError(
      `${source.name}: the ${what} (${length} bytes at ${offset}) lies outside the ${source.size}-byte file`,
    );
  }
  const bytes = await source.read(offset, length);
  if (bytes.length < length) throw new ElfFormatError(`${source.name}: short read of the ${what}`);
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function toSafe(v: bigint, what: string, source: ByteSource): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER))
    throw new ElfFormatError(`${source.name}: ${what} ${v} is out of range`);
  return Number(v);
}

/** Read the ELF header and section headers (with names). */
export async function readElfLayout(source: ByteSource): Promise<ElfLayout> {
  if (source.size < 52) throw new ElfFormatError(`${source.name} is too small to be an ELF file`);
  const h = await readFully(source, 0, Math.min(64, source.size), 'ELF header');
  if (h.getUint32(0, false) !== 0x7f454c46) throw new ElfFormatError(`${source.name} is not an ELF file`);
  const cls = h.getUint8(4);
  const data = h.getUint8(5);
  if ((cls !== 1 && cls !== 2) || (data !== 1 && data !== 2)) {
    throw new ElfFormatError(`${source.name}: unknown ELF class ${cls} or data encoding ${data}`);
  }
  const is64 = cls === 2;
  if (is64 && source.size < 64) throw new ElfFormatError(`${source.name} is too small for an ELF64 header`);
  const le = data === 1;
  const word = (dv: DataView, o: number): bigint =>
    is64 ? dv.getBigUint64(o, le) : BigInt(dv.getUint32(o, le));
  const machine = h.getUint16(18, le);
  const shoff = toSafe(word(h, is64 ? 40 : 32), 'e_shoff', source);
  const shentsize = h.getUint16(is64 ? 58 : 46, le);
  let shnum = h.getUint16(is64 ? 60 : 48, le);
  let shstrndx = h.getUint16(is64 ? 62 : 50, le);
  const sections: ElfSectionHeader[] = [];
  const layout: ElfLayout = { elfClass: is64 ? 64 : 32, littleEndian: le, machine, sections };
  if (shoff === 0) return layout;
  const minEntry = is64 ? 64 : 40;
  if (shentsize < minEntry)
    throw new ElfFormatError(`${source.name}: section header size ${shentsize} is too small`);
  if (shnum === 0 || shstrndx === SHN_XINDEX) {
    // More than 0xff00 sections: the real counts live in section header 0.
    const first = await readFully(source, shoff, minEntry, 'section header 0');
    if (shnum === 0) shnum = toSafe(word(first, is64 ? 32 : 20), 'section count', source);
    if (shstrndx === SHN_XINDEX) shstrndx = first.getUint32(is64 ? 40 : 24, le);
  }
  if (shnum > MAX_SECTIONS) throw new ElfFormatError(`${source.name}: ${shnum} sections is not plausible`);
  const table = await readFully(source, shoff, shnum * shentsize, 'section headers');
  const nameOffsets: number[] = [];
  for (let i = 0; i < shnum; i++) {
    const o = i * shentsize;
    nameOffsets.push(table.getUint32(o, le));
    sections.push({
      name: '',
      type: table.getUint32(o + 4, le),
      flags: word(table, o + 8),
      addr: word(table, is64 ? o + 16 : o + 12),
      offset: toSafe(word(table, is64 ? o + 24 : o + 16), 'section offset', source),
      size: toSafe(word(table, is64 ? o + 32 : o + 20), 'section size', source),
    });
  }
  const names = sections[shstrndx];
  if (names && names.type !== SHT_NOBITS && names.size <= MAX_NAME_TABLE && names.size > 0) {
    const dv = await readFully(source, names.offset, names.size, 'section name table');
    const bytes = new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength);
    sections.forEach((s, i) => {
      const start = nameOffsets[i]!;
      let end = start;
      while (end < bytes.length && bytes[end] !== 0) end++;
      s.name = Buffer.from(bytes.subarray(start, end)).toString('latin1');
    });
  }
  return layout;
}
