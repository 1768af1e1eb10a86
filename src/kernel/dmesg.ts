/**
 * The kernel log from a dump, from VMCOREINFO alone (no vmlinux): the v5.10+ lockless printk ring
 * buffer, the structured log_buf (v3.5–v5.9) and the legacy character ring (< v3.5). The variant is
 * chosen by which keys VMCOREINFO has: `SYMBOL(prb)` → lockless, `SYMBOL(log_first_idx)` → structured,
 * `SYMBOL(log_end)` → legacy.
 *
 * `formatKernelLog` prints it as `makedumpfile --dump-dmesg` does (and crash's `log`, for these
 * records): `[%5lu.%06lu] ` then the text; a newline inside a record continues on a line indented by
 * the width of that prefix; bytes that are neither printable nor white space as `\xNN`.
 *
 * Every loop is bounded by the ring's own size, so a corrupt ring ends early with a problem noted,
 * never a hang; long logs can be cancelled with an AbortSignal.
 */
import type { VmcoreInfo } from '../dump/vmcoreinfo';
import { readFully, readPointer, readU32, type VirtualMemory } from '../translate/types';

export type KernelLogFormat = 'lockless' | 'structured' | 'legacy';

export interface LogRecord {
  /** Sequence number (lockless ring only). */
  seq?: bigint;
  /** Nanoseconds since boot (local clock); absent for legacy lines. */
  timestampNs?: bigint;
  /** Syslog level 0–7 when the record says it (structured/lockless on the usual layout, legacy `<N>`). */
  level?: number;
  facility?: number;
  /** Raw caller id (CONFIG_PRINTK_CALLER): bit 31 set = CPU number, else thread id. */
  callerId?: number;
  /** The message bytes, without a trailing newline (legacy: the line after its `<N>` prefix). */
  text: Uint8Array;
  /** dev_printk() context (lockless ring), empty strings omitted. */
  subsystem?: string;
  device?: string;
  /** Legacy lines only: the `<N>` prefix as stored ('' when the line has none). */
  legacyPrefix?: string;
}

export interface KernelLog {
  format: KernelLogFormat;
  records: LogRecord[];
  /** What could not be read or looked wrong, said plainly. */
  problems: string[];
}

export class KernelLogError extends Error {
  override readonly name = 'KernelLogError';
}

export interface ReadLogOptions {
  signal?: AbortSignal;
}

/** Largest buffer we read (a log_buf_len of 256 MiB is far beyond any real setting). */
const MAX_LOG_BYTES = 256 * 1024 * 1024;
/** Largest descriptor ring (2^22 records). */
const MAX_COUNT_BITS = 22;
const MAX_SIZE_BITS = 28;
const CHECK_EVERY = 1024;

/** Read the kernel log from kernel virtual memory, using VMCOREINFO to find and decode it. */
export async function readKernelLog(
  mem: VirtualMemory,
  vmcoreinfo: VmcoreInfo | undefined,
  options: ReadLogOptions = {},
): Promise<KernelLog> {
  if (!vmcoreinfo) throw new KernelLogError('the dump has no VMCOREINFO, so the kernel log cannot be found');
  if (vmcoreinfo.symbol('prb') !== undefined) return readLockless(mem, vmcoreinfo, options);
  if (vmcoreinfo.symbol('log_first_idx') !== undefined) return readStructured(mem, vmcoreinfo, options);
  if (vmcoreinfo.symbol('log_end') !== undefined && vmcoreinfo.symbol('log_buf') !== undefined)
    return readLegacy(mem, vmcoreinfo, options);
  throw new KernelLogError(
    'VMCOREINFO names no kernel log: none of SYMBOL(prb) (lockless ring, v5.10+), SYMBOL(log_first_idx) (structured log_buf, v3.5–v5.9) or SYMBOL(log_end) (legacy log_buf)',
  );
}

// ---- helpers -------------------------------------------------------------------------------

function requireKeys(vi: VmcoreInfo, keys: string[], what: string): Map<string, number> {
  const out = new Map<string, number>();
  const missing: string[] = [];
  for (const k of keys) {
    const m = /^(SIZE|OFFSET|LENGTH)\((.+)\)$/.exec(k)!;
    const v = m[1] === 'SIZE' ? vi.size(m[2]!) : m[1] === 'OFFSET' ? vi.offset(m[2]!) : vi.length(m[2]!);
    if (v === undefined) missing.push(k);
    else out.set(k, v);
  }
  if (missing.length > 0)
    throw new KernelLogError(`VMCOREINFO lacks ${missing.join(', ')}, needed to read the ${what}`);
  return out;
}

