/**
 * The kernel's own symbol table (kallsyms), decoded from a dump's memory without vmlinux or
 * System.map. VMCOREINFO (v6.0+, or backported) names the tables:
 *
 * - `kallsyms_num_syms`: u32 number of symbols;
 * - `kallsyms_names`: per symbol a length L then L token indexes; since v6.1 ("big" symbols) a length
 *   byte with bit 7 set is followed by a second byte, L = (b0 & 0x7f) | (b1 << 7);
 * - `kallsyms_token_table`: 256 NUL-terminated token strings; `kallsyms_token_index`: 256 u16 offsets;
 * - addresses, by era: `kallsyms_addresses[]` (absolute words), or `kallsyms_offsets[]` (s32) with
 *   `kallsyms_relative_base` (base + (u32)off; or on x86_64 "absolute per-CPU": off >= 0 is absolute,
 *   off < 0 is base - 1 - off), or place-relative offsets (v7.0+: &offsets[i] + off).
 *
 * The era is chosen by decoding `_stext` each way and comparing with VMCOREINFO `SYMBOL(_stext)`.
 * The expanded name starts with the nm type letter. Everything is read in a few large reads and every
 * count is bounded: a corrupt table gives a KallsymsError, never a hang.
 */
import type { VmcoreInfo } from '../dump/vmcoreinfo';
import { readFully, type VirtualMemory } from '../translate/types';
import { type KernelSymbol, SymbolTable } from './symbolTable';

/** More symbols than any kernel has (a big allyesconfig has ~300k). */
export const MAX_KALLSYMS = 4_000_000;
/** Largest kallsyms_names we accept (the table is ~4 bytes per symbol in practice). */
const MAX_NAMES_BYTES = 64 * 1024 * 1024;
/** Largest token count per symbol (KSYM_NAME_LEN is 512 since v6.1; a token expands to ≥ 1 char). */
const MAX_SYMBOL_TOKENS = 0x7fff;
/** Longest expanded symbol name (type letter included) we accept. */
const MAX_NAME_CHARS = 4096;
/** Longest single token string. */
const MAX_TOKEN_CHARS = 1024;
const NAMES_CHUNK = 1024 * 1024;

export type KallsymsAddressEra = 'absolute' | 'relative' | 'absolute-percpu' | 'place-relative';

export class KallsymsError extends Error {
  override readonly name = 'KallsymsError';
}

export interface KallsymsOptions {
  /** Force the v6.1+ two-byte length encoding on or off (default: by OSRELEASE, retried the other way on failure). */
  bigSymbols?: boolean;
  signal?: AbortSignal;
}

export interface KallsymsInfo {
  count: number;
  era: KallsymsAddressEra;
  bigSymbols: boolean;
  /** Bytes of kallsyms_names decoded. */
  namesBytes: number;
}

/** The symbol table plus how it was decoded. */
export interface KallsymsResult {
  table: SymbolTable;
  info: KallsymsInfo;
}

/** Decode kallsyms from memory into a SymbolTable (source `kallsyms`). */
export async function loadKallsyms(
  mem: VirtualMemory,
  vmcoreinfo: VmcoreInfo | undefined,
  options: KallsymsOptions = {},
): Promise<SymbolTable> {
  return (await decodeKallsyms(mem, vmcoreinfo, options)).table;
}

