import { basename } from 'node:path';
import { archByElfMachine } from '../arch';
import { ByteView } from '../util/bytes';
import { corrupt, DumpError } from './errors';
import { interpretNotes } from './noteContents';
import { type Note, parseNotes } from './notes';
import { buildDisjointIndex, findPiece, GapList, type PhysicalPiece, rangesOf } from './physicalIndex';
import { type ByteSource, readExact } from './source';
import type { Dump, DumpProblem, PhysicalMemory, PhysicalRange, ReadResult, VirtualSegment } from './types';

export const PT_LOAD = 1;
export const PT_NOTE = 4;
const ET_CORE = 4;
const PN_XNUM = 0xffff;
/** Bounds on header-driven allocations: more than this is not a dump we can trust. */
const MAX_PROGRAM_HEADERS = 1_000_000;
const MAX_NOTE_BYTES = 64 * 1024 * 1024;
/** More notes than 8192 CPUs × 16 notes each is not a kernel's note area. */
const MAX_NOTES = 131072;

export interface ElfProgramHeader {
  type: number;
  flags: number;
  offset: number;
  vaddr: bigint;
  paddr: bigint;
  filesz: number;
  memsz: number;
  align: number;
}

export interface ElfHeader {
  is64: boolean;
  littleEndian: boolean;
  type: number;
  machine: number;
  flags: number;
  phoff: number;
  phentsize: number;
  phnum: number;
  /** True when e_phnum was PN_XNUM and the count came from section header 0. */
  extendedNumbering: boolean;
}

export function isElf(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46;
}

export async function readElfHeader(source: ByteSource): Promise<ElfHeader> {
  const ident = await readExact(source, 0, 16, 'ELF identification');
  if (!isElf(ident)) throw new DumpError('not-a-dump', `${source.name} is not an ELF file`);
  const cls = ident[4];
  const data = ident[5];
  if (cls !== 1 && cls !== 2)
    throw corrupt(`${source.name}: ELF class byte is ${cls}, expected 1 (ELF32) or 2 (ELF64)`, 4);
  if (data !== 1 && data !== 2)
    throw corrupt(`${source.name}: ELF data byte is ${data}, expected 1 (LE) or 2 (BE)`, 5);
  const is64 = cls === 2;
  const le = data === 1;
  const ehsize = is64 ? 64 : 52;
  const v = new ByteView(await readExact(source, 0, ehsize, 'ELF header'), le);
  const header: ElfHeader = {
    is64,
    littleEndian: le,
    type: v.u16(16),
    machine: v.u16(18),
    flags: v.u32(is64 ? 48 : 36),
    phoff: is64 ? v.safeU64(32) : v.u32(28),
    phentsize: v.u16(is64 ? 54 : 42),
    phnum: v.u16(is64 ? 56 : 44),
    extendedNumbering: false,
  };
  if (header.phnum === PN_XNUM) {
    // The real count lives in sh_info of section header 0.
    const shoff = is64 ? v.safeU64(40) : v.u32(32);
    if (shoff === 0)
      throw corrupt(
        `${source.name}: e_phnum is PN_XNUM (0xffff) but there is no section header 0 to hold the real count (e_shoff is 0)`,
        is64 ? 40 : 32,
      );
    if (!Number.isSafeInteger(shoff) || shoff >= source.size)
      throw new DumpError(
        'truncated',
        `${source.name}: e_phnum is PN_XNUM (0xffff) and the real count is in section header 0, but e_shoff (${shoff}) is beyond the end of the file (${source.size} bytes)`,
        is64 ? 40 : 32,
      );
    const sh = new ByteView(
      await readExact(source, shoff, is64 ? 64 : 40, 'section header 0 (e_phnum overflow)'),
      le,
    );
    header.phnum = sh.u32(is64 ? 44 : 28);
    header.extendedNumbering = true;
  }
  return header;
}

