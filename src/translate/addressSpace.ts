import type { ArchInfo, KernelTranslationSetup, LinearRegion } from '../arch/types';
import { GapList } from '../dump/physicalIndex';
import type { Dump, ReadResult } from '../dump/types';
import { LruCache } from '../util/lru';
import { walkPageTable } from './pageWalk';
import type { Translation, VirtualMemory, WalkEntry } from './types';

const U64 = (1n << 64n) - 1n;
/** Largest single virtual read; bigger requests are a caller bug or hostile input. */
export const MAX_VIRTUAL_READ = 256 * 1024 * 1024;
const TABLE_CACHE_PAGES = 2048;
const TRANSLATION_CACHE_PAGES = 32768;
const SMALL_PAGE = 0x1000n;

export class TranslationError extends Error {
  override readonly name = 'TranslationError';
  constructor(
    readonly virtual: bigint,
    readonly why: string,
    readonly entries: WalkEntry[] = [],
  ) {
    super(`0x${virtual.toString(16)} is not mapped: ${why}`);
  }
}

export interface VirtualAlias {
  address: bigint;
  region: LinearRegion['name'];
}

type CachedTranslation = { physical: bigint; pageSize: number; pageStart: bigint } | { error: string };

/**
 * Kernel virtual memory of a dump: the kernel's own page tables (root found through VMCOREINFO and
 * translated with the linear kernel-image rule to avoid recursion), with the linear direct-map and
 * kernel-image rules as a fallback when a table page is missing or the arch has no walker.
 * Table pages and translations are cached with bounds.
 */
export class KernelAddressSpace implements VirtualMemory {
  readonly wordSize: 4 | 8;
  readonly littleEndian: boolean;
  private readonly tables = new LruCache<bigint, ReadResult>(TABLE_CACHE_PAGES);
  private readonly translations = new LruCache<bigint, CachedTranslation>(TRANSLATION_CACHE_PAGES);
  private readonly linear: LinearRegion[];

  private constructor(
    readonly dump: Dump,
    readonly arch: ArchInfo,
    readonly setup: KernelTranslationSetup | undefined,
    /** Why the kernel page tables cannot be used, when they cannot. */
    readonly setupProblem: string | undefined,
  ) {
    this.wordSize = arch.wordSize;
    this.littleEndian = dump.littleEndian;
    this.linear = setup ? [...setup.linear] : linearFromSegments(dump);
  }

  static async create(dump: Dump): Promise<KernelAddressSpace> {
    const translation = dump.arch.translation;
    let setup: KernelTranslationSetup | undefined;
    let problem: string | undefined;
    if (!translation) {
      problem = `kernel page-table walks are not implemented for ${dump.arch.name}; only the dump's own linear mappings are used`;
    } else {
      const result = translation.setup({
        vmcoreinfo: dump.vmcoreinfo,
        virtualSegments: dump.virtualSegments,
        pageSize: dump.memory.pageSize,
        headerPhysBase: dump.headerPhysBase,
      });
      if (typeof result === 'string') problem = result;
      else setup = result;
    }
    const space = new KernelAddressSpace(dump, dump.arch, setup, problem);
    if (setup?.directMapSearch) await space.probeDirectMap(setup.directMapSearch);
    return space;
  }

  /** Linear regions in use (kernel image, direct map), for ptov and display. */
  get regions(): readonly LinearRegion[] {
    return this.linear;
  }

  get directMapBase(): bigint | undefined {
    return this.linear.find((r) => r.name === 'direct-map')?.start;
  }

  /** Translate with every page-table entry of the walk (what `vtop` shows). */
  async vtop(vaddr: bigint): Promise<Translation> {
    const va = vaddr & U64;
    if (this.setup) {
      const canonical = this.setup.canonical(va);
      if (typeof canonical === 'string') throw new TranslationError(va, canonical);
      const walk = await walkPageTable(this.setup.format, this.setup.root, canonical, (pa) =>
        this.readEntry(pa),
      );
      if (walk.ok)
        return {
          virtual: va,
          physical: walk.physical,
          pageSize: walk.pageSize,
          entries: walk.entries,
          via: 'page-table',
        };
      // A table page missing from the dump: the linear rules still answer for the direct map and image.
      const missingTable = /not in the dump/.test(walk.why);
      const lin = missingTable ? this.linearTranslate(canonical) : undefined;
      if (lin !== undefined)
        return {
          virtual: va,
          physical: lin,
          pageSize: this.dump.memory.pageSize,
          entries: walk.entries,
          via: 'linear',
        };
      throw new TranslationError(va, walk.why, walk.entries);
    }
    const lin = this.linearTranslate(va);
    if (lin !== undefined)
      return { virtual: va, physical: lin, pageSize: this.dump.memory.pageSize, entries: [], via: 'linear' };
    throw new TranslationError(va, this.setupProblem ?? 'no mapping covers it');
  }

  /** Virtual aliases of a physical address: its direct-map address and, when it holds the kernel, its image address. */
  async ptov(paddr: bigint): Promise<VirtualAlias[]> {
    const out: VirtualAlias[] = [];
    for (const r of this.linear) {
      const size = r.end - r.start;
      const delta = (paddr - r.physStart) & U64;
      if (delta >= size) continue;
      const va = (r.start + delta) & U64;
      if (!r.exact) {
        // Region bounds are the kernel's reservation, not what is mapped: confirm with the tables.
        const t = await this.vtop(va).catch(() => undefined);
        if (!t || t.physical !== paddr) continue;
      }
      out.push({ address: va, region: r.name });
    }
    return out;
  }