export async function decodeKallsyms(
  mem: VirtualMemory,
  vmcoreinfo: VmcoreInfo | undefined,
  options: KallsymsOptions = {},
): Promise<KallsymsResult> {
  if (!vmcoreinfo)
    throw new KallsymsError('the dump has no VMCOREINFO, so the kernel symbol table cannot be found');
  const sym = (n: string) => vmcoreinfo.symbol(n);
  const namesAddr = sym('kallsyms_names');
  const numAddr = sym('kallsyms_num_syms');
  const tokenTableAddr = sym('kallsyms_token_table');
  const tokenIndexAddr = sym('kallsyms_token_index');
  const offsetsAddr = sym('kallsyms_offsets');
  const relativeBaseAddr = sym('kallsyms_relative_base');
  const addressesAddr = sym('kallsyms_addresses');
  const missing = [
    ['kallsyms_names', namesAddr],
    ['kallsyms_num_syms', numAddr],
    ['kallsyms_token_table', tokenTableAddr],
    ['kallsyms_token_index', tokenIndexAddr],
  ]
    .filter(([, v]) => v === undefined)
    .map(([k]) => `SYMBOL(${k})`);
  if (offsetsAddr === undefined && addressesAddr === undefined)
    missing.push('SYMBOL(kallsyms_offsets) or SYMBOL(kallsyms_addresses)');
  if (missing.length > 0) {
    throw new KallsymsError(
      `VMCOREINFO lacks ${missing.join(', ')} (kernels before 6.0 do not export kallsyms there): give a System.map or vmlinux for symbols`,
    );
  }
  const signal = options.signal;

  // Count.
  const numBytes = await readFully(mem, numAddr!, 4, 'kallsyms_num_syms');
  const count = new DataView(numBytes.buffer, numBytes.byteOffset, 4).getUint32(0, mem.littleEndian);
  if (count === 0 || count > MAX_KALLSYMS) {
    throw new KallsymsError(`kallsyms_num_syms is ${count}: not a plausible symbol count (corrupt memory?)`);
  }

  // Tokens.
  const tokens = await readTokens(mem, tokenTableAddr!, tokenIndexAddr!);
  signal?.throwIfAborted();

  // Names: bounded by the next kallsyms table above it when VMCOREINFO tells us where that is.
  const others = [numAddr, tokenTableAddr, tokenIndexAddr, offsetsAddr, relativeBaseAddr, addressesAddr]
    .filter((a): a is bigint => a !== undefined && a > namesAddr!)
    .sort((a, b) => (a < b ? -1 : 1));
  const namesLimit =
    others.length > 0 ? Number(bigMin(others[0]! - namesAddr!, BigInt(MAX_NAMES_BYTES))) : MAX_NAMES_BYTES;
  const names = new ChunkedReader(mem, namesAddr!, namesLimit, 'kallsyms_names');

  const preferBig = options.bigSymbols ?? kernelAtLeast(vmcoreinfo.osRelease, 6, 1);
  let decoded: DecodedNames;
  try {
    decoded = await decodeNames(names, count, tokens, preferBig, signal);
  } catch (err) {
    if (options.bigSymbols !== undefined || !(err instanceof KallsymsError)) throw err;
    // The length encoding is not flagged in the data: retry the other way before giving up.
    try {
      decoded = await decodeNames(names, count, tokens, !preferBig, signal);
    } catch {
      throw err;
    }
  }
  signal?.throwIfAborted();

  // Addresses.
  const wordSize = mem.wordSize;
  const candidates: { era: KallsymsAddressEra; address: (i: number) => bigint }[] = [];
  const mask = wordSize === 8 ? (1n << 64n) - 1n : (1n << 32n) - 1n;
  if (addressesAddr !== undefined) {
    const raw = await readFully(mem, addressesAddr, count * wordSize, 'kallsyms_addresses');
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    candidates.push({
      era: 'absolute',
      address: (i) =>
        wordSize === 8
          ? dv.getBigUint64(i * 8, mem.littleEndian)
          : BigInt(dv.getUint32(i * 4, mem.littleEndian)),
    });
  }
  if (offsetsAddr !== undefined) {
    const raw = await readFully(mem, offsetsAddr, count * 4, 'kallsyms_offsets');
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const off = (i: number) => dv.getInt32(i * 4, mem.littleEndian);
    if (relativeBaseAddr !== undefined) {
      const b = await readFully(mem, relativeBaseAddr, wordSize, 'kallsyms_relative_base');
      const bv = new DataView(b.buffer, b.byteOffset, wordSize);
      const base =
        wordSize === 8 ? bv.getBigUint64(0, mem.littleEndian) : BigInt(bv.getUint32(0, mem.littleEndian));
      candidates.push({ era: 'relative', address: (i) => (base + BigInt(off(i) >>> 0)) & mask });
      candidates.push({
        era: 'absolute-percpu',
        address: (i) => {
          const o = off(i);
          return o >= 0 ? BigInt(o) : (base - 1n - BigInt(o)) & mask;
        },
      });
    }
    candidates.push({
      era: 'place-relative',
      address: (i) => (offsetsAddr + BigInt(i * 4) + BigInt(off(i))) & mask,
    });
  }

  const chosen = chooseEra(candidates, decoded.names, count, vmcoreinfo.symbol('_stext'));
  const symbols: KernelSymbol[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const full = decoded.names[i]!;
    symbols[i] = { name: full.slice(1), address: chosen.address(i), type: full[0]! };
  }
  const info: KallsymsInfo = {
    count,
    era: chosen.era,
    bigSymbols: decoded.big,
    namesBytes: decoded.bytes,
  };
  const table = new SymbolTable(
    symbols,
    'kallsyms',
    `kallsyms in the dump: ${count} symbols (${describeEra(chosen.era)})`,
  );
  return { table, info };
}

