/**
 * makedumpfile's flattened format (`-F`; also QEMU's non-raw kdump output): a 4 KiB header
 * (`makedumpfile` + NULs, type 1, version 1, big endian), then records `{s64 offset; s64 size}`
 * (big endian on every architecture) each followed by `size` bytes that belong at `offset` of the
 * reassembled file, then an end marker `{-1, -1}`. Records are not sorted and later ones overwrite
 * earlier ones (`makedumpfile -R` writes them in order).
 *
 * This reads the reassembled image in place: the record headers are scanned once, streaming, into a
 * sorted, disjoint interval index (later records win), and reads are served from the stream.
 */
import { corrupt, DumpError } from './errors';
import type { ByteSource, ReadHint } from './source';
import type { DumpProblem } from './types';

export const FLATTENED_HEADER_SIZE = 4096;
const SIGNATURE = 'makedumpfile';
const TYPE_FLAT_HEADER = 1n;
const VERSION_FLAT_HEADER = 1n;
const RECORD_HEADER_SIZE = 16;
/** The scan reads the stream in windows of this size (bounded memory however big the stream). */
const SCAN_WINDOW = 1 << 20;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A growable list of number triples, kept in typed arrays (millions of records stay compact). */
class TripleList {
  a = new Float64Array(64);
  b = new Float64Array(64);
  c = new Float64Array(64);
  length = 0;
  push(x: number, y: number, z: number): void {
    if (this.length === this.a.length) {
      const grow = (arr: Float64Array) => {
        const next = new Float64Array(arr.length * 2);
        next.set(arr);
        return next;
      };
      this.a = grow(this.a);
      this.b = grow(this.b);
      this.c = grow(this.c);
    }
    this.a[this.length] = x;
    this.b[this.length] = y;
    this.c[this.length] = z;
    this.length++;
  }
  trim(): void {
    this.a = this.a.slice(0, this.length);
    this.b = this.b.slice(0, this.length);
    this.c = this.c.slice(0, this.length);
  }
}

/** The reassembled image of a flattened stream, read in place. */
export class FlattenedSource implements ByteSource {
  readonly name: string;
  /** Size of the reassembled image: the end of the last byte any record supplies. */
  readonly size: number;
  /** Bytes the records supply; the rest of the image is holes. */
  readonly storedBytes: number;

  constructor(
    private readonly stream: ByteSource,
    /** Disjoint pieces sorted by image offset: start, end (exclusive), stream offset of `start`. */
    private readonly starts: Float64Array,
    private readonly ends: Float64Array,
    private readonly sources: Float64Array,
    /** What is wrong with the stream (cut short, a partial record), said plainly. */
    readonly problems: readonly DumpProblem[],
    readonly details: Readonly<Record<string, string | number | boolean>>,
  ) {
    this.name = stream.name;
    this.size = ends.length > 0 ? ends[ends.length - 1]! : 0;
    let stored = 0;
    for (let i = 0; i < starts.length; i++) stored += ends[i]! - starts[i]!;
    this.storedBytes = stored;
  }

  /** Number of disjoint pieces of the image the index holds. */
  get pieces(): number {
    return this.starts.length;
  }

  /** Index of the last piece starting at or before `offset`, or -1. */
  private find(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid]! <= offset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  async read(offset: number, length: number, hint?: ReadHint): Promise<Uint8Array> {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new RangeError(`bad read range ${offset}+${length}`);
    }
    const end = Math.min(this.size, offset + length);
    if (end <= offset) return new Uint8Array(0);
    const out = new Uint8Array(end - offset);
    let i = this.find(offset);
    let cur = offset;
    while (cur < end) {
      if (i >= 0 && cur < this.ends[i]!) {
        const stop = Math.min(end, this.ends[i]!);
        const bytes = await this.stream.read(this.sources[i]! + (cur - this.starts[i]!), stop - cur, hint);
        out.set(bytes, cur - offset);
        cur = stop;
      }
      // Bytes no record supplies stay zero, as `makedumpfile -R` leaves them.
      i++;
      if (i >= this.starts.length || this.starts[i]! >= end) break;
      cur = Math.max(cur, this.starts[i]!);
    }
    return out;
  }

  close(): Promise<void> {
    return this.stream.close();
  }
}

