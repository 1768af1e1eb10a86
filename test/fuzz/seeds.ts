/**
 * What the fuzzer starts from: the headers and note areas of every real dump in the corpus, whatever
 * its format, and synthetic cores from test/support/elfBuilder.ts (also wrapped in a flattened
 * stream).
 *
 * Real dumps are captured format-generically: the first 64 KiB plus every byte range the format
 * reader touches while opening the dump and reading a little memory (a RecordingSource around the
 * real file). So when a new reader lands (kdump-compressed, flattened), its header, sub-header,
 * bitmaps, page descriptors and notes become fuzz seeds without changes here.
 *
 * To add seeds for a format: push a function onto SYNTHETIC_SEEDS returning FuzzSeed[].
 */
import { openDumpSource } from '../../src/dump/open';
import { FileSource } from '../../src/dump/source';
import { corpus } from '../support/corpus';
import {
  ByteWriter,
  buildElfCore,
  EM,
  type NoteSpec,
  NT_PRSTATUS,
  pattern,
  vmcoreinfoNote,
} from '../support/elfBuilder';
import { buildKdump, type KdumpOptions, type PageSpec, patternPage } from '../support/kdumpBuilder';
import { wrapFlattened } from './flattenedWrap';
import { type Chunk, RecordingSource, SparseImage } from './image';
import { Rng } from './prng';

export interface FuzzSeed {
  /** `real:<corpus name>` or `synthetic:<what>`. */
  name: string;
  image: SparseImage;
}

/** Container kind from the first bytes (the fuzzer's own view, not src/dump/open.ts's). */
export function formatOf(image: SparseImage): string {
  const head = image.read(0, 16);
  const ascii = Buffer.from(head).toString('latin1');
  if (head[0] === 0x7f && ascii.startsWith('\x7fELF')) return 'elf';
  if (ascii.startsWith('KDUMP   ')) return 'kdump';
  if (ascii.startsWith('DISKDUMP')) return 'diskdump';
  if (ascii.startsWith('makedumpfile')) return 'flattened';
  return 'unknown';
}

const HEAD_BYTES = 64 * 1024;
/** Keep at most this much of what a reader touched (bitmaps of big dumps can be large). */
const MAX_SEED_BYTES = 8 * 1024 * 1024;

/** Seeds from every real dump of the corpus (empty when the corpus is absent). */
export async function realSeeds(): Promise<FuzzSeed[]> {
  const out: FuzzSeed[] = [];
  for (const d of corpus()) {
    let file: FileSource;
    try {
      file = await FileSource.open(d.path);
    } catch {
      continue; // not decompressed: the corpus tests report that
    }
    const rec = new RecordingSource(file);
    try {
      const dump = await openDumpSource(rec);
      try {
        for (const r of dump.memory.ranges().slice(0, 4)) await dump.memory.read(r.start, 64);
      } finally {
        await dump.close();
      }
    } catch {
      // A format not implemented yet: the first bytes and whatever was read are still a seed.
    }
    const reopened = await FileSource.open(d.path);
    try {
      const chunks: Chunk[] = [{ offset: 0, bytes: await reopened.read(0, HEAD_BYTES) }];
      let kept = chunks[0]!.bytes.length;
      for (const t of rec.touched) {
        if (kept + t.length > MAX_SEED_BYTES) break;
        chunks.push({ offset: t.offset, bytes: await reopened.read(t.offset, t.length) });
        kept += t.length;
      }
      out.push({ name: `real:${d.name}`, image: new SparseImage(reopened.size, chunks) });
    } finally {
      await reopened.close();
    }
  }
  return out;
}

function prstatus(
  size: number,
  pidOffset: number,
  le: boolean,
  pid: number,
  words: [number, bigint, 4 | 8][],
) {
  const w = new ByteWriter(le);
  w.reserve(size);
  w.u32(pidOffset, pid);
  for (const [off, v, s] of words) w.word(off, v, s);
  return { name: 'CORE', type: NT_PRSTATUS, desc: w.result() } as NoteSpec;
}

const INFO = vmcoreinfoNote({
  OSRELEASE: '6.1.0-fuzz',
  PAGESIZE: 4096,
  'SYMBOL(swapper_pg_dir)': 'ffffffff82a0a000',
  'NUMBER(phys_base)': '0',
  CRASHTIME: 1700000000,
});

