/**
 * Mutations of fuzz images: absurd values in the header fields that size and count things (found by
 * per-format field locators written here from the format descriptions, independently of src/),
 * bit flips and random bytes where the readers look, truncation at every interesting offset, copies
 * of one header over another, and absurd file sizes.
 *
 * To teach the fuzzer a new format's fields, add a locator to FIELD_LOCATORS. Formats without one
 * get every aligned word of their first 8 KiB treated as a field.
 */
import type { SparseImage } from './image';
import type { Rng } from './prng';
import { formatOf } from './seeds';

export interface Field {
  name: string;
  offset: number;
  size: 1 | 2 | 4 | 8;
  littleEndian: boolean;
}

export interface Mutation {
  /** What was done, for the failure report. */
  what: string;
  apply(image: SparseImage): void;
}

function readUint(image: SparseImage, f: Field): bigint {
  const b = image.read(f.offset, f.size);
  if (b.length < f.size) return 0n;
  let v = 0n;
  for (let i = 0; i < f.size; i++) {
    const byte = BigInt(b[f.littleEndian ? f.size - 1 - i : i]!);
    v = (v << 8n) | byte;
  }
  return v;
}

function writeUint(image: SparseImage, f: Field, value: bigint): void {
  const b = new Uint8Array(f.size);
  let v = BigInt.asUintN(f.size * 8, value);
  for (let i = 0; i < f.size; i++) {
    b[f.littleEndian ? i : f.size - 1 - i] = Number(v & 0xffn);
    v >>= 8n;
  }
  image.write(f.offset, b);
}

// ---- Field locators ------------------------------------------------------------------------

const MAX_LOCATED = 256;

/** ELF: header fields, every program header's fields, every note header, section header 0. */
function elfFields(image: SparseImage): Field[] {
  const id = image.read(0, 64);
  if (id.length < 52) return [];
  const is64 = id[4] === 2;
  const le = id[5] !== 2;
  const f = (name: string, offset: number, size: 1 | 2 | 4 | 8): Field => ({
    name,
    offset,
    size,
    littleEndian: le,
  });
  const out: Field[] = [f('EI_CLASS', 4, 1), f('EI_DATA', 5, 1), f('e_type', 16, 2), f('e_machine', 18, 2)];
  const word = is64 ? 8 : 4;
  const phoffF = f('e_phoff', is64 ? 32 : 28, word);
  const shoffF = f('e_shoff', is64 ? 40 : 32, word);
  const phentF = f('e_phentsize', is64 ? 54 : 42, 2);
  const phnumF = f('e_phnum', is64 ? 56 : 44, 2);
  out.push(phoffF, shoffF, f('e_flags', is64 ? 48 : 36, 4), phentF, phnumF);
  const phoff = Number(readUint(image, phoffF));
  const shoff = Number(readUint(image, shoffF));
  const phent = Number(readUint(image, phentF)) || (is64 ? 56 : 32);
  let phnum = Number(readUint(image, phnumF));
  if (phnum === 0xffff && shoff > 0 && shoff < image.size) {
    const info = f('sh_info', shoff + (is64 ? 44 : 28), 4);
    out.push(info);
    phnum = Number(readUint(image, info));
  }
  const notes: { offset: number; size: number; align: number }[] = [];
  for (let i = 0; i < Math.min(phnum, MAX_LOCATED); i++) {
    const o = phoff + i * phent;
    if (!image.covers(o, is64 ? 56 : 32)) break;
    const names = is64
      ? ([
          ['p_type', 0, 4],
          ['p_offset', 8, 8],
          ['p_vaddr', 16, 8],
          ['p_paddr', 24, 8],
          ['p_filesz', 32, 8],
          ['p_memsz', 40, 8],
          ['p_align', 48, 8],
        ] as const)
      : ([
          ['p_type', 0, 4],
          ['p_offset', 4, 4],
          ['p_vaddr', 8, 4],
          ['p_paddr', 12, 4],
          ['p_filesz', 16, 4],
          ['p_memsz', 20, 4],
          ['p_align', 28, 4],
        ] as const);
    const fields = names.map(([n, off, size]) => f(`phdr[${i}].${n}`, o + off, size));
    out.push(...fields);
    if (readUint(image, fields[0]!) === 4n) {
      notes.push({
        offset: Number(readUint(image, fields[1]!)),
        size: Number(readUint(image, fields[4]!)),
        align: Number(readUint(image, fields[6]!)) === 8 ? 8 : 4,
      });
    }
  }
  for (const n of notes) {
    let off = n.offset;
    const end = Math.min(n.offset + n.size, image.size);
    for (let k = 0; k < MAX_LOCATED && off + 12 <= end && image.covers(off, 12); k++) {
      const namesz = f(`note@${off}.namesz`, off, 4);
      const descsz = f(`note@${off}.descsz`, off + 4, 4);
      out.push(namesz, descsz, f(`note@${off}.type`, off + 8, 4));
      const nsz = Number(readUint(image, namesz));
      const dsz = Number(readUint(image, descsz));
      if (nsz === 0) break;
      const pad = (x: number) => Math.ceil(x / n.align) * n.align;
      off = pad(pad(off + 12 + nsz) - n.offset + dsz) + n.offset;
    }
  }
  return out;
}