/** A byte array with the dump's word size and byte order. */
class Fields {
  private readonly dv: DataView;
  constructor(
    readonly bytes: Uint8Array,
    private readonly le: boolean,
    private readonly wordSize: 4 | 8,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u8(o: number): number {
    return this.dv.getUint8(o);
  }
  u16(o: number): number {
    return this.dv.getUint16(o, this.le);
  }
  u32(o: number): number {
    return this.dv.getUint32(o, this.le);
  }
  u64(o: number): bigint {
    return this.dv.getBigUint64(o, this.le);
  }
  word(o: number): bigint {
    return this.wordSize === 8 ? this.dv.getBigUint64(o, this.le) : BigInt(this.dv.getUint32(o, this.le));
  }
}

/** Ranges of a read that are unavailable, for per-record checks. */
class Holes {
  constructor(private readonly gaps: readonly { offset: number; length: number; reason: string }[]) {}
  get any(): boolean {
    return this.gaps.length > 0;
  }
  overlaps(offset: number, length: number): string | undefined {
    for (const g of this.gaps)
      if (offset < g.offset + g.length && offset + length > g.offset) return g.reason;
    return undefined;
  }
}

function cstr(bytes: Uint8Array, offset: number, max: number): string {
  let end = offset;
  while (end < offset + max && end < bytes.length && bytes[end] !== 0) end++;
  return Buffer.from(bytes.subarray(offset, end)).toString('utf8');
}

// ---- lockless ring buffer (v5.10+) -----------------------------------------------------------

const DESC_STATE_COMMITTED = 1n;
const DESC_STATE_FINALIZED = 2n;
const EMPTY_LINE_LPOS = 3n;

async function readLockless(mem: VirtualMemory, vi: VmcoreInfo, options: ReadLogOptions): Promise<KernelLog> {
  const k = requireKeys(
    vi,
    [
      'SIZE(printk_ringbuffer)',
      'OFFSET(printk_ringbuffer.desc_ring)',
      'OFFSET(printk_ringbuffer.text_data_ring)',
      'OFFSET(prb_desc_ring.count_bits)',
      'OFFSET(prb_desc_ring.descs)',
      'OFFSET(prb_desc_ring.infos)',
      'OFFSET(prb_desc_ring.head_id)',
      'OFFSET(prb_desc_ring.tail_id)',
      'SIZE(prb_desc)',
      'OFFSET(prb_desc.state_var)',
      'OFFSET(prb_desc.text_blk_lpos)',
      'OFFSET(prb_data_blk_lpos.begin)',
      'OFFSET(prb_data_blk_lpos.next)',
      'SIZE(printk_info)',
      'OFFSET(printk_info.ts_nsec)',
      'OFFSET(printk_info.text_len)',
      'OFFSET(prb_data_ring.size_bits)',
      'OFFSET(prb_data_ring.data)',
    ],
    'lockless printk ring buffer',
  );
  const get = (key: string) => k.get(key)!;
  const counter = vi.offset('atomic_long_t.counter') ?? 0;
  const ws = mem.wordSize;
  const le = mem.littleEndian;
  const problems: string[] = [];
  const signal = options.signal;

  const rbAddr = await readPointer(mem, vi.symbol('prb')!, 'prb (pointer to the printk ring buffer)');
  const rb = new Fields(
    await readFully(mem, rbAddr, get('SIZE(printk_ringbuffer)'), 'struct printk_ringbuffer'),
    le,
    ws,
  );
  const dr = get('OFFSET(printk_ringbuffer.desc_ring)');
  const tr = get('OFFSET(printk_ringbuffer.text_data_ring)');
  const countBits = rb.u32(dr + get('OFFSET(prb_desc_ring.count_bits)'));
  const sizeBits = rb.u32(tr + get('OFFSET(prb_data_ring.size_bits)'));
  if (countBits > MAX_COUNT_BITS) {
    throw new KernelLogError(
      `the printk descriptor ring claims 2^${countBits} records: corrupt (more than 2^${MAX_COUNT_BITS})`,
    );
  }
  if (sizeBits > MAX_SIZE_BITS || sizeBits < 4) {
    throw new KernelLogError(`the printk text ring claims 2^${sizeBits} bytes: corrupt`);
  }
  const count = 2 ** countBits;
  const size = 2 ** sizeBits;
  const descSize = get('SIZE(prb_desc)');
  const infoSize = get('SIZE(printk_info)');
  const descsAddr = rb.word(dr + get('OFFSET(prb_desc_ring.descs)'));
  const infosAddr = rb.word(dr + get('OFFSET(prb_desc_ring.infos)'));
  const dataAddr = rb.word(tr + get('OFFSET(prb_data_ring.data)'));
  const headId = rb.word(dr + get('OFFSET(prb_desc_ring.head_id)') + counter);
  const tailId = rb.word(dr + get('OFFSET(prb_desc_ring.tail_id)') + counter);
  if (count * Math.max(descSize, infoSize) > MAX_LOG_BYTES)
    throw new KernelLogError('the printk descriptor ring is implausibly large');

  const descRead = await mem.read(descsAddr, count * descSize);
  signal?.throwIfAborted();
  const infoRead = await mem.read(infosAddr, count * infoSize);
  signal?.throwIfAborted();
  const dataRead = await mem.read(dataAddr, size);
  signal?.throwIfAborted();
  const descs = new Fields(descRead.bytes, le, ws);
  const infos = new Fields(infoRead.bytes, le, ws);
  const descHoles = new Holes(descRead.gaps);
  const infoHoles = new Holes(infoRead.gaps);
  const dataHoles = new Holes(dataRead.gaps);
  for (const [h, what] of [
    [descRead.gaps, 'descriptors'],
    [infoRead.gaps, 'record infos'],
    [dataRead.gaps, 'text'],
  ] as const) {
    if (h.length > 0)
      problems.push(
        `part of the printk ${what} is not in the dump (${h[0]!.reason}): records there are missing`,
      );
  }

  const bits = BigInt(ws * 8);
  const idMask = (1n << (bits - 2n)) - 1n;
  const countMask = BigInt(count - 1);
  const sizeMask = BigInt(size - 1);
  const sizeShift = BigInt(sizeBits);
  const stateVarOff = get('OFFSET(prb_desc.state_var)') + counter;
  const lposOff = get('OFFSET(prb_desc.text_blk_lpos)');
  const beginOff = lposOff + get('OFFSET(prb_data_blk_lpos.begin)');
  const nextOff = lposOff + get('OFFSET(prb_data_blk_lpos.next)');
  const tsOff = get('OFFSET(printk_info.ts_nsec)');
  const textLenOff = get('OFFSET(printk_info.text_len)');
  const seqOff = vi.offset('printk_info.seq');
  const callerOff = vi.offset('printk_info.caller_id');
  // facility and flags:5/level:3 follow text_len in every layout so far (not exported): trust them
  // only when caller_id sits right after, as in the kernel's struct printk_info.
  const levelOff = callerOff !== undefined && callerOff === textLenOff + 4 ? textLenOff + 3 : undefined;
  const devOff = vi.offset('printk_info.dev_info');
  const subOff = vi.offset('dev_printk_info.subsystem');
  const subLen = vi.length('printk_info_subsystem');
  const devNameOff = vi.offset('dev_printk_info.device');
  const devNameLen = vi.length('printk_info_device');

  let first = tailId & idMask;
  const last = headId & idMask;
  let n = ((last - first) & idMask) + 1n;
  if (n > BigInt(count)) {
    problems.push(
      `the descriptor ring's tail (${first}) and head (${last}) are ${n} records apart but the ring holds ${count}: reading the last ${count}`,
    );
    first = (last - BigInt(count) + 1n) & idMask;
    n = BigInt(count);
  }
  const records: LogRecord[] = [];
  let skippedBadBlocks = 0;
  let missing = 0;
  let id = first;
  for (let i = 0; i < Number(n); i++, id = (id + 1n) & idMask) {
    if (i % CHECK_EVERY === 0) signal?.throwIfAborted();
    const idx = Number(id & countMask);
    const d = idx * descSize;
    if (descHoles.overlaps(d, descSize) || infoHoles.overlaps(idx * infoSize, infoSize)) {
      missing++;
      continue;
    }
    const sv = descs.word(d + stateVarOff);
    const state = sv >> (bits - 2n);
    if ((sv & idMask) !== id || (state !== DESC_STATE_COMMITTED && state !== DESC_STATE_FINALIZED)) continue;
    const begin = descs.word(d + beginOff);
    const next = descs.word(d + nextOff);
    const inf = idx * infoSize;
    let text: Uint8Array;
    if (begin & 1n || next & 1n) {
      // Data-less: only the "empty line" marker stands for a (blank) message; anything else was lost.
      if (begin !== EMPTY_LINE_LPOS || next !== EMPTY_LINE_LPOS) continue;
      text = new Uint8Array(0);
    } else {
      let start: number;
      let len: number;
      if (begin >> sizeShift === next >> sizeShift) {
        start = Number(begin & sizeMask);
        len = Number(next - begin);
      } else if ((begin >> sizeShift) + 1n === next >> sizeShift) {
        start = 0; // a block that would wrap is stored whole at the start of the ring
        len = Number(next & sizeMask);
      } else {
        skippedBadBlocks++;
        continue;
      }
      if (len <= ws || start + len > size) {
        if (len !== 0) skippedBadBlocks++;
        continue;
      }
      const textLen = Math.min(infos.u16(inf + textLenOff), len - ws);
      if (dataHoles.overlaps(start + ws, textLen)) {
        missing++;
        continue;
      }
      text = dataRead.bytes.slice(start + ws, start + ws + textLen);
    }
    const rec: LogRecord = { timestampNs: infos.u64(inf + tsOff), text };
    if (seqOff !== undefined) rec.seq = infos.u64(inf + seqOff);
    if (callerOff !== undefined) rec.callerId = infos.u32(inf + callerOff);
    if (levelOff !== undefined) {
      const b = infos.u8(levelOff + inf);
      rec.level = le ? b >> 5 : b & 7;
      rec.facility = infos.u8(inf + textLenOff + 2);
    }
    if (devOff !== undefined) {
      if (subOff !== undefined && subLen !== undefined) {
        const s = cstr(infoRead.bytes, inf + devOff + subOff, subLen);
        if (s) rec.subsystem = s;
      }
      if (devNameOff !== undefined && devNameLen !== undefined) {
        const s = cstr(infoRead.bytes, inf + devOff + devNameOff, devNameLen);
        if (s) rec.device = s;
      }
    }
    records.push(rec);
  }
  if (skippedBadBlocks > 0)
    problems.push(`${skippedBadBlocks} records point at impossible text blocks (skipped)`);
  if (missing > 0) problems.push(`${missing} records are not in the dump`);
  return { format: 'lockless', records, problems };
}

// ---- structured log_buf (v3.5 – v5.9) ------------------------------------------------------

async function readStructured(
  mem: VirtualMemory,
  vi: VmcoreInfo,
  options: ReadLogOptions,
): Promise<KernelLog> {
  // The record struct was `struct log` before v3.11, `struct printk_log` after.
  const struct = vi.size('printk_log') !== undefined ? 'printk_log' : 'log';
  const k = requireKeys(
    vi,
    [`SIZE(${struct})`, `OFFSET(${struct}.ts_nsec)`, `OFFSET(${struct}.len)`, `OFFSET(${struct}.text_len)`],
    'structured log buffer',
  );
  const missing = ['log_buf', 'log_buf_len', 'log_next_idx'].filter((s) => vi.symbol(s) === undefined);
  if (missing.length > 0)
    throw new KernelLogError(
      `VMCOREINFO lacks ${missing.map((s) => `SYMBOL(${s})`).join(', ')}, needed to read the structured log buffer`,
    );
  const hdr = k.get(`SIZE(${struct})`)!;
  const tsOff = k.get(`OFFSET(${struct}.ts_nsec)`)!;
  const lenOff = k.get(`OFFSET(${struct}.len)`)!;
  const textLenOff = k.get(`OFFSET(${struct}.text_len)`)!;
  const callerOff = vi.offset(`${struct}.caller_id`);
  const problems: string[] = [];
  const le = mem.littleEndian;

  const bufAddr = await readPointer(mem, vi.symbol('log_buf')!, 'log_buf');
  const bufLen = await readU32(mem, vi.symbol('log_buf_len')!, 'log_buf_len');
  const firstIdx = await readU32(mem, vi.symbol('log_first_idx')!, 'log_first_idx');
  const nextIdx = await readU32(mem, vi.symbol('log_next_idx')!, 'log_next_idx');
  if (bufLen === 0 || bufLen > MAX_LOG_BYTES) throw new KernelLogError(`log_buf_len is ${bufLen}: corrupt`);
  if (hdr < 16 || hdr > 256)
    throw new KernelLogError(`SIZE(${struct})=${hdr} is not a plausible record header size`);
  const { bytes, gaps } = await mem.read(bufAddr, bufLen);
  options.signal?.throwIfAborted();
  const holes = new Holes(gaps);
  if (holes.any)
    problems.push(`part of log_buf is not in the dump (${gaps[0]!.reason}): records there are missing`);
  const f = new Fields(bytes, le, mem.wordSize);
  // facility u8 and flags:5/level:3 follow dict_len in the usual layout (ts 0, len 8, text_len 10, dict_len 12).
  const levelOff = tsOff === 0 && lenOff === 8 && textLenOff === 10 ? 15 : undefined;

  const records: LogRecord[] = [];
  let idx = firstIdx;
  let wrapped = false;
  let missingCount = 0;
  const maxRecords = Math.floor(bufLen / 8) + 2;
  for (let i = 0; idx !== nextIdx; i++) {
    if (i % CHECK_EVERY === 0) options.signal?.throwIfAborted();
    if (i > maxRecords) {
      problems.push('the log buffer does not lead from log_first_idx to log_next_idx: stopped (corrupt)');
      break;
    }
    if (idx + hdr > bufLen || holes.overlaps(idx, hdr)) {
      problems.push(
        `a record at offset ${idx} of log_buf ${idx + hdr > bufLen ? 'runs past the buffer' : 'is not in the dump'}: stopped`,
      );
      break;
    }
    const len = f.u16(idx + lenOff);
    if (len === 0) {
      // A zero length marks the end of the buffer: the next record is at the start.
      if (wrapped || idx === 0) {
        problems.push('the log buffer wraps twice: stopped (corrupt)');
        break;
      }
      wrapped = true;
      idx = 0;
      continue;
    }
    if (len < hdr || idx + len > bufLen) {
      problems.push(`a record at offset ${idx} of log_buf has length ${len}: stopped (corrupt)`);
      break;
    }
    const textLen = Math.min(f.u16(idx + textLenOff), len - hdr);
    if (holes.overlaps(idx + hdr, textLen)) missingCount++;
    else {
      const rec: LogRecord = {
        timestampNs: f.u64(idx + tsOff),
        text: bytes.slice(idx + hdr, idx + hdr + textLen),
      };
      if (levelOff !== undefined) {
        const b = f.u8(idx + levelOff);
        rec.level = le ? b >> 5 : b & 7;
        rec.facility = f.u8(idx + levelOff - 1);
      }
      if (callerOff !== undefined && callerOff + 4 <= hdr) rec.callerId = f.u32(idx + callerOff);
      records.push(rec);
    }
    idx += len;
  }
  if (missingCount > 0) problems.push(`${missingCount} records are not in the dump`);
  return { format: 'structured', records, problems };
}

// ---- legacy character ring (< v3.5) ------------------------------------------------------------

async function readLegacy(mem: VirtualMemory, vi: VmcoreInfo, options: ReadLogOptions): Promise<KernelLog> {
  if (vi.symbol('log_buf_len') === undefined)
    throw new KernelLogError('VMCOREINFO lacks SYMBOL(log_buf_len), needed to read the legacy log buffer');
  const bufAddr = await readPointer(mem, vi.symbol('log_buf')!, 'log_buf');
  const bufLen = await readU32(mem, vi.symbol('log_buf_len')!, 'log_buf_len');
  const logEnd = await readU32(mem, vi.symbol('log_end')!, 'log_end');
  if (bufLen === 0 || bufLen > MAX_LOG_BYTES) throw new KernelLogError(`log_buf_len is ${bufLen}: corrupt`);
  const problems: string[] = [];
  const { bytes, gaps } = await mem.read(bufAddr, bufLen);
  options.signal?.throwIfAborted();
  if (gaps.length > 0) problems.push(`part of log_buf is not in the dump (${gaps[0]!.reason})`);
  // As makedumpfile: the buffer up to log_end until it first fills, then the whole ring from log_end.
  let text: Uint8Array;
  if (logEnd < bufLen) text = bytes.subarray(0, logEnd);
  else {
    const at = (bufLen & (bufLen - 1)) === 0 ? logEnd & (bufLen - 1) : logEnd % bufLen;
    text = new Uint8Array(bufLen);
    text.set(bytes.subarray(at), 0);
    text.set(bytes.subarray(0, at), bufLen - at);
  }
  const records: LogRecord[] = [];
  let start = 0;
  for (let i = 0; start < text.length; i++) {
    if (i % CHECK_EVERY === 0) options.signal?.throwIfAborted();
    let end = text.indexOf(0x0a, start);
    if (end < 0) end = text.length;
    records.push(legacyRecord(text.slice(start, end)));
    start = end + 1;
  }
  return { format: 'legacy', records, problems };
}

function legacyRecord(line: Uint8Array): LogRecord {
  const rec: LogRecord = { text: line, legacyPrefix: '' };
  const head = Buffer.from(line.subarray(0, 40)).toString('latin1');
  const m = /^<(\d{1,3})>/.exec(head);
  let rest = head;
  if (m) {
    const v = Number(m[1]);
    rec.level = v & 7;
    rec.facility = v >> 3;
    rec.legacyPrefix = m[0];
    rec.text = line.slice(m[0].length);
    rest = head.slice(m[0].length);
  }
  const t = /^\[\s*(\d+)\.(\d{6})\]/.exec(rest);
  if (t) rec.timestampNs = BigInt(t[1]!) * 1_000_000_000n + BigInt(t[2]!) * 1000n;
  return rec;
}

// ---- formatting --------------------------------------------------------------------------------

export interface FormatOptions {
  /**
   * `makedumpfile` (default): makedumpfile --dump-dmesg / crash `log`: continuation lines indented to
   * the text column, unprintable bytes as `\xNN`. `plain`: drgn's style, text decoded as UTF-8 and
   * continuation lines not indented.
   */
  style?: 'makedumpfile' | 'plain';
  /** Add the caller id after the timestamp as the kernel console does (`[  T123] `, `[    C1] `). */
  callerId?: boolean;
  /**
   * makedumpfile built for x86 (signed `char`) prints bytes ≥ 0x80 as `\xffffffNN`; the default is the
   * byte value (`\xNN`), as makedumpfile on arm64 prints it.
   */
  signExtendEscapes?: boolean;
}

/** `[%5lu.%06lu] ` as makedumpfile, crash and drgn print it. */
export function formatTimestamp(ns: bigint): string {
  let sec: string;
  let usec: string;
  if (ns <= MAX_SAFE_NS) {
    // Number arithmetic: BigInt division per record was most of the time of formatting a log.
    const n = Number(ns);
    sec = Math.floor(n / 1e9).toString();
    usec = Math.floor((n % 1e9) / 1000).toString();
  } else {
    sec = (ns / 1_000_000_000n).toString();
    usec = ((ns % 1_000_000_000n) / 1000n).toString();
  }
  return `[${sec.padStart(5, ' ')}.${usec.padStart(6, '0')}] `;
}

const MAX_SAFE_NS = BigInt(Number.MAX_SAFE_INTEGER);

/** The caller id as the kernel prints it with CONFIG_PRINTK_CALLER: `T<pid>` or `C<cpu>`. */
export function formatCallerId(id: number): string {
  return id & 0x80000000 ? `C${id & 0x7fffffff}` : `T${id}`;
}

/** The record's text as a string (UTF-8, invalid bytes replaced). */
export function recordText(r: LogRecord): string {
  return Buffer.from(r.text.buffer, r.text.byteOffset, r.text.byteLength).toString('utf8');
}

function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

function isPrintOrSpace(c: number): boolean {
  return (c >= 0x20 && c < 0x7f) || (c >= 0x09 && c <= 0x0d);
}

/** One record as output lines. */
export function formatRecord(r: LogRecord, options: FormatOptions = {}): string[] {
  if (r.legacyPrefix !== undefined || r.timestampNs === undefined) {
    // Legacy lines are printed as stored (prefix, timestamp and all), as makedumpfile does.
    return [(r.legacyPrefix ?? '') + latin1(r.text)];
  }
  let prefix = formatTimestamp(r.timestampNs);
  if (options.callerId && r.callerId !== undefined)
    prefix += `[${formatCallerId(r.callerId).padStart(6, ' ')}] `;
  if (options.style === 'plain') return (prefix + recordText(r)).split('\n');
  const indent = ' '.repeat(prefix.length);
  const lines: string[] = [];
  let cur = prefix;
  const t = r.text;
  let runStart = 0;
  const flush = (end: number) => {
    if (end > runStart) cur += latin1(t.subarray(runStart, end));
  };
  for (let i = 0; i < t.length; i++) {
    const c = t[i]!;
    if (c === 0x0a) {
      flush(i);
      lines.push(cur);
      cur = indent;
      runStart = i + 1;
    } else if (!isPrintOrSpace(c)) {
      flush(i);
      const hex = c.toString(16).padStart(2, '0');
      cur += c >= 0x80 && options.signExtendEscapes ? `\\xffffff${hex}` : `\\x${hex}`;
      runStart = i + 1;
    } else if (i - runStart >= 4096) {
      flush(i);
      runStart = i;
    }
  }
  flush(t.length);
  lines.push(cur);
  return lines;
}

/** The whole log as lines, in the chosen style (default: makedumpfile --dump-dmesg). */
export function formatKernelLog(log: KernelLog, options: FormatOptions = {}): string[] {
  const out: string[] = [];
  for (const r of log.records) for (const l of formatRecord(r, options)) out.push(l);
  return out;
}

// ---- the panic message ---------------------------------------------------------------------------

export interface PanicMessage {
  /** `Kernel panic - not syncing: …`, or the Oops/BUG line when the kernel crashed without panic(). */
  message: string;
  /** Index of the record it came from. */
  record: number;
  kind: 'panic' | 'oops';
}

const PANIC_PREFIX = 'Kernel panic - not syncing';
/** Lines that start an oops or BUG report, most specific first. */
const OOPS_PATTERNS = [
  /^BUG: .*/,
  /^kernel BUG at .*/,
  /^Unable to handle kernel .*/,
  /^general protection fault.*/,
  /^Internal error: .*/,
  /^Oops: .*/,
  /^Oops.*/,
];

/**
 * The panic message from the log: the last `Kernel panic - not syncing: …` line, else the first line
 * that starts an Oops/BUG report. Undefined when the kernel did not crash (a live snapshot).
 */
export function findPanicMessage(log: KernelLog): PanicMessage | undefined {
  const lineOf = (r: LogRecord) => recordText(r).split('\n');
  for (let i = log.records.length - 1; i >= 0; i--) {
    for (const line of lineOf(log.records[i]!)) {
      const at = line.indexOf(PANIC_PREFIX);
      if (at >= 0) return { message: line.slice(at).trimEnd(), record: i, kind: 'panic' };
    }
  }
  for (const pattern of OOPS_PATTERNS) {
    for (let i = 0; i < log.records.length; i++) {
      for (const raw of lineOf(log.records[i]!)) {
        const line = log.format === 'legacy' ? raw.replace(/^\[\s*\d+\.\d+\]\s*/, '') : raw;
        const m = pattern.exec(line);
        if (m) return { message: m[0].trimEnd(), record: i, kind: 'oops' };
      }
    }
  }
  return undefined;
}

/**
 * The CPU named by the `CPU: N PID: …` line the kernel prints (dump_stack) right after the panic or
 * oops line: a fallback for finding the panic CPU when `panic_cpu` cannot be read.
 */
export function panicCpuFromLog(
  log: KernelLog,
  panic: PanicMessage | undefined = findPanicMessage(log),
): number | undefined {
  if (!panic) return undefined;
  const last = Math.min(log.records.length, panic.record + 40);
  for (let i = panic.record; i < last; i++) {
    const text = recordText(log.records[i]!);
    const line = log.format === 'legacy' ? text.replace(/^\[\s*\d+\.\d+\]\s*/, '') : text;
    const m = /^CPU: (\d+) (?:UID: \d+ )?PID: \d+ /.exec(line);
    if (m) return Number(m[1]);
  }
  return undefined;
}