function describeEra(era: KallsymsAddressEra): string {
  switch (era) {
    case 'absolute':
      return 'absolute addresses';
    case 'relative':
      return 'offsets from kallsyms_relative_base';
    case 'absolute-percpu':
      return 'offsets from kallsyms_relative_base, absolute per-CPU symbols';
    case 'place-relative':
      return 'place-relative offsets';
  }
}

function bigMin(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

/** True when OSRELEASE is at least major.minor (unknown versions count as new). */
export function kernelAtLeast(release: string | undefined, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release ?? '');
  if (!m) return true;
  const a = Number(m[1]);
  const b = Number(m[2]);
  return a > major || (a === major && b >= minor);
}

/** The 256 token strings. */
async function readTokens(mem: VirtualMemory, tableAddr: bigint, indexAddr: bigint): Promise<string[]> {
  const idxBytes = await readFully(mem, indexAddr, 512, 'kallsyms_token_index');
  const dv = new DataView(idxBytes.buffer, idxBytes.byteOffset, 512);
  const index: number[] = [];
  let max = 0;
  for (let i = 0; i < 256; i++) {
    const v = dv.getUint16(i * 2, mem.littleEndian);
    index.push(v);
    if (v > max) max = v;
  }
  // The table ends after the token at the largest offset; read past it by the longest token allowed,
  // accepting unreadable bytes beyond what the tokens use.
  const want = max + MAX_TOKEN_CHARS + 1;
  const { bytes, gaps } = await mem.read(tableAddr, want);
  const readable = gaps.length > 0 ? Math.min(...gaps.map((g) => g.offset)) : bytes.length;
  const tokens: string[] = [];
  for (let i = 0; i < 256; i++) {
    const start = index[i]!;
    let end = start;
    while (end < readable && bytes[end] !== 0 && end - start <= MAX_TOKEN_CHARS) end++;
    if (end >= readable || bytes[end] !== 0) {
      throw new KallsymsError(
        `kallsyms_token_table: token ${i} at offset ${start} is not a NUL-terminated string${gaps.length > 0 && end >= readable ? ` (memory not available: ${gaps[0]!.reason})` : ''}`,
      );
    }
    tokens.push(String.fromCharCode(...bytes.subarray(start, end)));
  }
  return tokens;
}

/** Sequential access to a big table, read in large chunks as the decoder advances. */
class ChunkedReader {
  private buf = new Uint8Array(0);
  /** Bytes of `buf` that are valid. */
  private have = 0;
  private exhausted = false;
  private problem: string | undefined;

  constructor(
    private readonly mem: VirtualMemory,
    private readonly base: bigint,
    private readonly limit: number,
    private readonly what: string,
  ) {}

  get bytes(): Uint8Array {
    return this.buf;
  }
  get available(): number {
    return this.have;
  }

  /** Make bytes [0, end) available if they exist; returns how many are. */
  async ensure(end: number): Promise<number> {
    while (this.have < end && !this.exhausted) {
      const want = Math.min(this.limit - this.have, Math.max(NAMES_CHUNK, end - this.have));
      if (want <= 0) {
        this.exhausted = true;
        break;
      }
      const { bytes, gaps } = await this.mem.read(this.base + BigInt(this.have), want);
      const usable = gaps.length > 0 ? Math.min(...gaps.map((g) => g.offset)) : bytes.length;
      if (gaps.length > 0) {
        this.exhausted = true;
        const g = gaps.find((x) => x.offset === usable)!;
        this.problem = `${g.reason}${g.detail ? ` (${g.detail})` : ''}`;
      }
      if (this.have + usable > this.buf.length) {
        const next = new Uint8Array(Math.min(this.limit, Math.max(this.buf.length * 2, this.have + usable)));
        next.set(this.buf.subarray(0, this.have));
        this.buf = next;
      }
      this.buf.set(bytes.subarray(0, usable), this.have);
      this.have += usable;
    }
    return this.have;
  }

