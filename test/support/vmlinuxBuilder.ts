/**
 * Writes small vmlinux-like ELF executables for tests (ELF32/ELF64, either byte order): the usual
 * kernel sections (.text, .rodata, .data, .bss, .data..percpu), an optional GNU build-id note, and a
 * .symtab/.strtab. Laid out from the System V gABI, not from the reader.
 */
import { writeFileSync } from 'node:fs';
import { Bytes } from './virtualMemory';

export type SectionName = '.text' | '.rodata' | '.data' | '.bss' | '.data..percpu' | 'ABS' | '.comment';

export interface ElfSymbolSpec {
  name: string;
  value: bigint;
  size?: bigint;
  section: SectionName;
  bind?: 'local' | 'global' | 'weak';
  type?: 'func' | 'object' | 'notype' | 'section' | 'file';
}

export interface VmlinuxSpec {
  elfClass?: 32 | 64;
  littleEndian?: boolean;
  machine: number;
  buildId?: string;
  symbols: ElfSymbolSpec[];
  /** Leave out .symtab/.strtab (a stripped image). */
  stripped?: boolean;
  /** e_type (default ET_EXEC = 2). */
  type?: number;
  /** More non-allocated sections (DWARF), in this order after the standard ones. */
  extraSections?: { name: string; data: Uint8Array; flags?: number }[];
}

const SHT = { PROGBITS: 1, SYMTAB: 2, STRTAB: 3, NOTE: 7, NOBITS: 8 };
const SHF = { WRITE: 1, ALLOC: 2, EXEC: 4 };

