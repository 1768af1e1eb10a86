/**
 * Open findings of the fuzzer in readers owned by others. Cases they explain are skipped by both the
 * fast subset and the long run, so each stays a gate for new findings; test/fuzz/fuzz.test.ts proves
 * every entry is still open. When one is fixed that test fails: delete the entry.
 */
import type { FuzzSeed } from './seeds';

export interface KnownIssue {
  title: string;
  /** Whether a case (seed and mutation descriptions) is one this issue explains. */
  applies(seed: FuzzSeed, mutations: readonly string[]): boolean;
  /** The failure of a case built to show the issue, or undefined once it is fixed. */
  stillOpen(seeds: readonly FuzzSeed[]): Promise<string | undefined>;
}

// None open. (Fixed: a flattened stream followed by a sparse zero tail with no end marker scanned the
// zeros 16 bytes at a time; see test/dump/flattened.test.ts.)
export const KNOWN_ISSUES: KnownIssue[] = [];

export function isKnownIssue(seed: FuzzSeed, mutations: readonly string[]): boolean {
  return KNOWN_ISSUES.some((k) => k.applies(seed, mutations));
}