function isFlattenedHeader(head: Uint8Array): boolean {
  if (head.length < 16) return false;
  for (let i = 0; i < SIGNATURE.length; i++) if (head[i] !== SIGNATURE.charCodeAt(i)) return false;
  for (let i = SIGNATURE.length; i < 16; i++) if (head[i] !== 0) return false;
  return true;
}

/** Read a makedumpfile flattened stream (`-F`) in place, as the file it reassembles to. */
export async function openFlattened(source: ByteSource): Promise<FlattenedSource> {
  const head = await source.read(0, 32);
  if (!isFlattenedHeader(head)) {
    throw new DumpError('not-a-dump', `${source.name} does not start with a makedumpfile flattened header`);
  }
  const problems: DumpProblem[] = [];
  if (head.length < 32) {
    throw new DumpError(
      'truncated',
      `${source.name}: the flattened stream ends inside its header (${source.size} bytes of ${FLATTENED_HEADER_SIZE})`,
    );
  }
  const hv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const type = hv.getBigInt64(16, false);
  const version = hv.getBigInt64(24, false);
  if (type !== TYPE_FLAT_HEADER) {
    throw new DumpError(
      'unsupported',
      `${source.name}: flattened header type is ${type}, expected ${TYPE_FLAT_HEADER}`,
      16,
    );
  }
  if (version !== VERSION_FLAT_HEADER) {
    problems.push({
      kind: 'other',
      message: `the flattened header has version ${version}, this reader knows version ${VERSION_FLAT_HEADER}; read as if it were`,
    });
  }
  if (source.size < FLATTENED_HEADER_SIZE) {
    throw new DumpError(
      'truncated',
      `${source.name}: the flattened stream ends inside its ${FLATTENED_HEADER_SIZE}-byte header (${source.size} bytes)`,
    );
  }

  // One streaming pass over the record headers.
  const records = new TripleList(); // image offset, length, stream offset of the data
  let window: Uint8Array = new Uint8Array(0);
  let windowStart = 0;
  const headerAt = async (pos: number): Promise<DataView | undefined> => {
    if (pos < windowStart || pos + RECORD_HEADER_SIZE > windowStart + window.length) {
      window = await source.read(pos, SCAN_WINDOW);
      windowStart = pos;
      if (window.length < RECORD_HEADER_SIZE) return undefined;
    }
    return new DataView(window.buffer, window.byteOffset + (pos - windowStart), RECORD_HEADER_SIZE);
  };

  let pos = FLATTENED_HEADER_SIZE;
  let ended = false;
  let recordCount = 0;
  let totalBytes = 0;
  let zeroTail = false;
  for (;;) {
    if (pos >= source.size) break;
    const view = await headerAt(pos);
    if (!view) {
      problems.push({
        kind: 'truncated',
        message: `the flattened stream ends inside a record header at stream offset ${pos} (${source.size - pos} of ${RECORD_HEADER_SIZE} bytes)`,
      });
      break;
    }
    const offset = view.getBigInt64(0, false);
    const size = view.getBigInt64(8, false);
    if (offset === -1n && size === -1n) {
      ended = true;
      pos += RECORD_HEADER_SIZE;
      break;
    }
    if (offset === 0n && size === 0n) {
      // makedumpfile never writes an empty record; zeros here are a preallocated or sparse tail (a copy
      // that stopped early). Scanning it 16 bytes at a time could take forever on a sparse terabyte.
      problems.push({
        kind: 'truncated',
        message: `the flattened stream turns into zeros at stream offset ${pos} after ${recordCount} records (${source.size - pos} bytes of zeros follow, no end marker): it was cut short`,
      });
      zeroTail = true;
      break;
    }
    if (offset < 0n || size < 0n || offset + size > MAX_SAFE) {
      throw corrupt(
        `${source.name}: flattened record #${recordCount} has an impossible image offset ${offset} or size ${size}`,
        pos,
      );
    }
    const dataStart = pos + RECORD_HEADER_SIZE;
    const want = Number(size);
    const have = Math.max(0, Math.min(want, source.size - dataStart));
    if (have > 0) records.push(Number(offset), have, dataStart);
    recordCount++;
    totalBytes += have;
    if (have < want) {
      problems.push({
        kind: 'truncated',
        message: `the flattened stream is cut short: record #${recordCount - 1} at stream offset ${pos} should carry ${want} bytes for image offset ${offset} but the stream ends after ${have}`,
      });
      pos = source.size;
      break;
    }
    pos = dataStart + want;
  }
  if (!ended && !zeroTail) {
    problems.push({
      kind: 'truncated',
      message: `the flattened stream has no end marker: it was cut short after ${recordCount} records (${source.size} bytes); the end of the dump may be missing`,
    });
  }
  records.trim();
  if (records.length === 0) {
    throw new DumpError('truncated', `${source.name}: the flattened stream holds no data records`);
  }
  const { starts, ends, sources, overlaps } = buildIndex(records);
  const details: Record<string, string | number | boolean> = {
    flattenedRecords: recordCount,
    flattenedBytes: totalBytes,
    flattenedEndMarker: ended,
  };
  if (overlaps) details.flattenedOverlaps = true;
  if (ended && pos < source.size) details.flattenedTrailingBytes = source.size - pos;
  return new FlattenedSource(source, starts, ends, sources, problems, details);
}

