/**
 * Open findings of the fuzzer in readers owned by others. Cases they explain are skipped by both the
 * fast subset and the long run, so each stays a gate for new findings; test/fuzz/fuzz.test.ts proves
 * every entry is still open. When one is fixed that test fails: delete the entry.
 */
import { runCase } from './harness';
import { Rng } from './prng';
import { type FuzzSeed, formatOf } from './seeds';

export interface KnownIssue {
  title: string;
  /** Whether a case (seed and mutation descriptions) is one this issue explains. */
  applies(seed: FuzzSeed, mutations: readonly string[]): boolean;
  /** The failure of a case built to show the issue, or undefined once it is fixed. */
  stillOpen(seeds: readonly FuzzSeed[]): Promise<string | undefined>;
}

export const KNOWN_ISSUES: KnownIssue[] = [
  {
    title:
      'src/dump/flattened.ts scans a zero-filled tail record by record: a flattened stream followed by ' +
      'a sparse 1 TiB of zeros (no end marker) never finishes opening. Suggested fix: an all-zero record ' +
      'header {0, 0} ends the scan as "cut short".',
    applies: (seed, mutations) =>
      formatOf(seed.image) === 'flattened' && mutations.some((m) => /^file size \d{13,}/.test(m)),
    stillOpen: async (seeds) => {
      const seed = seeds.find((s) => s.name === 'synthetic:flattened-elf64-x86_64')!;
      const image = seed.image.clone();
      // Drop the end marker, then zeros to 1 TiB.
      image.truncate(image.size - 16);
      image.size = 2 ** 40;
      const out = await runCase(image, seed.name, new Rng(1), { timeLimitMs: 300 });
      return out.failure;
    },
  },
];

export function isKnownIssue(seed: FuzzSeed, mutations: readonly string[]): boolean {
  return KNOWN_ISSUES.some((k) => k.applies(seed, mutations));
}
