/**
 * Builds the kernel's three log formats in test memory, the way the kernel writes them (from
 * kernel/printk/printk_ringbuffer.{c,h} and printk.c as documented in docs/vmcore-formats.md §5):
 * the lockless ring (descriptor ring + text data ring with wrapping blocks, records overwritten as
 * the rings fill), the structured log_buf (records with a zero-length wrap marker, oldest records
 * dropped as space is needed) and the legacy character ring. Returns the VMCOREINFO text with it.
 */
import { Bytes, TestVirtualMemory } from './virtualMemory';

export interface TestRecord {
  ts: bigint;
  text: string | Uint8Array;
  level?: number;
  facility?: number;
  callerId?: number;
  subsystem?: string;
  device?: string;
  /** Descriptor state to store (default finalized). */
  state?: 'reserved' | 'committed' | 'finalized' | 'reusable';
  /** Store a data-less record: FAILED_LPOS (lost) or EMPTY_LINE_LPOS (blank line). */
  dataless?: 'failed' | 'empty';
  /** Store a state_var whose ID is not the record's. */
  wrongId?: boolean;
}

const enc = (t: string | Uint8Array) => (typeof t === 'string' ? new TextEncoder().encode(t) : t);

export interface LocklessOptions {
  wordSize?: 4 | 8;
  littleEndian?: boolean;
  countBits: number;
  sizeBits: number;
  /** First descriptor ID (the kernel starts just below the wrap point of the ID space). */
  firstId?: bigint;
  /** Leave the text ring unmapped (not in the dump). */
  unmapText?: boolean;
  /** Override head/tail ids after building. */
  headId?: bigint;
  tailId?: bigint;
}

export interface BuiltLog {
  memory: TestVirtualMemory;
  vmcoreinfo: string;
  /** Records that survive in the rings, oldest first (what a reader must print). */
  surviving: TestRecord[];
}

const PRB_PTR = 0xffff_ffff_8300_0000n;
const RB = 0xffff_ffff_8300_1000n;
const DESCS = 0xffff_ffff_8310_0000n;
const INFOS = 0xffff_ffff_8320_0000n;
const DATA = 0xffff_ffff_8340_0000n;

