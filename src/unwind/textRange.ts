import type { SymbolTable } from '../symbols/symbolTable';

/** The kernel's text ranges from its own symbols: [_stext, _etext) and init text. */
export class KernelText {
  private readonly ranges: [bigint, bigint][] = [];

  constructor(symbols: SymbolTable | undefined) {
    const add = (start: string, end: string) => {
      const s = symbols?.lookup(start)?.address;
      const e = symbols?.lookup(end)?.address;
      if (s !== undefined && e !== undefined && e > s) this.ranges.push([s, e]);
    };
    add('_stext', '_etext');
    add('_sinittext', '_einittext');
    if (this.ranges.length === 0) add('_text', '_etext');
  }

  get known(): boolean {
    return this.ranges.length > 0;
  }

  contains(address: bigint): boolean {
    return this.ranges.some(([s, e]) => address >= s && address < e);
  }
}
