/**
 * Writes small ELF core files for tests: ELF64 or ELF32 (`--elf32-core-headers`), either byte
 * order, e_phnum overflow (PN_XNUM with the real count in section header 0's sh_info), any number
 * of PT_NOTE segments (4- or 8-byte note alignment), PT_LOADs with p_filesz < p_memsz, overlapping
 * segments, segments without a virtual or physical address, the incomplete flag, and truncation.
 *
 * Layouts are written from the ELF specification (System V gABI, include/uapi/linux/elf.h), not
 * from the reader under test.
 */

export const ET_CORE = 4;
export const PT_LOAD = 1;
export const PT_NOTE = 4;
export const PN_XNUM = 0xffff;
export const NT_PRSTATUS = 1;

export const EM = {
  i386: 3,
  ppc64: 21,
  s390: 22,
  arm: 40,
  x86_64: 62,
  aarch64: 183,
  riscv: 243,
} as const;

/** A note to write: name without NUL (the builder adds it, unless `rawName` is given). */
export interface NoteSpec {
  name: string;
  type: number;
  desc: Uint8Array;
  /** Exact name bytes, to test names without a trailing NUL. */
  rawName?: Uint8Array;
}

export interface NoteSegmentSpec {
  notes: NoteSpec[];
  /** Note padding and PT_NOTE p_align: 4 (what the kernel writes) or 8. */
  align?: 4 | 8;
  /** Write an all-zero note header after the notes (the kernel's terminator). */
  terminator?: boolean;
  /** Bytes appended after the notes inside the segment (garbage after a terminator, etc.). */
  trailing?: Uint8Array;
  /** Override p_filesz (to claim more or fewer bytes than written). */
  filesz?: number;
}

export interface LoadSpec {
  paddr: bigint;
  /** Default 0 (no virtual address, like QEMU without paging). */
  vaddr?: bigint;
  /** The stored bytes (p_filesz = data.length). */
  data: Uint8Array;
  /** Default data.length; larger for a filtered tail. */
  memsz?: number;
  /** Override p_offset (e.g. to point two segments at the same bytes, or past the end). */
  offset?: number;
  flags?: number;
}

/** Either a NOTE or a LOAD in program-header order; or a raw header for odd types. */
export type SegmentSpec =
  | ({ kind: 'note' } & NoteSegmentSpec)
  | ({ kind: 'load' } & LoadSpec)
  | {
      kind: 'raw';
      type: number;
      offset?: number;
      vaddr?: bigint;
      paddr?: bigint;
      filesz?: number;
      memsz?: number;
    };

export interface ElfCoreSpec {
  class: 32 | 64;
  littleEndian: boolean;
  machine: number;
  type?: number;
  /** e_flags; bit 0 is makedumpfile's "incomplete". */
  flags?: number;
  segments: SegmentSpec[];
  /** Write e_phnum = PN_XNUM and the count in section header 0 even if it fits. Automatic at ≥ 0xffff. */
  extendedNumbering?: boolean;
  /** Override e_phentsize. */
  phentsize?: number;
  /** Cut the file to this many bytes. */
  truncateAt?: number;
  /** Alignment of the data area after headers and notes (like /proc/vmcore's page rounding). */
  dataAlign?: number;
}

export interface BuiltElf {
  bytes: Uint8Array;
  phoff: number;
  shoff: number;
  /** File offset of each segment's data, in segment order (undefined for raw segments). */
  segmentOffsets: (number | undefined)[];
  /** For each note segment (in segment order among notes), the file offset of each note header. */
  noteOffsets: number[][];
}

/** A little growable byte buffer with endian-aware writers. */
export class ByteWriter {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  length = 0;

  constructor(readonly littleEndian: boolean) {}

