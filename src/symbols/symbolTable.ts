import type { Relocation } from './relocate';

/** A kernel symbol at its runtime address (KASLR already applied). */
export interface KernelSymbol {
  name: string;
  address: bigint;
  /** nm-style type character: t/T text, d/D data, b/B bss, r/R rodata, w/W weak, a/A absolute… */
  type: string;
  /** Size when the source knows it (vmlinux symtab); otherwise inferred from the next symbol. */
  size?: bigint;
  /** The loaded module the symbol belongs to; undefined for the core kernel. */
  module?: string;
}

export interface SymbolLocation {
  symbol: KernelSymbol;
  offset: bigint;
  /** Extent of the symbol: its size, or the distance to the next symbol when the size is unknown. */
  extent?: bigint;
}

export type SymbolSource = 'kallsyms' | 'System.map' | 'vmlinux';

/** Anything that names addresses: a symbol table, or a kernel with its modules' symbols too. */
export interface Symbolizer {
  symbolize(address: bigint): SymbolLocation | undefined;
}

/** Largest distance past a symbol we still attribute to it when its size is unknown (drgn caps at 64 KiB). */
const MAX_INFERRED_SIZE = 0x10000n;

/** Address-sorted symbols with lookups both ways. */
export class SymbolTable {
  private readonly sorted: KernelSymbol[];
  private byName: Map<string, KernelSymbol> | undefined;

  constructor(
    symbols: Iterable<KernelSymbol>,
    readonly source: SymbolSource,
    /** Where the symbols came from, said for people (`kallsyms in the dump: 95000 symbols …`). */
    readonly description: string = source,
    /** How link-time addresses of the file were moved (System.map, vmlinux); undefined for kallsyms. */
    readonly relocation?: Relocation,
  ) {
    this.sorted = [...symbols].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  }

  get size(): number {
    return this.sorted.length;
  }

  all(): readonly KernelSymbol[] {
    return this.sorted;
  }

  /** The symbol by name; text symbols win over others of the same name. */
  lookup(name: string): KernelSymbol | undefined {
    if (!this.byName) {
      this.byName = new Map();
      for (const s of this.sorted) {
        const prev = this.byName.get(s.name);
        if (!prev || (!isText(prev.type) && isText(s.type))) this.byName.set(s.name, s);
      }
    }
    return this.byName.get(name);
  }

  /** The symbol containing `address`: the last one at or below it, within its size. */
  symbolize(address: bigint): SymbolLocation | undefined {
    let lo = 0;
    let hi = this.sorted.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.sorted[mid]!.address <= address) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return undefined;
    // Several symbols can share an address; prefer a global text symbol, then the first listed.
    let best = found;
    for (let i = found; i >= 0 && this.sorted[i]!.address === this.sorted[found]!.address; i--) {
      if (rank(this.sorted[i]!) >= rank(this.sorted[best]!)) best = i;
    }
    const symbol = this.sorted[best]!;
    const offset = address - symbol.address;
    let limit = symbol.size;
    if (limit === undefined || limit === 0n) {
      let next = found + 1;
      while (next < this.sorted.length && this.sorted[next]!.address === symbol.address) next++;
      const gap = next < this.sorted.length ? this.sorted[next]!.address - symbol.address : MAX_INFERRED_SIZE;
      limit = gap < MAX_INFERRED_SIZE ? gap : MAX_INFERRED_SIZE;
    }
    if (offset >= limit && !(offset === 0n)) return undefined;
    return { symbol, offset, extent: limit };
  }
}

export function isText(type: string): boolean {
  return type === 't' || type === 'T' || type === 'W' || type === 'w';
}

/**
 * Which of several symbols at one address names it: a global function, then any function, then
 * data; never an ftrace `__pfx_` padding symbol, nor a section marker (`__sched_text_start` shares
 * its address with `__switch_to` on arm64), nor the `init_module`/`cleanup_module` alias that a
 * module's module_init()/module_exit() gives its own function.
 */
function rank(s: KernelSymbol): number {
  return (
    (s.type === 'T' ? 4 : isText(s.type) ? 3 : s.type === s.type.toUpperCase() ? 2 : 1) -
    (s.name.startsWith('__pfx_') ? 3 : 0) -
    (SECTION_MARKER.test(s.name) || s.name === 'init_module' || s.name === 'cleanup_module' ? 0.5 : 0)
  );
}

/** Linker-script markers of where sections begin and end: not functions. */
const SECTION_MARKER = /^(_text|_s\w*text|_e\w*text|__\w+_(start|end)|__(start|stop)_\w+)$/;

/** `name+0xoff`, and ` [module]` for a module's symbol, as crash and the kernel print it. */
export function formatLocation(loc: SymbolLocation | undefined, address: bigint): string {
  if (!loc) return '0x' + address.toString(16);
  const at = loc.offset === 0n ? loc.symbol.name : `${loc.symbol.name}+0x${loc.offset.toString(16)}`;
  return loc.symbol.module ? `${at} [${loc.symbol.module}]` : at;
}
