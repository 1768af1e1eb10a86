/**
 * Symbols from a vmlinux ELF (ELF32/ELF64, little or big endian): `.symtab` + its string table, with
 * sizes, types mapped to nm letters, and the build-id from the GNU build-id note. Loaded for a dump
 * with the KASLR slide applied to kernel-image addresses only; a vmlinux whose build-id differs from
 * the dump's VMCOREINFO `BUILD-ID`, or whose symbols disagree with the dump, is refused.
 *
 * Only the headers, the symbol table and the string table are read: a 600 MB debug vmlinux costs a few
 * MB of reads.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { archByElfMachine } from '../arch';
import { type DumpSymbolContext, runtimeTable } from './relocate';
import type { KernelSymbol, SymbolTable } from './symbolTable';

export class VmlinuxError extends Error {
  override readonly name = 'VmlinuxError';
}

const ET_EXEC = 2;
const ET_DYN = 3;
const ET_CORE = 4;
const SHT_SYMTAB = 2;
const SHT_NOTE = 7;
const SHT_NOBITS = 8;
const PT_NOTE = 4;
const SHF_WRITE = 0x1;
const SHF_ALLOC = 0x2;
const SHF_EXECINSTR = 0x4;
const SHN_UNDEF = 0;
const SHN_LORESERVE = 0xff00;
const SHN_ABS = 0xfff1;
const SHN_COMMON = 0xfff2;
const SHN_XINDEX = 0xffff;
const STT_OBJECT = 1;
const STT_SECTION = 3;
const STT_FILE = 4;
const STT_GNU_IFUNC = 10;
const STB_LOCAL = 0;
const STB_WEAK = 2;
const STB_GNU_UNIQUE = 10;
const NT_GNU_BUILD_ID = 3;

const MAX_SECTIONS = 1 << 20;
const MAX_TABLE_BYTES = 1024 * 1024 * 1024;
const MAX_NOTE_BYTES = 1024 * 1024;

export interface ElfSection {
  name: string;
  type: number;
  flags: bigint;
  addr: bigint;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

export interface VmlinuxSymbols {
  elfClass: 32 | 64;
  littleEndian: boolean;
  machine: number;
  /** Lowercase hex, when the file has a GNU build-id note. */
  buildId: string | undefined;
  /** Link-time symbols (no STT_SECTION/STT_FILE/undefined/mapping symbols). */
  symbols: KernelSymbol[];
  sections: ElfSection[];
}

class Reader {
  constructor(
    private readonly fh: FileHandle,
    readonly size: number,
    readonly path: string,
  ) {}
  async read(offset: number, length: number, what: string): Promise<Uint8Array> {
    if (!Number.isSafeInteger(offset) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new VmlinuxError(
        `${this.path}: ${what} (${length} bytes at offset ${offset}) lies outside the ${this.size}-byte file: truncated or not an ELF file`,
      );
    }
    const buf = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.fh.read(buf, done, length - done, offset + done);
      if (bytesRead === 0) throw new VmlinuxError(`${this.path}: short read of ${what}`);
      done += bytesRead;
    }
    return buf;
  }
}

function safe(v: bigint, what: string, path: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new VmlinuxError(`${path}: ${what} ${v} is out of range`);
  return Number(v);
}

