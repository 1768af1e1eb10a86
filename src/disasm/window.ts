import type { Symbolizer } from '../symbols/symbolTable';
import type { VirtualMemory } from '../translate/types';
import type { Disassembler, Instruction } from './types';

/** A slot in a disassembly window: an instruction, or a placeholder where memory could not be read. */
export type WindowEntry = Instruction | { address: bigint; invalid: true; text: string; bytes: Uint8Array };

/** How far back we decode from a symbol start to find instruction boundaries. */
const MAX_SYNC_DISTANCE = 0x10000n;
const MAX_WINDOW_BYTES = 1 << 20;

/**
 * Exactly `count` instructions starting `instructionOffset` instructions away from `base` (negative
 * offsets go backwards). On variable-length ISAs, instruction boundaries before `base` are found by
 * decoding forward from the start of the enclosing function (or, without symbols, from the byte
 * alignment that lands on `base`). Unreadable or undecodable stretches become invalid entries.
 */
export async function disassembleWindow(
  memory: VirtualMemory,
  dis: Disassembler,
  symbols: Symbolizer | undefined,
  base: bigint,
  instructionOffset: number,
  count: number,
): Promise<WindowEntry[]> {
  count = Math.max(0, Math.min(count, 10_000));
  const before = Math.max(0, -instructionOffset);
  const after = Math.max(0, instructionOffset + count);
  const fixed = dis.fixedLength;
  if (fixed) {
    const start = base + BigInt(instructionOffset * fixed);
    return decodeRange(memory, dis, start, count);
  }
  // Find a start at or before base that is an instruction boundary and far enough back.
  let sync = await syncPoint(memory, dis, symbols, base, before);
  let list = await decodeRange(memory, dis, sync, 0, base + BigInt((after + 1) * dis.maxLength));
  let at = list.findIndex((i) => i.address === base);
  if (at < 0) {
    // base is not on a boundary reached from the sync point (data, or a jump into an instruction):
    // decode from base itself.
    sync = base;
    list = await decodeRange(memory, dis, base, after + 1);
    at = 0;
  }
  const out: WindowEntry[] = [];
  const first = at + instructionOffset;
  for (let i = first; i < first + count; i++) {
    if (i < 0) {
      // Before anything we could decode: placeholder slots, one byte each, ending before the first.
      const firstAddress = list[0]?.address ?? base;
      out.push(placeholder(firstAddress - BigInt(-i)));
    } else if (i < list.length) out.push(list[i]!);
    else {
      const last = out[out.length - 1];
      const next = last ? last.address + BigInt(Math.max(1, last.bytes.length)) : base;
      out.push(placeholder(next));
    }
  }
  return out;
}

function placeholder(address: bigint): WindowEntry {
  return { address, invalid: true, text: '??', bytes: new Uint8Array(0) };
}

async function syncPoint(
  memory: VirtualMemory,
  dis: Disassembler,
  symbols: Symbolizer | undefined,
  base: bigint,
  before: number,
): Promise<bigint> {
  const want = BigInt((before + 2) * dis.maxLength);
  const loc = symbols?.symbolize(base);
  let start = loc && loc.offset <= MAX_SYNC_DISTANCE ? loc.symbol.address : undefined;
  // Walk back through preceding symbols while the window needs more instructions before base.
  for (let guard = 0; start !== undefined && base - start < want && guard < 64; guard++) {
    const prev = symbols?.symbolize(start - 1n);
    if (!prev || prev.symbol.address >= start || start - prev.symbol.address > MAX_SYNC_DISTANCE) break;
    start = prev.symbol.address;
  }
  if (start !== undefined) return start;
  // No symbol: try each alignment in a window before base and keep the one that lands on base.
  const from = base - want;
  for (let skew = 0n; skew < BigInt(dis.maxLength); skew++) {
    const list = await decodeRange(memory, dis, from + skew, 0, base + 1n);
    if (list.some((i) => i.address === base)) return from + skew;
  }
  return base;
}

/** Decode from `start` until `count` instructions (or until `end` when count is 0). */
async function decodeRange(
  memory: VirtualMemory,
  dis: Disassembler,
  start: bigint,
  count: number,
  end?: bigint,
): Promise<WindowEntry[]> {
  const length = Math.min(
    MAX_WINDOW_BYTES,
    end !== undefined ? Number(end - start) + dis.maxLength : (count + 1) * dis.maxLength,
  );
  if (length <= 0) return [];
  const { bytes, gaps } = await memory.read(start, length);
  // Decode only up to the first unreadable byte.
  const readable = gaps.length > 0 ? gaps[0]!.offset : bytes.length;
  const max = count > 0 ? count : Number.MAX_SAFE_INTEGER;
  const out: WindowEntry[] = dis.decode(bytes.subarray(0, readable), start, max);
  // Drop a last instruction cut off by the end of what we read.
  const last = out[out.length - 1];
  if (
    last &&
    Number(last.address - start) + last.bytes.length >= readable &&
    readable < bytes.length &&
    last.invalid
  )
    out.pop();
  if (end !== undefined) return out.filter((i) => i.address < end);
  return out;
}