/** Small ELF cores covering every layout the builder knows. */
export function syntheticElfSeeds(): FuzzSeed[] {
  const ram = pattern(0x3000, 99);
  const seeds: FuzzSeed[] = [];
  const variants: {
    label: string;
    cls: 32 | 64;
    le: boolean;
    machine: number;
    xnum?: boolean;
    align?: 4 | 8;
  }[] = [
    { label: 'elf64-x86_64', cls: 64, le: true, machine: EM.x86_64 },
    { label: 'elf32-i386', cls: 32, le: true, machine: EM.i386 },
    { label: 'elf64-s390x-be', cls: 64, le: false, machine: EM.s390 },
    { label: 'elf64-ppc64-be-xnum', cls: 64, le: false, machine: EM.ppc64, xnum: true },
    { label: 'elf32-arm-be', cls: 32, le: false, machine: EM.arm },
    { label: 'elf64-aarch64-align8', cls: 64, le: true, machine: EM.aarch64, align: 8 },
    { label: 'elf32-x86_64-xnum', cls: 32, le: true, machine: EM.x86_64, xnum: true },
  ];
  for (const v of variants) {
    const word = v.machine === EM.i386 || v.machine === EM.arm ? 4 : 8;
    const size = {
      [EM.x86_64]: 336,
      [EM.i386]: 144,
      [EM.s390]: 336,
      [EM.ppc64]: 504,
      [EM.arm]: 148,
      [EM.aarch64]: 392,
    }[v.machine]!;
    const pidOffset = word === 8 ? 32 : 24;
    const reg = word === 8 ? 112 : 72;
    const note = (pid: number) =>
      prstatus(size, pidOffset, v.le, pid, [
        [reg, 0xffff_ffff_8100_0000n + BigInt(pid), word],
        [reg + word, 0xffff_c900_0001_0000n, word],
      ]);
    const elf = buildElfCore({
      class: v.cls,
      littleEndian: v.le,
      machine: v.machine,
      extendedNumbering: v.xnum,
      segments: [
        { kind: 'note', notes: [note(1), note(0)], align: v.align, terminator: true },
        { kind: 'note', notes: [INFO], align: v.align },
        {
          kind: 'load',
          paddr: 0x100_0000n,
          vaddr: 0xffff_ffff_8100_0000n,
          data: ram.subarray(0, 0x1000),
          memsz: 0x2000,
        },
        { kind: 'load', paddr: 0x100_0000n, vaddr: 0xffff_8880_0100_0000n, data: ram },
        { kind: 'load', paddr: 0x800_0000n, data: ram.subarray(0, 0x800), memsz: 0x10000 },
      ],
    });
    seeds.push({ name: `synthetic:${v.label}`, image: SparseImage.of(elf.bytes) });
  }
  return seeds;
}

/** The synthetic ELF cores again, as flattened streams (read in place by src/dump/flattened.ts). */
export function syntheticFlattenedSeeds(): FuzzSeed[] {
  const rng = new Rng(0xf1a7);
  return syntheticElfSeeds()
    .slice(0, 3)
    .map((s) => ({
      name: s.name.replace('synthetic:', 'synthetic:flattened-'),
      image: SparseImage.of(wrapFlattened(s.image.flat(), rng)),
    }));
}

/**
 * Small makedumpfile-compressed files (test/support/kdumpBuilder.ts): each page compression, the
 * shared zero page, excluded and lost pages, 32-bit layouts, big endian, legacy DISKDUMP.
 */
export function syntheticKdumpSeeds(): FuzzSeed[] {
  const info = 'OSRELEASE=6.1.0-fuzz\nPAGESIZE=4096\nCRASHTIME=1700000000\n';
  const pages = (compression: 'zlib' | 'lzo' | 'snappy' | 'zstd' | 'none') =>
    new Map<number, PageSpec>([
      [1, { kind: 'data', bytes: patternPage(1), compression }],
      [2, { kind: 'zero' }],
      [3, { kind: 'excluded' }],
      [5, { kind: 'data', bytes: patternPage(5), compression: 'none' }],
      [6, { kind: 'lost' }],
      [40, { kind: 'data', bytes: patternPage(40), compression }],
    ]);
  const variants: [string, KdumpOptions][] = [
    [
      'kdump-zlib',
      {
        maxMapnr: 64,
        pages: pages('zlib'),
        vmcoreinfo: info,
        cpus: [{ pid: 1, registers: { rip: 0xffff_ffff_8100_0000n } }],
      },
    ],
    ['kdump-lzo', { maxMapnr: 64, pages: pages('lzo'), vmcoreinfo: info }],
    ['kdump-snappy', { maxMapnr: 64, pages: pages('snappy'), vmcoreinfo: info }],
    ['kdump-zstd-incomplete', { maxMapnr: 64, pages: pages('zstd'), vmcoreinfo: info, incomplete: true }],
    ['kdump-32-packed', { maxMapnr: 64, pages: pages('zlib'), layout: '32-packed', vmcoreinfo: info }],
    ['kdump-32-padded-be', { maxMapnr: 64, pages: pages('none'), layout: '32-padded', littleEndian: false }],
    [
      'kdump-ppc64-be',
      { maxMapnr: 64, pages: pages('zlib'), machine: 'ppc64', littleEndian: false, vmcoreinfo: info },
    ],
    [
      'diskdump',
      { maxMapnr: 64, pages: pages('none'), signature: 'DISKDUMP', version: 1, singleBitmap: true },
    ],
  ];
  return variants.map(([label, o]) => ({
    name: `synthetic:${label}`,
    image: SparseImage.of(buildKdump(o).bytes),
  }));
}

/** Synthetic seed sources; other formats' builders add theirs here. */
export const SYNTHETIC_SEEDS: (() => FuzzSeed[])[] = [
  syntheticElfSeeds,
  syntheticFlattenedSeeds,
  syntheticKdumpSeeds,
];

export async function allSeeds(): Promise<FuzzSeed[]> {
  return [...SYNTHETIC_SEEDS.flatMap((f) => f()), ...(await realSeeds())];
}