  /** Why the table ended early. */
  shortReason(offset: number): string {
    const where = `0x${(this.base + BigInt(offset)).toString(16)}`;
    return this.problem
      ? `${this.what} cannot be read at ${where}: ${this.problem}`
      : `${this.what} runs past its ${this.limit}-byte bound at ${where}`;
  }
}

interface DecodedNames {
  names: string[];
  big: boolean;
  bytes: number;
}

const TYPE_LETTER = /^[A-Za-z?]$/;

async function decodeNames(
  reader: ChunkedReader,
  count: number,
  tokens: string[],
  big: boolean,
  signal: AbortSignal | undefined,
): Promise<DecodedNames> {
  const names: string[] = new Array(count);
  let pos = 0;
  for (let i = 0; i < count; i++) {
    if ((i & 0x3fff) === 0) signal?.throwIfAborted();
    // A symbol needs at most 2 length bytes + MAX_SYMBOL_TOKENS token bytes.
    if (pos + 2 > reader.available) await reader.ensure(pos + 2 + 1024);
    if (pos + 1 > reader.available)
      throw new KallsymsError(`${reader.shortReason(pos)} (symbol ${i} of ${count})`);
    const bytes = reader.bytes;
    let len = bytes[pos]!;
    let hdr = 1;
    if (big && len & 0x80) {
      if (pos + 2 > reader.available)
        throw new KallsymsError(`${reader.shortReason(pos + 1)} (symbol ${i} of ${count})`);
      len = (len & 0x7f) | (bytes[pos + 1]! << 7);
      hdr = 2;
    }
    if (len === 0 || len > MAX_SYMBOL_TOKENS) {
      throw new KallsymsError(
        `kallsyms_names is corrupt: symbol ${i} of ${count} has ${len} tokens (at byte ${pos}; ${big ? 'v6.1+ two-byte' : 'one-byte'} lengths)`,
      );
    }
    if (pos + hdr + len > reader.available) await reader.ensure(pos + hdr + len + 1024);
    if (pos + hdr + len > reader.available)
      throw new KallsymsError(`${reader.shortReason(pos + hdr + len)} (symbol ${i} of ${count})`);
    const b = reader.bytes;
    let name = '';
    for (let k = pos + hdr, end = pos + hdr + len; k < end; k++) {
      name += tokens[b[k]!]!;
      if (name.length > MAX_NAME_CHARS) break;
    }
    if (name.length < 2 || name.length > MAX_NAME_CHARS || !TYPE_LETTER.test(name[0]!) || !printable(name)) {
      throw new KallsymsError(
        `kallsyms_names is corrupt: symbol ${i} of ${count} (at byte ${pos}) expands to ${JSON.stringify(name.slice(0, 40))}, not a type letter and a name`,
      );
    }
    names[i] = name;
    pos += hdr + len;
  }
  return { names, big, bytes: pos };
}

function printable(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

function chooseEra(
  candidates: { era: KallsymsAddressEra; address: (i: number) => bigint }[],
  names: string[],
  count: number,
  stext: bigint | undefined,
): { era: KallsymsAddressEra; address: (i: number) => bigint } {
  if (candidates.length === 0) throw new KallsymsError('no kallsyms address table in VMCOREINFO');
  let stextIndex = -1;
  for (let i = 0; i < count; i++) {
    if (names[i]!.slice(1) === '_stext') {
      stextIndex = i;
      break;
    }
  }
  if (stext !== undefined && stextIndex >= 0) {
    const hit = candidates.find((c) => c.address(stextIndex) === stext);
    if (hit) return hit;
    throw new KallsymsError(
      `no kallsyms address encoding gives _stext = 0x${stext.toString(16)} as VMCOREINFO says (got ${candidates
        .map((c) => `${c.era}: 0x${c.address(stextIndex).toString(16)}`)
        .join(', ')}): the tables are corrupt or in an unknown format`,
    );
  }
  if (candidates.length === 1) return candidates[0]!;
  // No anchor: kallsyms is sorted by address, so the encoding with the fewest inversions wins.
  let best = candidates[0]!;
  let bestInversions = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    let inversions = 0;
    let prev = c.address(0);
    for (let i = 1; i < count; i++) {
      const a = c.address(i);
      if (a < prev) inversions++;
      prev = a;
    }
    if (inversions < bestInversions) {
      best = c;
      bestInversions = inversions;
    }
  }
  return best;
}