export function buildVmlinux(spec: VmlinuxSpec): Uint8Array {
  const is64 = (spec.elfClass ?? 64) === 64;
  const le = spec.littleEndian ?? true;
  const ws = is64 ? 8 : 4;
  interface Sec {
    name: string;
    type: number;
    flags: number;
    addr: bigint;
    data: Uint8Array;
    size?: number;
    link?: number;
    info?: number;
    entsize?: number;
    align: number;
  }
  const base = is64 ? 0xffff_ffff_8100_0000n : 0xc100_0000n;
  const sections: Sec[] = [
    { name: '', type: 0, flags: 0, addr: 0n, data: new Uint8Array(0), align: 0 },
    {
      name: '.text',
      type: SHT.PROGBITS,
      flags: SHF.ALLOC | SHF.EXEC,
      addr: base,
      data: new Uint8Array(16),
      align: 16,
    },
    {
      name: '.rodata',
      type: SHT.PROGBITS,
      flags: SHF.ALLOC,
      addr: base + 0x100000n,
      data: new Uint8Array(16),
      align: 16,
    },
    {
      name: '.data',
      type: SHT.PROGBITS,
      flags: SHF.ALLOC | SHF.WRITE,
      addr: base + 0x200000n,
      data: new Uint8Array(16),
      align: 16,
    },
    {
      name: '.bss',
      type: SHT.NOBITS,
      flags: SHF.ALLOC | SHF.WRITE,
      addr: base + 0x300000n,
      data: new Uint8Array(0),
      size: 0x1000,
      align: 16,
    },
    {
      name: '.data..percpu',
      type: SHT.PROGBITS,
      flags: SHF.ALLOC | SHF.WRITE,
      addr: 0n,
      data: new Uint8Array(16),
      align: 16,
    },
    { name: '.comment', type: SHT.PROGBITS, flags: 0, addr: 0n, data: new Uint8Array(8), align: 1 },
  ];
  for (const x of spec.extraSections ?? []) {
    sections.push({
      name: x.name,
      type: SHT.PROGBITS,
      flags: x.flags ?? 0,
      addr: 0n,
      data: x.data,
      align: 1,
    });
  }
  const index = (n: SectionName) => (n === 'ABS' ? 0xfff1 : sections.findIndex((s) => s.name === n));
  if (spec.buildId) {
    const id = Buffer.from(spec.buildId, 'hex');
    const note = new Bytes(12 + 4 + ((id.length + 3) & ~3), le);
    note.u32(0, 4).u32(4, id.length).u32(8, 3).ascii(12, 'GNU\0');
    note.bytes.set(id, 16);
    sections.push({
      name: '.note.gnu.build-id',
      type: SHT.NOTE,
      flags: SHF.ALLOC,
      addr: base + 0x400000n,
      data: note.bytes,
      align: 4,
    });
  }
  if (!spec.stripped) {
    const strtab: number[] = [0];
    const strOff = (s: string) => {
      const o = strtab.length;
      for (const ch of s) strtab.push(ch.charCodeAt(0));
      strtab.push(0);
      return o;
    };
    const entSize = is64 ? 24 : 16;
    const locals = spec.symbols.filter((s) => (s.bind ?? 'global') === 'local');
    const globals = spec.symbols.filter((s) => (s.bind ?? 'global') !== 'local');
    const ordered = [...locals, ...globals];
    const sym = new Bytes(entSize * (ordered.length + 1), le);
    ordered.forEach((s, i) => {
      const o = (i + 1) * entSize;
      const bind = { local: 0, global: 1, weak: 2 }[s.bind ?? 'global'];
      const type = { notype: 0, object: 1, func: 2, section: 3, file: 4 }[s.type ?? 'func'];
      const info = (bind << 4) | type;
      const name = strOff(s.name);
      if (is64) {
        sym
          .u32(o, name)
          .u8(o + 4, info)
          .u8(o + 5, 0)
          .u16(o + 6, index(s.section))
          .u64(o + 8, s.value)
          .u64(o + 16, s.size ?? 0n);
      } else {
        sym
          .u32(o, name)
          .u32(o + 4, Number(s.value))
          .u32(o + 8, Number(s.size ?? 0n))
          .u8(o + 12, info)
          .u8(o + 13, 0)
          .u16(o + 14, index(s.section));
      }
    });
    const symtabIndex = sections.length;
    sections.push({
      name: '.symtab',
      type: SHT.SYMTAB,
      flags: 0,
      addr: 0n,
      data: sym.bytes,
      link: symtabIndex + 1,
      info: locals.length + 1,
      entsize: entSize,
      align: ws,
    });
    sections.push({
      name: '.strtab',
      type: SHT.STRTAB,
      flags: 0,
      addr: 0n,
      data: Uint8Array.from(strtab),
      align: 1,
    });
  }
  const shstr: number[] = [0];
  const shName = sections.map((s) => {
    if (s.name === '') return 0;
    const o = shstr.length;
    for (const ch of s.name) shstr.push(ch.charCodeAt(0));
    shstr.push(0);
    return o;
  });
  const shstrndx = sections.length;
  shName.push(shstr.length);
  for (const ch of '.shstrtab') shstr.push(ch.charCodeAt(0));
  shstr.push(0);
  sections.push({
    name: '.shstrtab',
    type: SHT.STRTAB,
    flags: 0,
    addr: 0n,
    data: Uint8Array.from(shstr),
    align: 1,
  });

  const ehsize = is64 ? 64 : 52;
  const shentsize = is64 ? 64 : 40;
  let off = ehsize;
  const offsets: number[] = [];
  for (const s of sections) {
    off = Math.ceil(off / Math.max(1, s.align)) * Math.max(1, s.align);
    offsets.push(off);
    off += s.data.length;
  }
  const shoff = Math.ceil(off / 8) * 8;
  const total = shoff + shentsize * sections.length;
  const f = new Bytes(total, le);
  f.bytes.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, le ? 1 : 2, 1], 0);
  f.u16(16, spec.type ?? 2)
    .u16(18, spec.machine)
    .u32(20, 1);
  if (is64) {
    f.u64(24, base)
      .u64(32, 0n)
      .u64(40, BigInt(shoff))
      .u32(48, 0)
      .u16(52, ehsize)
      .u16(54, 56)
      .u16(56, 0)
      .u16(58, shentsize)
      .u16(60, sections.length)
      .u16(62, shstrndx);
  } else {
    f.u32(24, Number(base))
      .u32(28, 0)
      .u32(32, shoff)
      .u32(36, 0)
      .u16(40, ehsize)
      .u16(42, 32)
      .u16(44, 0)
      .u16(46, shentsize)
      .u16(48, sections.length)
      .u16(50, shstrndx);
  }
  sections.forEach((s, i) => {
    f.bytes.set(s.data, offsets[i]!);
    const o = shoff + i * shentsize;
    const size = s.size ?? s.data.length;
    if (is64) {
      f.u32(o, shName[i]!)
        .u32(o + 4, s.type)
        .u64(o + 8, BigInt(s.flags))
        .u64(o + 16, s.addr)
        .u64(o + 24, BigInt(i === 0 ? 0 : offsets[i]!))
        .u64(o + 32, BigInt(size))
        .u32(o + 40, s.link ?? 0)
        .u32(o + 44, s.info ?? 0)
        .u64(o + 48, BigInt(s.align))
        .u64(o + 56, BigInt(s.entsize ?? 0));
    } else {
      f.u32(o, shName[i]!)
        .u32(o + 4, s.type)
        .u32(o + 8, s.flags)
        .u32(o + 12, Number(s.addr))
        .u32(o + 16, i === 0 ? 0 : offsets[i]!)
        .u32(o + 20, size)
        .u32(o + 24, s.link ?? 0)
        .u32(o + 28, s.info ?? 0)
        .u32(o + 32, s.align)
        .u32(o + 36, s.entsize ?? 0);
    }
  });
  return f.bytes;
}

export function writeVmlinux(path: string, spec: VmlinuxSpec): string {
  writeFileSync(path, buildVmlinux(spec));
  return path;
}