export function buildLockless(records: TestRecord[], o: LocklessOptions): BuiltLog {
  const ws = o.wordSize ?? 8;
  const le = o.littleEndian ?? true;
  const bits = BigInt(ws * 8);
  const idMask = (1n << (bits - 2n)) - 1n;
  const count = 1 << o.countBits;
  const size = 1 << o.sizeBits;
  const addr = (a: bigint) => (ws === 8 ? a : a & 0xffff_ffffn);
  // Layout (64-bit values as in a 6.1 kernel; 32-bit with 4-byte longs).
  const L =
    ws === 8
      ? {
          descRing: 0,
          countBits: 0,
          descs: 8,
          infos: 16,
          head: 24,
          tail: 32,
          textRing: 48,
          sizeBits: 0,
          data: 8,
          rbSize: 88,
          descSize: 24,
          lpos: 8,
          begin: 0,
          next: 8,
        }
      : {
          descRing: 0,
          countBits: 0,
          descs: 4,
          infos: 8,
          head: 12,
          tail: 16,
          textRing: 24,
          sizeBits: 0,
          data: 4,
          rbSize: 44,
          descSize: 12,
          lpos: 4,
          begin: 0,
          next: 4,
        };
  const infoSize = 88;
  const descs = new Bytes(count * L.descSize, le);
  const infos = new Bytes(count * infoSize, le);
  const data = new Bytes(size, le);

  interface Live {
    id: bigint;
    rec: TestRecord;
    begin: bigint;
    next: bigint;
  }
  const live: Live[] = [];
  let id = o.firstId ?? (idMask - 3n) & idMask;
  let lpos = 0n;
  const invalidate = (pred: (l: Live) => boolean) => {
    for (let i = live.length - 1; i >= 0; i--) {
      const old = live[i]!;
      if (!pred(old)) continue;
      live.splice(i, 1);
      const d = Number(old.id & BigInt(count - 1)) * L.descSize;
      descs.word(d, (3n << (bits - 2n)) | old.id, ws); // reusable
    }
  };
  let seq = 0n;
  for (const rec of records) {
    // Reusing a descriptor slot frees the record that had it.
    invalidate((l) => (l.id & BigInt(count - 1)) === (id & BigInt(count - 1)));
    const text = enc(rec.text);
    let begin: bigint;
    let next: bigint;
    if (rec.dataless) {
      begin = next = rec.dataless === 'failed' ? 1n : 3n;
    } else {
      const blk = BigInt(Math.ceil((ws + text.length) / ws) * ws);
      begin = lpos;
      const idx = Number(begin & BigInt(size - 1));
      let at: number;
      if (idx + Number(blk) > size) {
        next = ((begin >> BigInt(o.sizeBits)) + 1n) * BigInt(size) + blk;
        at = 0;
      } else {
        next = begin + blk;
        at = idx;
      }
      // Text that is overwritten frees the records whose blocks it covers.
      invalidate((l) => !(l.begin & 1n) && l.begin < next - BigInt(size));
      data.word(at, id, ws);
      data.bytes.set(text, at + ws);
      lpos = next;
    }
    const d = Number(id & BigInt(count - 1)) * L.descSize;
    const state = { reserved: 0n, committed: 1n, finalized: 2n, reusable: 3n }[rec.state ?? 'finalized'];
    descs.word(d, (state << (bits - 2n)) | (rec.wrongId ? (id + 7n) & idMask : id), ws);
    descs.word(d + L.lpos + L.begin, begin, ws);
    descs.word(d + L.lpos + L.next, next, ws);
    const inf = Number(id & BigInt(count - 1)) * infoSize;
    infos
      .u64(inf, seq++)
      .u64(inf + 8, rec.ts)
      .u16(inf + 16, text.length)
      .u8(inf + 18, rec.facility ?? 0);
    infos.u8(inf + 19, le ? (rec.level ?? 6) << 5 : (rec.level ?? 6) & 7);
    infos.u32(inf + 20, rec.callerId ?? 0);
    if (rec.subsystem) infos.ascii(inf + 24, rec.subsystem);
    if (rec.device) infos.ascii(inf + 24 + 16, rec.device);
    live.push({ id, rec, begin, next });
    id = (id + 1n) & idMask;
  }
  const head = o.headId ?? (id - 1n) & idMask;
  const tail = o.tailId ?? (live.length > 0 ? live[0]!.id : id);

  const rb = new Bytes(L.rbSize, le);
  rb.u32(L.descRing + L.countBits, o.countBits)
    .word(L.descRing + L.descs, addr(DESCS), ws)
    .word(L.descRing + L.infos, addr(INFOS), ws)
    .word(L.descRing + L.head, head, ws)
    .word(L.descRing + L.tail, tail, ws)
    .u32(L.textRing + L.sizeBits, o.sizeBits)
    .word(L.textRing + L.data, addr(DATA), ws);
  const ptr = new Bytes(ws, le).word(0, addr(RB), ws);
  const memory = new TestVirtualMemory(ws, le)
    .map(addr(PRB_PTR), ptr.bytes)
    .map(addr(RB), rb.bytes)
    .map(addr(DESCS), descs.bytes)
    .map(addr(INFOS), infos.bytes);
  if (!o.unmapText) memory.map(addr(DATA), data.bytes);
  const vmcoreinfo = [
    `SYMBOL(prb)=${addr(PRB_PTR).toString(16)}`,
    `SIZE(printk_ringbuffer)=${L.rbSize}`,
    `OFFSET(printk_ringbuffer.desc_ring)=${L.descRing}`,
    `OFFSET(printk_ringbuffer.text_data_ring)=${L.textRing}`,
    `OFFSET(prb_desc_ring.count_bits)=${L.countBits}`,
    `OFFSET(prb_desc_ring.descs)=${L.descs}`,
    `OFFSET(prb_desc_ring.infos)=${L.infos}`,
    `OFFSET(prb_desc_ring.head_id)=${L.head}`,
    `OFFSET(prb_desc_ring.tail_id)=${L.tail}`,
    `SIZE(prb_desc)=${L.descSize}`,
    'OFFSET(prb_desc.state_var)=0',
    `OFFSET(prb_desc.text_blk_lpos)=${L.lpos}`,
    `SIZE(prb_data_blk_lpos)=${2 * ws}`,
    `OFFSET(prb_data_blk_lpos.begin)=${L.begin}`,
    `OFFSET(prb_data_blk_lpos.next)=${L.next}`,
    `SIZE(printk_info)=${infoSize}`,
    'OFFSET(printk_info.seq)=0',
    'OFFSET(printk_info.ts_nsec)=8',
    'OFFSET(printk_info.text_len)=16',
    'OFFSET(printk_info.caller_id)=20',
    'OFFSET(printk_info.dev_info)=24',
    'SIZE(dev_printk_info)=64',
    'OFFSET(dev_printk_info.subsystem)=0',
    'LENGTH(printk_info_subsystem)=16',
    'OFFSET(dev_printk_info.device)=16',
    'LENGTH(printk_info_device)=48',
    `OFFSET(prb_data_ring.size_bits)=${L.sizeBits}`,
    `OFFSET(prb_data_ring.data)=${L.data}`,
    `SIZE(atomic_long_t)=${ws}`,
    'OFFSET(atomic_long_t.counter)=0',
  ].join('\n');
  const surviving = live
    .filter(
      (l) =>
        !l.rec.wrongId &&
        (l.rec.state ?? 'finalized') !== 'reserved' &&
        l.rec.state !== 'reusable' &&
        l.rec.dataless !== 'failed',
    )
    .map((l) => l.rec);
  return { memory, vmcoreinfo: `OSRELEASE=6.1.0\n${vmcoreinfo}\n`, surviving };
}