  private ensure(n: number): void {
    if (n <= this.buf.length) return;
    let size = this.buf.length;
    while (size < n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  /** Make sure the buffer covers [0, n) (zero-filled). */
  reserve(n: number): void {
    this.ensure(n);
    if (n > this.length) this.length = n;
  }
  u8(off: number, v: number): void {
    this.reserve(off + 1);
    this.view.setUint8(off, v);
  }
  u16(off: number, v: number): void {
    this.reserve(off + 2);
    this.view.setUint16(off, v, this.littleEndian);
  }
  u32(off: number, v: number): void {
    this.reserve(off + 4);
    this.view.setUint32(off, v >>> 0, this.littleEndian);
  }
  u64(off: number, v: bigint | number): void {
    this.reserve(off + 8);
    this.view.setBigUint64(off, BigInt.asUintN(64, BigInt(v)), this.littleEndian);
  }
  word(off: number, v: bigint | number, size: 4 | 8): void {
    if (size === 8) this.u64(off, v);
    else this.u32(off, Number(BigInt.asUintN(32, BigInt(v))));
  }
  bytes(off: number, b: Uint8Array): void {
    this.reserve(off + b.length);
    this.buf.set(b, off);
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

/**
 * Encode notes the way the gABI says: Nhdr {namesz, descsz, type}, the name (with its NUL), padded
 * so that the descriptor starts `align`-aligned, the descriptor, padded to `align`. Offsets are
 * relative to the segment start, which the builder places `align`-aligned in the file.
 */
export function encodeNotes(
  seg: NoteSegmentSpec,
  littleEndian: boolean,
): { bytes: Uint8Array; offsets: number[] } {
  const align = seg.align ?? 4;
  const w = new ByteWriter(littleEndian);
  const offsets: number[] = [];
  let off = 0;
  for (const n of seg.notes) {
    const name = n.rawName ?? new TextEncoder().encode(n.name + '\0');
    offsets.push(off);
    w.u32(off, name.length);
    w.u32(off + 4, n.desc.length);
    w.u32(off + 8, n.type);
    w.bytes(off + 12, name);
    const descStart = alignUp(off + 12 + name.length, align);
    w.reserve(descStart);
    w.bytes(descStart, n.desc);
    off = alignUp(descStart + n.desc.length, align);
    w.reserve(off);
  }
  if (seg.terminator) {
    w.reserve(off + 12);
    off += 12;
  }
  if (seg.trailing) w.bytes(off, seg.trailing);
  return { bytes: w.result(), offsets };
}

/** Build an ELF core file. */
export function buildElfCore(spec: ElfCoreSpec): BuiltElf {
  const is64 = spec.class === 64;
  const le = spec.littleEndian;
  const ehsize = is64 ? 64 : 52;
  const phentsize = spec.phentsize ?? (is64 ? 56 : 32);
  const shentsize = is64 ? 64 : 40;
  const phnum = spec.segments.length;
  const xnum = spec.extendedNumbering === true || phnum >= PN_XNUM;
  const w = new ByteWriter(le);

  // ELF header.
  w.bytes(0, new Uint8Array([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, le ? 1 : 2, 1, 0]));
  w.u16(16, spec.type ?? ET_CORE);
  w.u16(18, spec.machine);
  w.u32(20, 1); // e_version
  const phoff = ehsize;
  const shoff = xnum ? alignUp(phoff + phnum * phentsize, 8) : 0;
  if (is64) {
    w.u64(32, phoff);
    w.u64(40, shoff);
    w.u32(48, spec.flags ?? 0);
    w.u16(52, ehsize);
    w.u16(54, phentsize);
    w.u16(56, xnum ? PN_XNUM : phnum);
    w.u16(58, xnum ? shentsize : 0);
    w.u16(60, xnum ? 1 : 0);
  } else {
    w.u32(28, phoff);
    w.u32(32, shoff);
    w.u32(36, spec.flags ?? 0);
    w.u16(40, ehsize);
    w.u16(42, phentsize);
    w.u16(44, xnum ? PN_XNUM : phnum);
    w.u16(46, xnum ? shentsize : 0);
    w.u16(48, xnum ? 1 : 0);
  }
  let cursor = phoff + phnum * phentsize;
  if (xnum) {
    // Section header 0: all zero except sh_info (the program header count).
    w.reserve(shoff + shentsize);
    w.u32(shoff + (is64 ? 44 : 28), phnum);
    cursor = shoff + shentsize;
  }

  // Note data first (like /proc/vmcore), then load data.
  const segmentOffsets: (number | undefined)[] = [];
  const noteOffsets: number[][] = [];
  const noteBytes = new Map<number, Uint8Array>();
  spec.segments.forEach((s, i) => {
    if (s.kind !== 'note') return;
    const enc = encodeNotes(s, le);
    cursor = alignUp(cursor, 8);
    segmentOffsets[i] = cursor;
    noteOffsets.push(enc.offsets.map((o) => o + cursor));
    noteBytes.set(i, enc.bytes);
    w.bytes(cursor, enc.bytes);
    cursor += enc.bytes.length;
  });
  cursor = alignUp(cursor, spec.dataAlign ?? 16);
  spec.segments.forEach((s, i) => {
    if (s.kind !== 'load') return;
    if (s.offset !== undefined) {
      segmentOffsets[i] = s.offset;
      return;
    }
    segmentOffsets[i] = cursor;
    w.bytes(cursor, s.data);
    cursor = alignUp(cursor + s.data.length, 8);
  });
  w.reserve(cursor);

  // Program headers.
  const allOnes = is64 ? (1n << 64n) - 1n : (1n << 32n) - 1n;
  spec.segments.forEach((s, i) => {
    const o = phoff + i * phentsize;
    let h: {
      type: number;
      flags: number;
      offset: number;
      vaddr: bigint;
      paddr: bigint;
      filesz: number;
      memsz: number;
      align: number;
    };
    if (s.kind === 'note') {
      const size = s.filesz ?? noteBytes.get(i)!.length;
      h = {
        type: PT_NOTE,
        flags: 0,
        offset: segmentOffsets[i]!,
        vaddr: 0n,
        paddr: 0n,
        filesz: size,
        memsz: size,
        align: s.align ?? 4,
      };
    } else if (s.kind === 'load') {
      h = {
        type: PT_LOAD,
        flags: s.flags ?? 7,
        offset: segmentOffsets[i]!,
        vaddr: (s.vaddr ?? 0n) & allOnes,
        paddr: s.paddr & allOnes,
        filesz: s.data.length,
        memsz: s.memsz ?? s.data.length,
        align: 0,
      };
    } else {
      h = {
        type: s.type,
        flags: 0,
        offset: s.offset ?? 0,
        vaddr: (s.vaddr ?? 0n) & allOnes,
        paddr: (s.paddr ?? 0n) & allOnes,
        filesz: s.filesz ?? 0,
        memsz: s.memsz ?? 0,
        align: 0,
      };
    }
    if (is64) {
      w.u32(o, h.type);
      w.u32(o + 4, h.flags);
      w.u64(o + 8, h.offset);
      w.u64(o + 16, h.vaddr);
      w.u64(o + 24, h.paddr);
      w.u64(o + 32, h.filesz);
      w.u64(o + 40, h.memsz);
      w.u64(o + 48, h.align);
    } else {
      w.u32(o, h.type);
      w.u32(o + 4, h.offset);
      w.u32(o + 8, Number(h.vaddr));
      w.u32(o + 12, Number(h.paddr));
      w.u32(o + 16, h.filesz);
      w.u32(o + 20, h.memsz);
      w.u32(o + 24, h.flags);
      w.u32(o + 28, h.align);
    }
  });

  let bytes = w.result();
  if (spec.truncateAt !== undefined) bytes = bytes.slice(0, spec.truncateAt);
  return { bytes, phoff, shoff, segmentOffsets, noteOffsets };
}

/** `n` bytes of a recognisable pattern seeded by `seed` (never all zero). */
export function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** A VMCOREINFO note from `KEY=VALUE` lines. */
export function vmcoreinfoNote(lines: Record<string, string | number>): NoteSpec {
  const text = Object.entries(lines)
    .map(([k, v]) => `${k}=${v}\n`)
    .join('');
  return { name: 'VMCOREINFO', type: 0, desc: new TextEncoder().encode(text) };
}