/**
 * Turn records (in stream order) into disjoint pieces sorted by image offset, later records winning
 * where they overlap: a sweep over the record boundaries with a max-heap of the active records by
 * stream order. O(n log n); the common case (no overlaps) skips the sweep.
 */
function buildIndex(r: TripleList): {
  starts: Float64Array;
  ends: Float64Array;
  sources: Float64Array;
  overlaps: boolean;
} {
  const n = r.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((x, y) => r.a[x]! - r.a[y]! || x - y);
  let overlaps = false;
  for (let k = 1; k < n; k++) {
    const prev = order[k - 1]!;
    if (r.a[prev]! + r.b[prev]! > r.a[order[k]!]!) {
      overlaps = true;
      break;
    }
  }
  const out = new TripleList();
  const emit = (start: number, end: number, src: number): void => {
    const last = out.length - 1;
    if (last >= 0 && out.b[last] === start && out.c[last]! + (start - out.a[last]!) === src) {
      out.b[last] = end; // contiguous in the image and in the stream: extend
      return;
    }
    out.push(start, end, src);
  };
  if (!overlaps) {
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      emit(r.a[i]!, r.a[i]! + r.b[i]!, r.c[i]!);
    }
  } else {
    // Elementary intervals between consecutive boundaries; the visible record is the latest active one.
    const points = new Float64Array(2 * n);
    for (let i = 0; i < n; i++) {
      points[2 * i] = r.a[i]!;
      points[2 * i + 1] = r.a[i]! + r.b[i]!;
    }
    points.sort();
    const heap: number[] = [];
    const push = (v: number): void => {
      heap.push(v);
      let c = heap.length - 1;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (heap[p]! >= heap[c]!) break;
        [heap[p], heap[c]] = [heap[c]!, heap[p]!];
        c = p;
      }
    };
    const pop = (): void => {
      const lastValue = heap.pop()!;
      if (heap.length === 0) return;
      heap[0] = lastValue;
      let p = 0;
      for (;;) {
        const l = 2 * p + 1;
        const rr = l + 1;
        let m = p;
        if (l < heap.length && heap[l]! > heap[m]!) m = l;
        if (rr < heap.length && heap[rr]! > heap[m]!) m = rr;
        if (m === p) break;
        [heap[p], heap[m]] = [heap[m]!, heap[p]!];
        p = m;
      }
    };
    let k = 0;
    for (let q = 0; q + 1 < points.length; q++) {
      const p = points[q]!;
      const next = points[q + 1]!;
      if (next === p) continue;
      while (k < n && r.a[order[k]!]! <= p) push(order[k++]!);
      while (heap.length > 0 && r.a[heap[0]!]! + r.b[heap[0]!]! <= p) pop();
      if (heap.length === 0) continue;
      const top = heap[0]!;
      emit(p, next, r.c[top]! + (p - r.a[top]!));
    }
  }
  out.trim();
  return { starts: out.a, ends: out.b, sources: out.c, overlaps };
}
