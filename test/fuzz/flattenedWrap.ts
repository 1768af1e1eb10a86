/**
 * Wrap a file image into a makedumpfile flattened stream (`makedumpfile -F`): a 4096-byte header
 * ("makedumpfile" + 4 NULs, s64 type = 1, s64 version = 1, all big-endian), then records
 * {s64 offset, s64 size} + data, then an end marker {-1, -1}. Records may come in any order and may
 * overlap (later records win), as the format allows. Written from the format description
 * (vmcore-formats.md §4.10), for seeds of the fuzzer; nothing in src/ is used.
 */
import type { Rng } from './prng';

export const FLATTENED_HEADER_SIZE = 4096;

export function wrapFlattened(inner: Uint8Array, rng: Rng, maxRecord = 1024): Uint8Array {
  const records: { offset: number; bytes: Uint8Array }[] = [];
  for (let off = 0; off < inner.length; ) {
    const n = Math.min(inner.length - off, 1 + rng.int(maxRecord));
    records.push({ offset: off, bytes: inner.subarray(off, off + n) });
    off += n;
  }
  // Shuffle, then add a few stale records that an earlier position overwrites (later wins).
  for (let i = records.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [records[i], records[j]] = [records[j]!, records[i]!];
  }
  const stale = Math.min(3, records.length);
  for (let i = 0; i < stale; i++) {
    const r = records[rng.int(records.length)]!;
    const garbage = new Uint8Array(r.bytes.length).fill(0xee);
    const at = rng.int(records.length + 1);
    records.splice(at, 0, { offset: r.offset, bytes: garbage });
    // The real data again, after the stale copy.
    records.push(r);
  }
  const total = FLATTENED_HEADER_SIZE + records.reduce((n, r) => n + 16 + r.bytes.length, 0) + 16;
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  out.set(new TextEncoder().encode('makedumpfile'), 0);
  v.setBigInt64(16, 1n, false);
  v.setBigInt64(24, 1n, false);
  let p = FLATTENED_HEADER_SIZE;
  for (const r of records) {
    v.setBigInt64(p, BigInt(r.offset), false);
    v.setBigInt64(p + 8, BigInt(r.bytes.length), false);
    out.set(r.bytes, p + 16);
    p += 16 + r.bytes.length;
  }
  v.setBigInt64(p, -1n, false);
  v.setBigInt64(p + 8, -1n, false);
  return out;
}