  async read(vaddr: bigint, length: number): Promise<ReadResult> {
    if (!Number.isSafeInteger(length) || length < 0 || length > MAX_VIRTUAL_READ) {
      throw new RangeError(`virtual read of ${length} bytes is out of bounds (at most ${MAX_VIRTUAL_READ})`);
    }
    const bytes = new Uint8Array(length);
    const gaps = new GapList();
    let done = 0;
    while (done < length) {
      const va = (vaddr + BigInt(done)) & U64;
      const t = await this.translateCached(va);
      if ('error' in t) {
        const n = Math.min(length - done, Number(SMALL_PAGE - (va & (SMALL_PAGE - 1n))));
        gaps.add(done, n, 'not-mapped', t.error);
        done += n;
        continue;
      }
      const offsetInPage = va - t.pageStart;
      const n = Math.min(length - done, Number(BigInt(t.pageSize) - offsetInPage));
      const phys = await this.dump.memory.read(t.physical + offsetInPage, n);
      bytes.set(phys.bytes, done);
      for (const g of phys.gaps) gaps.add(done + g.offset, g.length, g.reason, g.detail);
      done += n;
    }
    return gaps.result(bytes);
  }

  /** Translate for reads: cached per 4 KiB virtual page, returning the whole mapping page. */
  private async translateCached(va: bigint): Promise<CachedTranslation> {
    const key = va & ~(SMALL_PAGE - 1n);
    const hit = this.translations.get(key);
    if (hit) return hit;
    let entry: CachedTranslation;
    try {
      const t = await this.vtop(key);
      const size = BigInt(t.pageSize);
      const pageStart = key & ~(size - 1n);
      entry = { physical: t.physical - (key - pageStart), pageSize: t.pageSize, pageStart };
    } catch (err) {
      if (!(err instanceof TranslationError)) throw err;
      entry = { error: err.why };
    }
    this.translations.set(key, entry);
    return entry;
  }

  private linearTranslate(va: bigint): bigint | undefined {
    for (const r of this.linear) {
      if (va >= r.start && va < r.end) return (r.physStart + (va - r.start)) & U64;
    }
    return undefined;
  }

  /** One page-table entry, read through a cache of whole table pages; undefined when not in the dump. */
  private async readEntry(paddr: bigint): Promise<bigint | undefined> {
    const tableSize = BigInt(this.dump.memory.pageSize);
    const base = paddr & ~(tableSize - 1n);
    let table = this.tables.get(base);
    if (!table) {
      table = await this.dump.memory.read(base, Number(tableSize));
      this.tables.set(base, table);
    }
    const offset = Number(paddr - base);
    if (table.gaps.some((g) => offset < g.offset + g.length && offset + 8 > g.offset)) return undefined;
    return new DataView(table.bytes.buffer, table.bytes.byteOffset + offset, 8).getBigUint64(
      0,
      this.littleEndian,
    );
  }

  /**
   * With no container mapping to tell the randomized direct-map base (kdump-compressed files), find
   * the lowest mapped address at or above the non-randomized base at the given alignment and accept
   * it only if it maps the first RAM page to itself.
   */
  private async probeDirectMap(search: { start: bigint; end: bigint; align: bigint }): Promise<void> {
    const setup = this.setup!;
    const firstRam = this.dump.memory.ranges()[0]?.start ?? 0n;
    const probe = firstRam + BigInt(this.dump.memory.pageSize) * 16n;
    const levels = setup.format.levels;
    const alignShift = BigInt(search.align.toString(2).length - 1);
    const candidates = async (table: bigint, level: number, prefix: bigint): Promise<bigint | undefined> => {
      const lvl = levels[level]!;
      const shift = BigInt(lvl.shift);
      const count = 1n << BigInt(lvl.bits);
      const lowIndex = level === 0 ? (search.start >> shift) & (count - 1n) : 0n;
      for (let i = lowIndex; i < count; i++) {
        const va = signExtend(prefix | (i << shift), levels[0]!.shift + levels[0]!.bits);
        if (va >= search.end) return undefined;
        if (va + (1n << shift) <= search.start) continue;
        const entry = await this.readEntry(table + i * 8n);
        if (entry === undefined) continue;
        const d = setup.format.decode(entry, level);
        if (d.kind === 'invalid') continue;
        if (shift <= alignShift || d.kind === 'leaf') {
          const candidate = va & ~(search.align - 1n);
          const t = await this.vtop(candidate + probe).catch(() => undefined);
          if (t && t.physical === probe) return candidate;
          continue;
        }
        const found = await candidates(d.next, level + 1, prefix | (i << shift));
        if (found !== undefined) return found;
      }
      return undefined;
    };
    const base = await candidates(setup.root, 0, 0n);
    if (base !== undefined) {
      this.linear.push({ name: 'direct-map', start: base, end: search.end, physStart: 0n, exact: false });
      setup.facts.directMap =
        'lowest mapped address of the kernel half that maps RAM to itself (page-table probe)';
    }
  }
}

function signExtend(va: bigint, bits: number): bigint {
  const b = BigInt(bits);
  return ((va >> (b - 1n)) & 1n) === 1n ? (va | (U64 << b)) & U64 : va;
}

/** Without kernel page tables, the dump's own PT_LOAD virtual addresses are the only mapping. */
function linearFromSegments(dump: Dump): LinearRegion[] {
  return dump.virtualSegments.map((s) => ({
    name: 'kernel-image' as const,
    start: s.vaddr,
    end: s.vaddr + s.size,
    physStart: s.paddr,
    exact: true,
  }));
}
