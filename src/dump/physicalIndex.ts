import type { Gap, PhysicalRange, ReadResult, UnavailableReason } from './types';

/**
 * One stretch of physical memory as a container stores it: either bytes at a file offset, or a
 * range the container knows of but does not hold (`reason`).
 */
export interface PhysicalPiece {
  start: bigint;
  /** Exclusive. */
  end: bigint;
  /** File offset of `start` for stored pieces. */
  fileOffset?: number;
  reason?: UnavailableReason;
  detail?: string;
}

/**
 * Turn possibly overlapping pieces into a sorted, disjoint list. Stored pieces win over unavailable
 * ones (a kernel-image segment and the direct-map segment that holds the same pages, one of them with
 * a filtered tail); among equals the one that starts first wins.
 */
export function buildDisjointIndex(pieces: readonly PhysicalPiece[]): PhysicalPiece[] {
  const stored = paint(pieces.filter((p) => p.fileOffset !== undefined));
  const missing = paint(pieces.filter((p) => p.fileOffset === undefined));
  const out: PhysicalPiece[] = [...stored];
  // Subtract the stored intervals from the unavailable ones (both sorted and disjoint).
  let j = 0;
  for (const m of missing) {
    let cur = m.start;
    while (j < stored.length && stored[j]!.end <= cur) j++;
    let k = j;
    while (cur < m.end) {
      const s = stored[k];
      if (!s || s.start >= m.end) {
        out.push({ ...m, start: cur });
        break;
      }
      if (s.start > cur) out.push({ ...m, start: cur, end: s.start });
      cur = s.end > cur ? s.end : cur;
      k++;
    }
  }
  out.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  return out;
}

function paint(pieces: PhysicalPiece[]): PhysicalPiece[] {
  const sorted = pieces
    .filter((p) => p.end > p.start)
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: PhysicalPiece[] = [];
  let maxEnd = -1n;
  for (const p of sorted) {
    const start = p.start > maxEnd ? p.start : maxEnd;
    if (start >= p.end) continue;
    const shift = start - p.start;
    out.push({
      ...p,
      start,
      fileOffset: p.fileOffset === undefined ? undefined : p.fileOffset + Number(shift),
    });
    maxEnd = p.end;
  }
  return out;
}

/** Index of the last piece whose start ≤ addr, or -1. */
export function findPiece(index: readonly PhysicalPiece[], addr: bigint): number {
  let lo = 0;
  let hi = index.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (index[mid]!.start <= addr) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** Merge adjacent pieces into the physical ranges a dump describes. */
export function rangesOf(index: readonly PhysicalPiece[]): PhysicalRange[] {
  const out: PhysicalRange[] = [];
  for (const p of index) {
    const last = out[out.length - 1];
    if (last && last.end === p.start) last.end = p.end;
    else out.push({ start: p.start, end: p.end });
  }
  return out;
}

/** Collects the gaps of a read, merging neighbours with the same reason. */
export class GapList {
  readonly gaps: Gap[] = [];
  add(offset: number, length: number, reason: UnavailableReason, detail?: string): void {
    if (length <= 0) return;
    const last = this.gaps[this.gaps.length - 1];
    if (last && last.offset + last.length === offset && last.reason === reason && last.detail === detail) {
      last.length += length;
    } else {
      const gap: Gap = { offset, length, reason };
      if (detail !== undefined) gap.detail = detail;
      this.gaps.push(gap);
    }
  }
  result(bytes: Uint8Array): ReadResult {
    return { bytes, gaps: this.gaps };
  }
}
