/**
 * The long fuzz run (npm run test:long): the same harness as test/fuzz/fuzz.test.ts, for minutes,
 * with a fresh campaign seed each run unless FUZZ_SEED is given. Every failure prints the line that
 * reproduces it in the fast suite: FUZZ_SEED=<seed> FUZZ_CASE=<n> npx vitest run test/fuzz/fuzz.test.ts
 *
 * FUZZ_SECONDS sets the duration (default 600), FUZZ_SEED the campaign, FUZZ_SEEDS a regular
 * expression that selects seeds by name (e.g. `flat` or `real:.*elf`).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AllocationMeter } from '../fuzz/allocations';
import { formatFailures, runCampaign, runTruncations, summary } from '../fuzz/harness';
import { isKnownIssue, KNOWN_ISSUES } from '../fuzz/knownIssues';
import { allSeeds, type FuzzSeed } from '../fuzz/seeds';

const SECONDS = Number(process.env.FUZZ_SECONDS ?? 600);
const CAMPAIGN_SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 0xffff_ffff));

let seeds: FuzzSeed[] = [];
const meter = new AllocationMeter();

beforeAll(async () => {
  const only = process.env.FUZZ_SEEDS ? new RegExp(process.env.FUZZ_SEEDS) : undefined;
  seeds = (await allSeeds()).filter((s) => !only || only.test(s.name));
  meter.install();
  console.log(`fuzz campaign FUZZ_SEED=${CAMPAIGN_SEED}, ${SECONDS} s, ${seeds.length} seeds`);
  for (const k of KNOWN_ISSUES) console.log(`known open issue, its cases skipped: ${k.title}`);
});
afterAll(() => meter.uninstall());

it('every interesting truncation of every seed', async () => {
  const stats = await runTruncations(seeds, { meter });
  console.log(summary('truncations', stats));
  expect(stats.failures, formatFailures(stats.failures, undefined, 30)).toEqual([]);
});

it(`random mutations for ${SECONDS} s (FUZZ_SEED=${CAMPAIGN_SEED})`, async () => {
  const start = performance.now();
  const deadline = start + SECONDS * 1000;
  let lastLog = start;
  // Every seed gets an equal share of the time, whatever its cost per case.
  const stats = await runCampaign(seeds, {
    campaignSeed: CAMPAIGN_SEED,
    count: Number.MAX_SAFE_INTEGER,
    deadline,
    meter,
    perSeedBudgetMs: (SECONDS * 1000) / Math.max(1, seeds.length),
    // Open issues already tracked (and proven open) in test/fuzz/knownIssues.ts.
    skip: isKnownIssue,
    onProgress: (s) => {
      if (performance.now() - lastLog < 30_000) return;
      lastLog = performance.now();
      console.log(summary(`${((lastLog - start) / 1000).toFixed(0)} s`, s));
    },
  });
  console.log(summary('random mutations', stats));
  expect(stats.failures, formatFailures(stats.failures, CAMPAIGN_SEED, 30)).toEqual([]);
  expect(stats.heapGrowth).toBeLessThan(128 * 1024 * 1024);
});