// ---- structured log_buf (v3.5–v5.9) ----------------------------------------------------------

const LOG_BUF_PTR = 0xffff_ffff_8400_0000n;
const LOG_BUF_LEN = 0xffff_ffff_8400_0010n;
const FIRST_IDX = 0xffff_ffff_8400_0020n;
const NEXT_IDX = 0xffff_ffff_8400_0030n;
const LOG_BUF = 0xffff_ffff_8410_0000n;

export interface StructuredOptions {
  bufLen: number;
  littleEndian?: boolean;
  /** Name the record struct `log` (kernels before v3.11) instead of `printk_log`. */
  oldName?: boolean;
  /** Corrupt the buffer after building. */
  corrupt?: (
    buf: Bytes,
    firstIdx: number,
    nextIdx: number,
  ) => { firstIdx?: number; nextIdx?: number } | undefined;
}

export function buildStructured(records: TestRecord[], o: StructuredOptions): BuiltLog {
  const le = o.littleEndian ?? true;
  const HDR = 16;
  const buf = new Bytes(o.bufLen, le);
  interface Live {
    at: number;
    len: number;
    rec: TestRecord;
  }
  const live: Live[] = [];
  let next = 0;
  let first = 0;
  for (const rec of records) {
    const text = enc(rec.text);
    const len = Math.ceil((HDR + text.length) / 8) * 8;
    let at = next;
    if (at + len + HDR > o.bufLen) {
      // Not enough room (with a header to spare) before the end: a zero-length header marks the
      // wrap and the record goes at 0; older records past the marker are gone.
      buf.bytes.fill(0, at, at + HDR);
      while (live.length > 0 && live[0]!.at >= at) live.shift();
      at = 0;
    }
    // The oldest records that the new one overwrites are dropped.
    while (live.length > 0 && live[0]!.at < at + len && live[0]!.at + live[0]!.len > at) live.shift();
    buf
      .u64(at, rec.ts)
      .u16(at + 8, len)
      .u16(at + 10, text.length)
      .u16(at + 12, 0)
      .u8(at + 14, rec.facility ?? 0);
    buf.u8(at + 15, le ? (rec.level ?? 6) << 5 : (rec.level ?? 6) & 7);
    buf.bytes.set(text, at + HDR);
    live.push({ at, len, rec });
    next = at + len;
    first = live[0]!.at;
  }
  let firstIdx = first;
  let nextIdx = next;
  const fix = o.corrupt?.(buf, firstIdx, nextIdx);
  if (fix?.firstIdx !== undefined) firstIdx = fix.firstIdx;
  if (fix?.nextIdx !== undefined) nextIdx = fix.nextIdx;
  const memory = new TestVirtualMemory(8, le)
    .map(LOG_BUF_PTR, new Bytes(8, le).u64(0, LOG_BUF).bytes)
    .map(LOG_BUF_LEN, new Bytes(4, le).u32(0, o.bufLen).bytes)
    .map(FIRST_IDX, new Bytes(4, le).u32(0, firstIdx).bytes)
    .map(NEXT_IDX, new Bytes(4, le).u32(0, nextIdx).bytes)
    .map(LOG_BUF, buf.bytes);
  const s = o.oldName ? 'log' : 'printk_log';
  const vmcoreinfo = [
    'OSRELEASE=4.19.0',
    `SYMBOL(log_buf)=${LOG_BUF_PTR.toString(16)}`,
    `SYMBOL(log_buf_len)=${LOG_BUF_LEN.toString(16)}`,
    `SYMBOL(log_first_idx)=${FIRST_IDX.toString(16)}`,
    'SYMBOL(clear_idx)=ffffffff84000040',
    `SYMBOL(log_next_idx)=${NEXT_IDX.toString(16)}`,
    `SIZE(${s})=16`,
    `OFFSET(${s}.ts_nsec)=0`,
    `OFFSET(${s}.len)=8`,
    `OFFSET(${s}.text_len)=10`,
    `OFFSET(${s}.dict_len)=12`,
  ].join('\n');
  return { memory, vmcoreinfo: `${vmcoreinfo}\n`, surviving: live.map((l) => l.rec) };
}

