import type { SymbolTable } from '../symbols/symbolTable';
import { readFully, type VirtualMemory } from '../translate/types';

/** ORC register codes (v1-v3). */
export const ORC_REG = {
  UNDEFINED: 0,
  PREV_SP: 1,
  DX: 2,
  DI: 3,
  BP: 4,
  SP: 5,
  R10: 6,
  R13: 7,
  BP_INDIRECT: 8,
  SP_INDIRECT: 9,
} as const;

export type OrcType = 'undefined' | 'end-of-stack' | 'call' | 'regs' | 'regs-partial';

export interface OrcEntry {
  spOffset: number;
  bpOffset: number;
  spReg: number;
  bpReg: number;
  type: OrcType;
  /** The frame's ip is not a return address (v2+ `signal`; always for REGS types). */
  signal: boolean;
}

/** The bitfield layout of struct orc_entry changed in v6.3 and v6.4 (drgn numbers them v1-v3). */
export type OrcVersion = 1 | 2 | 3;

/** Largest table we accept: the kernel has a few hundred thousand entries. */
const MAX_ENTRIES = 4_000_000;

export function decodeOrcEntry(
  bytes: Uint8Array,
  offset: number,
  version: OrcVersion,
  littleEndian: boolean,
): OrcEntry {
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, 6);
  const spOffset = v.getInt16(0, littleEndian);
  const bpOffset = v.getInt16(2, littleEndian);
  const bits = v.getUint16(4, littleEndian);
  const spReg = bits & 0xf;
  const bpReg = (bits >> 4) & 0xf;
  let type: OrcType;
  let signal: boolean;
  if (version === 3) {
    const t = (bits >> 8) & 7;
    type = (['undefined', 'end-of-stack', 'call', 'regs', 'regs-partial'] as const)[t] ?? 'undefined';
    signal = ((bits >> 11) & 1) === 1;
  } else {
    const t = (bits >> 8) & 3;
    const end = ((bits >> (version === 1 ? 10 : 11)) & 1) === 1;
    signal = version === 2 && ((bits >> 10) & 1) === 1;
    if (spReg === ORC_REG.UNDEFINED) type = end ? 'end-of-stack' : 'undefined';
    else type = (['call', 'regs', 'regs-partial'] as const)[t] ?? 'undefined';
  }
  if (type === 'regs' || type === 'regs-partial') signal = true;
  return { spOffset, bpOffset, spReg, bpReg, type, signal };
}

/**
 * The kernel's built-in ORC tables, read from the dump's own memory through the kallsyms symbols
 * `__start_orc_unwind_ip`/`__stop_orc_unwind_ip` and `__start_orc_unwind`: no vmlinux needed.
 */
export class OrcTable {
  private constructor(
    private readonly ipBase: bigint,
    private readonly ips: Int32Array,
    private readonly entries: Uint8Array,
    readonly version: OrcVersion,
    private readonly littleEndian: boolean,
  ) {}

  get size(): number {
    return this.ips.length;
  }

  static async load(
    memory: VirtualMemory,
    symbols: SymbolTable,
    kernelVersion: readonly [number, number] | undefined,
  ): Promise<OrcTable | string> {
    const startIp = symbols.lookup('__start_orc_unwind_ip')?.address;
    const stopIp = symbols.lookup('__stop_orc_unwind_ip')?.address;
    const start = symbols.lookup('__start_orc_unwind')?.address;
    if (startIp === undefined || stopIp === undefined || start === undefined) {
      return 'the kernel has no built-in ORC tables (__start_orc_unwind_ip not in the symbols)';
    }
    const count = Number((stopIp - startIp) / 4n);
    const hasHeader = symbols.lookup('__start_orc_header') !== undefined;
    const [maj, min] = kernelVersion ?? [0, 0];
    const version: OrcVersion =
      hasHeader || maj > 6 || (maj === 6 && min >= 4) ? 3 : maj === 6 && min === 3 ? 2 : 1;
    return OrcTable.fromTables(memory, startIp, start, count, version);
  }

  /**
   * ORC tables at known addresses: `count` ip offsets (each relative to its own slot) and as many
   * entries, sorted by ip — the kernel image's, or a module's (`mod->arch`, sorted when it loaded).
   */
  static async fromTables(
    memory: VirtualMemory,
    ipTable: bigint,
    entryTable: bigint,
    count: number,
    version: OrcVersion,
  ): Promise<OrcTable | string> {
    if (!(count > 0 && count <= MAX_ENTRIES)) return `implausible ORC table size (${count} entries)`;
    const ipBytes = await readFully(memory, ipTable, count * 4, 'the ORC ip table');
    const entries = await readFully(memory, entryTable, count * 6, 'the ORC entry table');
    const ips = new Int32Array(count);
    const dv = new DataView(ipBytes.buffer, ipBytes.byteOffset, ipBytes.byteLength);
    for (let i = 0; i < count; i++) ips[i] = dv.getInt32(i * 4, memory.littleEndian);
    return new OrcTable(ipTable, ips, entries, version, memory.littleEndian);
  }

  /** ip of table slot i (each entry is relative to its own address). */
  private ipAt(i: number): bigint {
    return BigInt.asUintN(64, this.ipBase + BigInt(i * 4) + BigInt(this.ips[i]!));
  }

  /**
   * Defined entries nearest to `ip` within [low, high): the next ones after it first, then the ones
   * before it. For an ip where ORC says "undefined" (inline asm such as crash_setup_regs), the
   * function's state just after or before the region is the best candidate.
   */
  neighbours(ip: bigint, low: bigint, high: bigint, max = 4): OrcEntry[] {
    const at = this.index(ip);
    const out: OrcEntry[] = [];
    for (let i = at + 1; i < this.ips.length && out.length < max / 2 && this.ipAt(i) < high; i++) {
      const e = decodeOrcEntry(this.entries, i * 6, this.version, this.littleEndian);
      if (e.type !== 'undefined') out.push(e);
    }
    for (let i = at - 1; i >= 0 && out.length < max && this.ipAt(i) >= low; i--) {
      const e = decodeOrcEntry(this.entries, i * 6, this.version, this.littleEndian);
      if (e.type !== 'undefined') out.push(e);
    }
    return out;
  }

  private index(ip: bigint): number {
    let lo = 0;
    let hi = this.ips.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.ipAt(mid) <= ip) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /** The entry covering `ip`: the last one whose ip ≤ ip. */
  lookup(ip: bigint): OrcEntry | undefined {
    const found = this.index(ip);
    if (found < 0) return undefined;
    return decodeOrcEntry(this.entries, found * 6, this.version, this.littleEndian);
  }
}
