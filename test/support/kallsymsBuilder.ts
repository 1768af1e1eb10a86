/**
 * Builds kallsyms tables in memory the way the kernel lays them out (scripts/kallsyms.c output,
 * kernel/kallsyms.c reader): token table + index, length-prefixed token strings (one-byte lengths, or
 * the v6.1+ two-byte form), and addresses in any of the four eras. Written from the format
 * description in the kernel sources' comments and docs/vmcore-formats.md §6.1, not from the reader.
 */
import { Bytes } from './virtualMemory';

export interface BuildSymbol {
  type: string;
  name: string;
  address: bigint;
}

export type Era = 'absolute' | 'relative' | 'absolute-percpu' | 'place-relative';

export interface BuildOptions {
  era: Era;
  bigSymbols: boolean;
  wordSize?: 4 | 8;
  littleEndian?: boolean;
  /** Where the tables go (virtual address). */
  at: bigint;
}

export interface BuiltKallsyms {
  /** One region holding every table. */
  address: bigint;
  bytes: Uint8Array;
  /** SYMBOL(kallsyms_*) lines for VMCOREINFO. */
  vmcoreinfo: string;
  symbols: Record<string, bigint>;
}

const align = (n: number, a: number) => Math.ceil(n / a) * a;

/** Pick 256 tokens: the printable single characters, then the most useful substrings. */
function chooseTokens(strings: string[]): string[] {
  const tokens: string[] = new Array(256).fill('');
  const used = new Set<number>();
  for (let c = 0x21; c < 0x7f; c++) {
    tokens[c] = String.fromCharCode(c);
    used.add(c);
  }
  const score = new Map<string, number>();
  for (const s of strings.slice(0, 5000)) {
    for (let len = 2; len <= 6; len++)
      for (let i = 0; i + len <= s.length; i++) {
        const sub = s.slice(i, i + len);
        score.set(sub, (score.get(sub) ?? 0) + len - 1);
      }
  }
  const best = [...score.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([s]) => s);
  let k = 0;
  for (let slot = 0; slot < 256 && k < best.length; slot++) {
    if (used.has(slot)) continue;
    tokens[slot] = best[k++]!;
  }
  return tokens;
}

function encode(s: string, tokens: string[]): number[] {
  const out: number[] = [];
  let i = 0;
  while (i < s.length) {
    let bestIdx = -1;
    let bestLen = 0;
    for (let t = 0; t < 256; t++) {
      const tok = tokens[t]!;
      if (tok.length > bestLen && s.startsWith(tok, i)) {
        bestIdx = t;
        bestLen = tok.length;
      }
    }
    if (bestIdx < 0) throw new Error(`cannot encode ${JSON.stringify(s[i])}`);
    out.push(bestIdx);
    i += bestLen;
  }
  return out;
}

export function buildKallsyms(symbols: BuildSymbol[], o: BuildOptions): BuiltKallsyms {
  const ws = o.wordSize ?? 8;
  const le = o.littleEndian ?? true;
  const n = symbols.length;
  const full = symbols.map((s) => s.type + s.name);
  const tokens = chooseTokens(full);

  // names
  const names: number[] = [];
  for (const s of full) {
    const enc = encode(s, tokens);
    if (o.bigSymbols && enc.length >= 0x80) names.push((enc.length & 0x7f) | 0x80, enc.length >> 7);
    else if (enc.length > 0xff) throw new Error('symbol too long for one-byte lengths');
    else names.push(enc.length);
    names.push(...enc);
  }
  // token table
  const tokenTable: number[] = [];
  const tokenIndex: number[] = [];
  for (const t of tokens) {
    tokenIndex.push(tokenTable.length);
    for (const ch of t) tokenTable.push(ch.charCodeAt(0));
    tokenTable.push(0);
  }

  const addrTableSize = o.era === 'absolute' ? n * ws : n * 4;
  const offAddrs = 0;
  const offBase = align(offAddrs + addrTableSize, 8);
  const offNum = offBase + 8;
  const offNames = offNum + 8;
  const offTokenTable = align(offNames + names.length, 8);
  const offTokenIndex = align(offTokenTable + tokenTable.length, 8);
  const total = offTokenIndex + 512;
  const b = new Bytes(total, le);
  const at = o.at;

  const kernel = symbols.filter((s) => s.address >= 1n << 31n).map((s) => s.address);
  const base = kernel.length > 0 ? kernel.reduce((a, c) => (c < a ? c : a)) : 0n;
  for (let i = 0; i < n; i++) {
    const a = symbols[i]!.address;
    switch (o.era) {
      case 'absolute':
        b.word(offAddrs + i * ws, a, ws);
        break;
      case 'relative':
        b.u32(offAddrs + i * 4, Number(a - base));
        break;
      case 'absolute-percpu':
        b.s32(offAddrs + i * 4, a < 1n << 31n ? Number(a) : Number(base - 1n - a));
        break;
      case 'place-relative':
        b.s32(offAddrs + i * 4, Number(a - (at + BigInt(offAddrs + i * 4))));
        break;
    }
  }
  if (o.era === 'relative' || o.era === 'absolute-percpu') b.word(offBase, base, ws);
  b.u32(offNum, n);
  b.bytes.set(names, offNames);
  b.bytes.set(tokenTable, offTokenTable);
  tokenIndex.forEach((v, i) => {
    b.u16(offTokenIndex + i * 2, v);
  });

  const sym: Record<string, bigint> = {
    kallsyms_num_syms: at + BigInt(offNum),
    kallsyms_names: at + BigInt(offNames),
    kallsyms_token_table: at + BigInt(offTokenTable),
    kallsyms_token_index: at + BigInt(offTokenIndex),
  };
  if (o.era === 'absolute') sym.kallsyms_addresses = at + BigInt(offAddrs);
  else sym.kallsyms_offsets = at + BigInt(offAddrs);
  if (o.era === 'relative' || o.era === 'absolute-percpu') sym.kallsyms_relative_base = at + BigInt(offBase);
  const vmcoreinfo = Object.entries(sym)
    .map(([k, v]) => `SYMBOL(${k})=${v.toString(16)}\n`)
    .join('');
  return { address: at, bytes: b.bytes, vmcoreinfo, symbols: sym };
}