/** Flattened stream: header type/version and every record's {offset, size} (big-endian s64). */
function flattenedFields(image: SparseImage): Field[] {
  const be = (name: string, offset: number): Field => ({ name, offset, size: 8, littleEndian: false });
  const out: Field[] = [be('type', 16), be('version', 24)];
  let p = 4096;
  for (let i = 0; i < MAX_LOCATED && image.covers(p, 16); i++) {
    const off = be(`record[${i}].offset`, p);
    const size = be(`record[${i}].size`, p + 8);
    out.push(off, size);
    const n = readUint(image, size);
    if (n > BigInt(image.size)) break;
    p += 16 + Number(n);
  }
  return out;
}

const KDUMP_64_BIT_MACHINES = [
  'x86_64',
  'aarch64',
  'ppc64',
  'ppc64le',
  's390x',
  'riscv64',
  'loongarch64',
  'mips64',
];

/**
 * makedumpfile kdump-compressed (and DISKDUMP): the main header's sizes and counts, the sub-header's
 * offsets and sizes, the note headers and the first page descriptors (vmcore-formats.md §4.2-4.4).
 */
function kdumpFields(image: SparseImage): Field[] {
  const head = image.read(0, 512);
  if (head.length < 464) return [];
  const machine = Buffer.from(head.subarray(272, 272 + 65))
    .toString('latin1')
    .replace(/\0.*$/s, '');
  const is64 = KDUMP_64_BIT_MACHINES.includes(machine);
  const bsOff = is64 ? 428 : 416;
  const sane = (le: boolean) => {
    const v = new DataView(head.buffer, head.byteOffset).getUint32(bsOff, le);
    return v >= 1024 && v <= 1 << 20 && (v & (v - 1)) === 0;
  };
  const le = sane(true) || !sane(false);
  const f = (name: string, offset: number, size: 4 | 8): Field => ({ name, offset, size, littleEndian: le });
  const main = is64
    ? {
        version: 8,
        status: 424,
        blockSize: 428,
        subHdrSize: 432,
        bitmapBlocks: 436,
        maxMapnr: 440,
        nrCpus: 460,
      }
    : {
        version: 8,
        status: 412,
        blockSize: 416,
        subHdrSize: 420,
        bitmapBlocks: 424,
        maxMapnr: 428,
        nrCpus: 448,
      };
  const out: Field[] = Object.entries(main).map(([n, o]) => f(n, o, 4));
  const bs = Number(readUint(image, out[2]!));
  const subHdr = Number(readUint(image, out[3]!));
  const bitmapBlocks = Number(readUint(image, out[4]!));
  if (!(bs > 0) || bs > 1 << 20) return out;
  // Sub-header (64-bit layout, or the packed 32-bit one).
  const sub: [string, number, 4 | 8][] = is64
    ? [
        ['phys_base', 0, 8],
        ['dump_level', 8, 4],
        ['split', 12, 4],
        ['offset_vmcoreinfo', 32, 8],
        ['size_vmcoreinfo', 40, 8],
        ['offset_note', 48, 8],
        ['size_note', 56, 8],
        ['offset_eraseinfo', 64, 8],
        ['size_eraseinfo', 72, 8],
        ['start_pfn_64', 80, 8],
        ['end_pfn_64', 88, 8],
        ['max_mapnr_64', 96, 8],
      ]
    : [
        ['phys_base', 0, 4],
        ['dump_level', 4, 4],
        ['split', 8, 4],
        ['offset_vmcoreinfo', 20, 8],
        ['size_vmcoreinfo', 28, 4],
        ['offset_note', 32, 8],
        ['size_note', 40, 4],
        ['offset_eraseinfo', 44, 8],
        ['size_eraseinfo', 52, 4],
        ['start_pfn_64', 56, 8],
        ['end_pfn_64', 64, 8],
        ['max_mapnr_64', 72, 8],
      ];
  const subFields = sub.map(([n, o, size]) => f(`sub.${n}`, bs + o, size));
  out.push(...subFields);
  // Notes.
  const noteOff = Number(readUint(image, subFields[5]!));
  const noteSize = Number(readUint(image, subFields[6]!));
  for (
    let off = noteOff, k = 0;
    k < MAX_LOCATED && off + 12 <= noteOff + noteSize && image.covers(off, 12);
    k++
  ) {
    const namesz = f(`note@${off}.namesz`, off, 4);
    const descsz = f(`note@${off}.descsz`, off + 4, 4);
    out.push(namesz, descsz);
    const n = Number(readUint(image, namesz));
    if (n === 0) break;
    off += 12 + Math.ceil(n / 4) * 4 + Math.ceil(Number(readUint(image, descsz)) / 4) * 4;
  }
  // The first page descriptors.
  const descBase = (1 + subHdr + bitmapBlocks) * bs;
  for (let i = 0; i < 32 && image.covers(descBase + i * 24, 24); i++) {
    out.push(f(`desc[${i}].offset`, descBase + i * 24, 8), f(`desc[${i}].size`, descBase + i * 24 + 8, 4));
    out.push(f(`desc[${i}].flags`, descBase + i * 24 + 12, 4));
  }
  return out;
}