/** Read the ELF symbol table and build-id of a vmlinux (link-time addresses). */
export async function readVmlinuxSymbols(path: string): Promise<VmlinuxSymbols> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new VmlinuxError(`cannot open ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    const size = (await fh.stat()).size;
    return await parse(new Reader(fh, size, path));
  } finally {
    await fh.close();
  }
}

async function parse(r: Reader): Promise<VmlinuxSymbols> {
  const path = r.path;
  if (r.size < 52) throw new VmlinuxError(`${path} is too small to be an ELF file (${r.size} bytes)`);
  const ident = await r.read(0, 64 > r.size ? 52 : 64, 'ELF header');
  if (ident[0] !== 0x7f || ident[1] !== 0x45 || ident[2] !== 0x4c || ident[3] !== 0x46) {
    throw new VmlinuxError(
      `${path} is not an ELF file (no \\x7fELF magic); for a System.map give it as System.map`,
    );
  }
  const cls = ident[4];
  const data = ident[5];
  if (cls !== 1 && cls !== 2) throw new VmlinuxError(`${path}: unknown ELF class ${cls}`);
  if (data !== 1 && data !== 2) throw new VmlinuxError(`${path}: unknown ELF data encoding ${data}`);
  const is64 = cls === 2;
  const le = data === 1;
  const h = new DataView(ident.buffer, ident.byteOffset, ident.byteLength);
  const u16 = (dv: DataView, o: number) => dv.getUint16(o, le);
  const u32 = (dv: DataView, o: number) => dv.getUint32(o, le);
  const word = (dv: DataView, o: number): bigint =>
    is64 ? dv.getBigUint64(o, le) : BigInt(dv.getUint32(o, le));
  const type = u16(h, 16);
  const machine = u16(h, 18);
  if (type === ET_CORE) throw new VmlinuxError(`${path} is an ELF core dump, not a vmlinux`);
  if (type !== ET_EXEC && type !== ET_DYN)
    throw new VmlinuxError(`${path}: ELF type ${type} is not an executable (vmlinux is ET_EXEC)`);
  const phoff = safe(word(h, is64 ? 32 : 28), 'e_phoff', path);
  const shoff = safe(word(h, is64 ? 40 : 32), 'e_shoff', path);
  const phentsize = u16(h, is64 ? 54 : 42);
  let phnum = u16(h, is64 ? 56 : 44);
  const shentsize = u16(h, is64 ? 58 : 46);
  let shnum = u16(h, is64 ? 60 : 48);
  let shstrndx = u16(h, is64 ? 62 : 50);

  const sections: ElfSection[] = [];
  if (shoff !== 0) {
    const minEnt = is64 ? 64 : 40;
    if (shentsize < minEnt) throw new VmlinuxError(`${path}: section header size ${shentsize} is too small`);
    if (shnum === 0 || shstrndx === SHN_XINDEX) {
      const first = new DataView((await r.read(shoff, minEnt, 'section header 0')).buffer);
      if (shnum === 0) shnum = safe(word(first, is64 ? 32 : 20), 'section count', path);
      if (shstrndx === SHN_XINDEX) shstrndx = u32(first, is64 ? 40 : 24);
    }
    if (shnum > MAX_SECTIONS) throw new VmlinuxError(`${path}: ${shnum} sections is not plausible`);
    const raw = await r.read(shoff, shnum * shentsize, 'section headers');
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const nameOffsets: number[] = [];
    for (let i = 0; i < shnum; i++) {
      const o = i * shentsize;
      nameOffsets.push(u32(dv, o));
      sections.push({
        name: '',
        type: u32(dv, o + 4),
        flags: word(dv, o + 8),
        addr: word(dv, is64 ? o + 16 : o + 12),
        offset: safe(word(dv, is64 ? o + 24 : o + 16), 'section offset', path),
        size: safe(word(dv, is64 ? o + 32 : o + 20), 'section size', path),
        link: u32(dv, is64 ? o + 40 : o + 24),
        entsize: safe(word(dv, is64 ? o + 56 : o + 36), 'section entsize', path),
      });
    }
    const shstr = sections[shstrndx];
    if (shstr && shstr.type !== SHT_NOBITS && shstr.size <= MAX_TABLE_BYTES) {
      const names = await r.read(shstr.offset, shstr.size, 'section name table');
      sections.forEach((s, i) => {
        s.name = cstring(names, nameOffsets[i]!);
      });
    }
  }

  // Build-id: SHT_NOTE sections, else PT_NOTE segments.
  let buildId: string | undefined;
  for (const s of sections) {
    if (s.type !== SHT_NOTE || s.size === 0 || s.size > MAX_NOTE_BYTES) continue;
    buildId = findBuildId(await r.read(s.offset, s.size, `note section ${s.name}`), le);
    if (buildId) break;
  }
  if (!buildId && phoff !== 0 && phnum > 0 && phnum < 0xffff) {
    const entMin = is64 ? 56 : 32;
    if (phentsize >= entMin) {
      phnum = Math.min(phnum, 4096);
      const raw = await r.read(phoff, phnum * phentsize, 'program headers');
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      for (let i = 0; i < phnum && !buildId; i++) {
        const o = i * phentsize;
        if (u32(dv, o) !== PT_NOTE) continue;
        const off = safe(word(dv, is64 ? o + 8 : o + 4), 'note offset', path);
        const sz = safe(word(dv, is64 ? o + 32 : o + 16), 'note size', path);
        if (sz === 0 || sz > MAX_NOTE_BYTES || off + sz > r.size) continue;
        buildId = findBuildId(await r.read(off, sz, 'PT_NOTE'), le);
      }
    }
  }

  const symtab = sections.find((s) => s.type === SHT_SYMTAB);
  if (!symtab) {
    throw new VmlinuxError(
      `${path} has no .symtab (a stripped image such as vmlinuz cannot give symbols); use the debug vmlinux or System.map`,
    );
  }
  const strtab = sections[symtab.link];
  if (!strtab || strtab.type === SHT_NOBITS)
    throw new VmlinuxError(`${path}: .symtab links to section ${symtab.link}, which is not a string table`);
  const entSize = is64 ? 24 : 16;
  if (symtab.entsize !== 0 && symtab.entsize < entSize)
    throw new VmlinuxError(`${path}: .symtab entry size ${symtab.entsize} is too small`);
  const stride = symtab.entsize || entSize;
  if (symtab.size > MAX_TABLE_BYTES || strtab.size > MAX_TABLE_BYTES)
    throw new VmlinuxError(`${path}: symbol table is implausibly large`);
  const symRaw = await r.read(symtab.offset, symtab.size, '.symtab');
  const strRaw = await r.read(strtab.offset, strtab.size, '.strtab');
  const sdv = new DataView(symRaw.buffer, symRaw.byteOffset, symRaw.byteLength);
  const count = Math.floor(symtab.size / stride);
  const symbols: KernelSymbol[] = [];
  for (let i = 1; i < count; i++) {
    const o = i * stride;
    const nameOff = u32(sdv, o);
    let info: number;
    let shndx: number;
    let value: bigint;
    let size: bigint;
    if (is64) {
      info = sdv.getUint8(o + 4);
      shndx = u16(sdv, o + 6);
      value = sdv.getBigUint64(o + 8, le);
      size = sdv.getBigUint64(o + 16, le);
    } else {
      value = BigInt(u32(sdv, o + 4));
      size = BigInt(u32(sdv, o + 8));
      info = sdv.getUint8(o + 12);
      shndx = u16(sdv, o + 14);
    }
    const stType = info & 0xf;
    const bind = info >> 4;
    if (stType === STT_SECTION || stType === STT_FILE || shndx === SHN_UNDEF) continue;
    if (nameOff >= strRaw.length) continue;
    const name = cstring(strRaw, nameOff);
    if (name === '' || isMappingSymbol(name) || name.startsWith('.L')) continue;
    const letter = nmLetter(stType, bind, shndx, sections);
    symbols.push(
      size > 0n ? { name, address: value, type: letter, size } : { name, address: value, type: letter },
    );
  }
  return { elfClass: is64 ? 64 : 32, littleEndian: le, machine, buildId, symbols, sections };
}

/** ARM/AArch64/RISC-V mapping symbols ($a, $d, $t, $x, with optional .suffix) mark code/data, not functions. */
function isMappingSymbol(name: string): boolean {
  return /^\$[adtxv](\.|$)/.test(name);
}

/** The letter nm prints for a defined symbol. */
export function nmLetter(
  stType: number,
  bind: number,
  shndx: number,
  sections: readonly ElfSection[],
): string {
  if (stType === STT_GNU_IFUNC) return 'i';
  if (bind === STB_GNU_UNIQUE) return 'u';
  if (bind === STB_WEAK) return stType === STT_OBJECT ? 'V' : 'W';
  let c: string;
  if (shndx === SHN_ABS) c = 'a';
  else if (shndx === SHN_COMMON) c = 'c';
  else if (shndx >= SHN_LORESERVE) c = '?';
  else {
    const s = sections[shndx];
    if (!s) c = '?';
    else if (s.flags & BigInt(SHF_EXECINSTR)) c = 't';
    else if (!(s.flags & BigInt(SHF_ALLOC))) c = 'n';
    else if (s.type === SHT_NOBITS) c = 'b';
    else if (s.flags & BigInt(SHF_WRITE)) c = 'd';
    else c = 'r';
  }
  return bind === STB_LOCAL ? c : c.toUpperCase();
}

function cstring(bytes: Uint8Array, offset: number): string {
  let end = offset;
  while (end < bytes.length && bytes[end] !== 0) end++;
  return Buffer.from(bytes.subarray(offset, end)).toString('latin1');
}

/** The GNU build-id in a block of ELF notes. */
export function findBuildId(notes: Uint8Array, le: boolean): string | undefined {
  const dv = new DataView(notes.buffer, notes.byteOffset, notes.byteLength);
  let pos = 0;
  for (let n = 0; n < 4096 && pos + 12 <= notes.length; n++) {
    const namesz = dv.getUint32(pos, le);
    const descsz = dv.getUint32(pos + 4, le);
    const type = dv.getUint32(pos + 8, le);
    const nameStart = pos + 12;
    const descStart = nameStart + align4(namesz);
    const next = descStart + align4(descsz);
    if (namesz > notes.length || descsz > notes.length || next > notes.length) return undefined;
    const name = cstring(notes.subarray(nameStart, nameStart + namesz), 0);
    if (name === 'GNU' && type === NT_GNU_BUILD_ID && descsz > 0) {
      return Buffer.from(notes.subarray(descStart, descStart + descsz)).toString('hex');
    }
    pos = next;
  }
  return undefined;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

export interface VmlinuxOptions {
  /** Load even when the build-ids differ (some 6.x stable kernels wrote a garbage BUILD-ID); symbols are still checked. */
  ignoreBuildId?: boolean;
}

/** Load a vmlinux's symbols for a dump: checked (arch, build-id, symbols, banner) and KASLR-relocated. */
export async function loadVmlinux(
  path: string,
  ctx: DumpSymbolContext,
  options: VmlinuxOptions = {},
): Promise<SymbolTable> {
  const v = await readVmlinuxSymbols(path);
  const arch = archByElfMachine(v.machine);
  if (arch && arch.name !== ctx.arch) {
    throw new VmlinuxError(`${path} is a vmlinux for ${arch.name}, but the dump is ${ctx.arch}`);
  }
  const facts: string[] = [];
  const dumpId = ctx.vmcoreinfo?.buildId?.toLowerCase();
  if (dumpId && v.buildId) {
    if (dumpId !== v.buildId) {
      if (!options.ignoreBuildId) {
        throw new VmlinuxError(
          `${path} does not match this dump: its build-id is ${v.buildId} but the dump's VMCOREINFO says BUILD-ID=${dumpId}: it is another build of the kernel`,
        );
      }
      facts.push(`build-id ${v.buildId} differs from the dump's ${dumpId} (ignored on request)`);
    } else facts.push(`build-id ${v.buildId} matches`);
  } else if (v.buildId) facts.push(`build-id ${v.buildId} (the dump records none)`);
  if (v.symbols.length === 0) throw new VmlinuxError(`${path}: .symtab holds no symbols`);
  return runtimeTable(v.symbols, 'vmlinux', ctx, path, facts);
}