export async function readProgramHeaders(source: ByteSource, h: ElfHeader): Promise<ElfProgramHeader[]> {
  const entSize = h.is64 ? 56 : 32;
  if (h.phnum === 0) throw corrupt(`${source.name}: the ELF core has no program headers`);
  // Exactly the struct size, as libelf requires: a larger entry size would multiply the bytes read.
  if (h.phentsize !== entSize)
    throw corrupt(`${source.name}: e_phentsize is ${h.phentsize}, expected ${entSize}`, h.is64 ? 54 : 42);
  if (h.phnum > MAX_PROGRAM_HEADERS) {
    throw new DumpError(
      'unsupported',
      `${source.name}: ${h.phnum} program headers is more than this reader accepts (${MAX_PROGRAM_HEADERS})`,
    );
  }
  const total = h.phnum * h.phentsize;
  if (!Number.isFinite(h.phoff) || h.phoff + total > source.size) {
    throw new DumpError(
      'truncated',
      `${source.name}: ${h.phnum} program headers at offset ${h.phoff} need ${total} bytes, but the file is ${source.size} bytes`,
      h.phoff,
    );
  }
  const v = new ByteView(await readExact(source, h.phoff, total, 'program headers'), h.littleEndian);
  const out: ElfProgramHeader[] = [];
  for (let i = 0; i < h.phnum; i++) {
    const o = i * h.phentsize;
    out.push(
      h.is64
        ? {
            type: v.u32(o),
            flags: v.u32(o + 4),
            offset: v.safeU64(o + 8),
            vaddr: v.u64(o + 16),
            paddr: v.u64(o + 24),
            filesz: v.safeU64(o + 32),
            memsz: v.safeU64(o + 40),
            align: v.safeU64(o + 48),
          }
        : {
            type: v.u32(o),
            offset: v.u32(o + 4),
            vaddr: BigInt(v.u32(o + 8)),
            paddr: BigInt(v.u32(o + 12)),
            filesz: v.u32(o + 16),
            memsz: v.u32(o + 20),
            flags: v.u32(o + 24),
            align: v.u32(o + 28),
          },
    );
  }
  return out;
}

class ElfPhysicalMemory implements PhysicalMemory {
  constructor(
    private readonly source: ByteSource,
    private readonly index: PhysicalPiece[],
    readonly pageSize: number,
  ) {}

  private rangesCache: PhysicalRange[] | undefined;
  ranges(): readonly PhysicalRange[] {
    this.rangesCache ??= rangesOf(this.index);
    return this.rangesCache;
  }

  async read(paddr: bigint, length: number): Promise<ReadResult> {
    const bytes = new Uint8Array(length);
    const gaps = new GapList();
    let done = 0;
    let i = findPiece(this.index, paddr);
    while (done < length) {
      const cur = paddr + BigInt(done);
      while (i + 1 < this.index.length && this.index[i + 1]!.start <= cur) i++;
      const piece = i >= 0 ? this.index[i] : undefined;
      if (!piece || piece.end <= cur) {
        const next = this.index[i + 1];
        const stop = next ? Number(next.start - cur) : Number.POSITIVE_INFINITY;
        const n = Math.min(length - done, stop);
        gaps.add(done, n, 'not-in-dump');
        done += n;
        continue;
      }
      const n = Math.min(length - done, Number(piece.end - cur));
      if (piece.fileOffset === undefined) {
        gaps.add(done, n, piece.reason ?? 'not-in-dump', piece.detail);
      } else {
        const fileOff = piece.fileOffset + Number(cur - piece.start);
        // A p_offset near 2^53 must not reach the source as an unsafe offset: it is past the end anyway.
        const got = fileOff < this.source.size ? await this.source.read(fileOff, n) : new Uint8Array(0);
        bytes.set(got, done);
        if (got.length < n)
          gaps.add(done + got.length, n - got.length, 'truncated', 'the file ends before this data');
      }
      done += n;
    }
    return gaps.result(bytes);
  }
}