// ---- legacy character ring (< v3.5) -------------------------------------------------------------

const LOG_END = 0xffff_ffff_8400_0040n;
const LOGGED_CHARS = 0xffff_ffff_8400_0050n;

export function buildLegacy(text: string, bufLen: number): { memory: TestVirtualMemory; vmcoreinfo: string } {
  const buf = new Uint8Array(bufLen);
  const bytes = new TextEncoder().encode(text);
  for (let i = 0; i < bytes.length; i++) buf[i % bufLen] = bytes[i]!;
  const memory = new TestVirtualMemory(8, true)
    .map(LOG_BUF_PTR, new Bytes(8).u64(0, LOG_BUF).bytes)
    .map(LOG_BUF_LEN, new Bytes(4).u32(0, bufLen).bytes)
    .map(LOG_END, new Bytes(4).u32(0, bytes.length).bytes)
    .map(LOGGED_CHARS, new Bytes(4).u32(0, Math.min(bytes.length, bufLen)).bytes)
    .map(LOG_BUF, buf);
  const vmcoreinfo = [
    'OSRELEASE=2.6.32',
    `SYMBOL(log_buf)=${LOG_BUF_PTR.toString(16)}`,
    `SYMBOL(log_buf_len)=${LOG_BUF_LEN.toString(16)}`,
    `SYMBOL(log_end)=${LOG_END.toString(16)}`,
    `SYMBOL(logged_chars)=${LOGGED_CHARS.toString(16)}`,
  ].join('\n');
  return { memory, vmcoreinfo: `${vmcoreinfo}\n` };
}