/** Any format: every aligned 4- and 8-byte word of the first 8 KiB, in both byte orders. */
function genericFields(image: SparseImage): Field[] {
  const out: Field[] = [];
  const end = Math.min(image.size, 8192);
  for (let o = 0; o + 8 <= end; o += 4) {
    if (!image.covers(o, 8)) continue;
    out.push({ name: `u32@${o}`, offset: o, size: 4, littleEndian: true });
    out.push({ name: `u32be@${o}`, offset: o, size: 4, littleEndian: false });
    if (o % 8 === 0) {
      out.push({ name: `u64@${o}`, offset: o, size: 8, littleEndian: true });
      out.push({ name: `u64be@${o}`, offset: o, size: 8, littleEndian: false });
    }
  }
  return out;
}

export const FIELD_LOCATORS: Record<string, (image: SparseImage) => Field[]> = {
  elf: elfFields,
  flattened: flattenedFields,
  kdump: kdumpFields,
  diskdump: kdumpFields,
};

export function fieldsOf(image: SparseImage): Field[] {
  const locate = FIELD_LOCATORS[formatOf(image)];
  const located = locate ? locate(image) : [];
  return located.length > 0 ? located : genericFields(image);
}

// ---- Values ----------------------------------------------------------------------------------

function interestingValues(f: Field, orig: bigint, fileSize: number, rng: Rng): bigint[] {
  const bits = BigInt(f.size * 8);
  const max = (1n << bits) - 1n;
  const s = BigInt(fileSize);
  return [
    0n,
    1n,
    2n,
    7n,
    8n,
    12n,
    0xffn,
    max,
    max - 1n,
    max >> 1n,
    (max >> 1n) + 1n,
    0xffffn,
    0xfffen,
    4096n,
    65536n,
    1n << 31n,
    1n << 32n,
    (1n << 32n) - 1n,
    (1n << 53n) - 1n,
    1n << 53n,
    1n << 63n,
    s,
    s - 1n,
    s + 1n,
    s - 16n,
    s * 2n,
    orig + 1n,
    orig - 1n,
    orig * 2n,
    orig * 4096n,
    orig ^ (1n << BigInt(rng.int(Number(bits)))),
    rng.u64(),
  ].map((v) => BigInt.asUintN(Number(bits), v));
}