export async function openElfDump(
  source: ByteSource,
  container: 'plain' | 'flattened' = 'plain',
): Promise<Dump> {
  const h = await readElfHeader(source);
  if (h.type !== ET_CORE) {
    throw new DumpError(
      'not-a-dump',
      `${source.name} is an ELF file of type ${h.type}, not a core dump (ET_CORE): if it is a vmlinux, give it as the symbol file, not as the dump`,
    );
  }
  const arch = archByElfMachine(h.machine);
  if (!arch)
    throw new DumpError(
      'unsupported',
      `${source.name}: ELF machine ${h.machine} is not an architecture this reader knows`,
    );
  const phdrs = await readProgramHeaders(source, h);
  const problems: DumpProblem[] = [];

  const notes: Note[] = [];
  let noteBytes = 0;
  for (const ph of phdrs) {
    if (ph.type !== PT_NOTE || ph.filesz === 0) continue;
    if (
      !Number.isFinite(ph.offset) ||
      !Number.isFinite(ph.filesz) ||
      ph.filesz > MAX_NOTE_BYTES - noteBytes
    ) {
      problems.push({
        kind: 'notes',
        message: `a PT_NOTE segment claims ${ph.filesz} bytes at offset ${ph.offset}; ignored as implausible`,
      });
      continue;
    }
    if (source.storedBytes !== undefined && ph.filesz > source.storedBytes) {
      problems.push({
        kind: 'notes',
        message: `a PT_NOTE segment claims ${ph.filesz} bytes at offset ${ph.offset}, more than the ${source.storedBytes} bytes the flattened stream holds; ignored`,
      });
      continue;
    }
    noteBytes += ph.filesz;
    const bytes = await source.read(ph.offset, ph.filesz);
    if (bytes.length < ph.filesz) {
      problems.push({
        kind: 'truncated',
        message: `the PT_NOTE segment at offset ${ph.offset} needs ${ph.filesz} bytes but the file ends after ${bytes.length}: CPU registers or VMCOREINFO may be missing`,
      });
    }
    const parsed = parseNotes(
      bytes,
      h.littleEndian,
      ph.offset,
      ph.align === 8 ? 8 : 4,
      MAX_NOTES - notes.length,
    );
    // Not notes.push(...parsed.notes): spreading a huge array overflows the stack.
    for (const note of parsed.notes) notes.push(note);
    if (parsed.error) problems.push({ kind: 'notes', message: parsed.error });
  }
  const contents = interpretNotes(notes, arch, h.littleEndian);
  problems.push(...contents.problems);
  const pageSize = contents.vmcoreinfo?.pageSize ?? 4096;

  const pieces: PhysicalPiece[] = [];
  const virtualSegments: VirtualSegment[] = [];
  const allOnes = h.is64 ? 0xffff_ffff_ffff_ffffn : 0xffff_ffffn;
  let truncatedBytes = 0;
  let excludedBytes = 0;
  for (const ph of phdrs) {
    if (ph.type !== PT_LOAD) continue;
    if (!Number.isFinite(ph.offset) || !Number.isFinite(ph.filesz) || !Number.isFinite(ph.memsz)) {
      problems.push({
        kind: 'corrupt',
        message: `a PT_LOAD at physical 0x${ph.paddr.toString(16)} has an impossible size or offset; ignored`,
      });
      continue;
    }
    if (ph.paddr === allOnes) continue; // no physical address (kcore vmalloc/module segments)
    const filesz = Math.min(ph.filesz, ph.memsz);
    const start = ph.paddr;
    if (filesz > 0) {
      pieces.push({ start, end: start + BigInt(filesz), fileOffset: ph.offset });
      truncatedBytes += Math.max(0, Math.min(filesz, ph.offset + filesz - source.size));
    }
    if (ph.memsz > filesz) {
      pieces.push({
        start: start + BigInt(filesz),
        end: start + BigInt(ph.memsz),
        reason: 'excluded',
        detail: 'not stored in the file (PT_LOAD p_filesz < p_memsz: filtered out by the dump producer)',
      });
      excludedBytes += ph.memsz - filesz;
    }
    if (ph.vaddr !== 0n && ph.vaddr !== allOnes && ph.vaddr !== ph.paddr && ph.memsz > 0) {
      virtualSegments.push({ vaddr: ph.vaddr, paddr: ph.paddr, size: BigInt(ph.memsz) });
    }
  }
  if (truncatedBytes > 0) {
    problems.push({
      kind: 'truncated',
      message: `the file is cut short: ${formatBytes(truncatedBytes)} of memory the program headers describe lie beyond its end (${source.size} bytes); those reads report "truncated"`,
    });
  }
  if ((h.flags & 1) !== 0) {
    problems.push({
      kind: 'incomplete',
      message:
        'makedumpfile marked this ELF dump incomplete (e_flags bit 0): it ran out of space while writing',
    });
  }
  if (/incomplete/i.test(basename(source.name))) {
    problems.push({
      kind: 'incomplete',
      message:
        'the file name says the copy never finished (kdump names a dump vmcore-incomplete until it is complete)',
    });
  }
  if (excludedBytes > 0) {
    problems.push({
      kind: 'excluded-pages',
      message: `${formatBytes(excludedBytes)} of memory were filtered out when the dump was written (p_filesz < p_memsz); reads there report "excluded"`,
    });
  }

  return {
    path: source.name,
    format: 'elf',
    container,
    compression: ['none'],
    details: {
      elfClass: h.is64 ? 'ELF64' : 'ELF32',
      endianness: h.littleEndian ? 'little' : 'big',
      programHeaders: phdrs.length,
      extendedNumbering: h.extendedNumbering,
      loadSegments: phdrs.filter((p) => p.type === PT_LOAD).length,
    },
    arch,
    littleEndian: h.littleEndian,
    notes,
    vmcoreinfo: contents.vmcoreinfo,
    prstatus: contents.prstatus,
    qemuCpuStates: contents.qemuCpuStates,
    memory: new ElfPhysicalMemory(source, buildDisjointIndex(pieces), pageSize),
    virtualSegments,
    problems,
    source,
    close: () => source.close(),
  };
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 * 1024) return `${(n / (1024 * 1024 * 1024)).toFixed(1)} GiB`;
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}
