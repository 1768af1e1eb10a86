import type { SymbolTable } from '../symbols/symbolTable';
import type { ModuleCode } from './types';

/** The kernel's text ranges from its own symbols: [_stext, _etext) and init text; and module text. */
export class KernelText {
  private readonly ranges: [bigint, bigint][] = [];

  constructor(symbols: SymbolTable | undefined, modules: readonly ModuleCode[] = []) {
    const add = (start: string, end: string) => {
      const s = symbols?.lookup(start)?.address;
      const e = symbols?.lookup(end)?.address;
      if (s !== undefined && e !== undefined && e > s) this.ranges.push([s, e]);
    };
    add('_stext', '_etext');
    add('_sinittext', '_einittext');
    if (this.ranges.length === 0) add('_text', '_etext');
    this.builtIn = this.ranges.length;
    for (const m of modules) if (m.end > m.start) this.ranges.push([m.start, m.end]);
  }

  /** How many of the ranges are the kernel image's (the rest are modules'). */
  private readonly builtIn: number;

  /** In the kernel image's own text (not a module's). */
  isBuiltIn(address: bigint): boolean {
    return this.ranges.slice(0, this.builtIn).some(([s, e]) => address >= s && address < e);
  }

  get known(): boolean {
    return this.ranges.length > 0;
  }

  contains(address: bigint): boolean {
    return this.ranges.some(([s, e]) => address >= s && address < e);
  }
}