// ---- Mutations -------------------------------------------------------------------------------

/** One random mutation of `image`. */
export function randomMutation(image: SparseImage, rng: Rng, fields: Field[]): Mutation {
  const roll = rng.u32() / 0x1_0000_0000;
  if (roll < 0.45 && fields.length > 0) {
    const f = rng.pick(fields);
    const orig = readUint(image, f);
    const v = rng.pick(interestingValues(f, orig, image.size, rng));
    return {
      what: `${f.name} = 0x${v.toString(16)} (was 0x${orig.toString(16)})`,
      apply: (img) => writeUint(img, f, v),
    };
  }
  const chunk = image.chunks.length > 0 ? rng.pick(image.chunks) : undefined;
  if (roll < 0.7 && chunk) {
    // Bit flips, mostly in the first 4 KiB of a stored range (where headers are).
    const n = 1 + rng.int(4);
    const flips = Array.from({ length: n }, () => {
      const span = rng.chance(0.7) ? Math.min(4096, chunk.bytes.length) : chunk.bytes.length;
      return { at: chunk.offset + rng.int(span), bit: rng.int(8) };
    });
    return {
      what: `flip ${flips.map((x) => `0x${x.at.toString(16)}:${x.bit}`).join(' ')}`,
      apply: (img) => {
        for (const x of flips) img.write(x.at, new Uint8Array([img.read(x.at, 1)[0]! ^ (1 << x.bit)]));
      },
    };
  }
  if (roll < 0.8 && chunk) {
    const len = 1 + rng.int(16);
    const at = chunk.offset + rng.int(Math.max(1, chunk.bytes.length - len));
    const bytes = Uint8Array.from({ length: len }, () => rng.int(256));
    return { what: `random ${len} bytes at 0x${at.toString(16)}`, apply: (img) => img.write(at, bytes) };
  }
  if (roll < 0.88) {
    const points = truncationPoints(image, fields);
    const at = rng.chance(0.8) && points.length > 0 ? rng.pick(points) : rng.int(image.size + 1);
    return { what: `truncate at ${at}`, apply: (img) => img.truncate(at) };
  }
  if (roll < 0.95 && chunk && fields.length > 1) {
    // Copy one field's bytes over another (e.g. a phdr offset into a size), or a run of bytes.
    const from = rng.pick(fields);
    const to = rng.pick(fields);
    const len = rng.chance(0.5) ? from.size : 1 + rng.int(64);
    return {
      what: `copy ${len} bytes from ${from.name} over ${to.name}`,
      apply: (img) => img.write(to.offset, img.read(from.offset, len)),
    };
  }
  const sizes = [image.size + 1, image.size * 2, 2 ** 40, Number.MAX_SAFE_INTEGER, image.size + 4096];
  const size = rng.pick(sizes);
  return {
    what: `file size ${size} (zeros beyond the original end)`,
    apply: (img) => {
      img.size = size;
    },
  };
}

/** Offsets worth cutting a file at: around every field, every stored range's ends, the first bytes. */
export function truncationPoints(image: SparseImage, fields: Field[]): number[] {
  const points = new Set<number>();
  for (let i = 0; i <= Math.min(image.size, 80); i++) points.add(i);
  for (const f of fields) {
    for (const d of [-1, 0, 1]) {
      points.add(f.offset + d);
      points.add(f.offset + f.size + d);
    }
  }
  for (const c of image.chunks) {
    for (const d of [-1, 0, 1]) {
      points.add(c.offset + d);
      points.add(c.offset + c.bytes.length + d);
    }
  }
  return [...points].filter((p) => p >= 0 && p < image.size).sort((a, b) => a - b);
}
