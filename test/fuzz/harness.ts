/**
 * The fuzz harness: run one input through `openDumpSource` and every layer in LAYERS, and judge it.
 *
 * A case passes when it opens (and every layer's reads keep their contract) or fails with a
 * DumpError (or an error a layer allows); within the time limit; and without any single allocation
 * larger than the input could justify (an allocation sized by an unchecked header field).
 * Everything is derived from (campaign seed, case number), so a failure reproduces with
 * FUZZ_SEED=<seed> FUZZ_CASE=<n>.
 */
import { DumpError } from '../../src/dump/errors';
import { openDumpSource } from '../../src/dump/open';
import type { ByteSource } from '../../src/dump/source';
import type { Dump } from '../../src/dump/types';
import { type AllocationMeter, liveBytes } from './allocations';
import { FuzzDeadline, FuzzSource, type SparseImage } from './image';
import { LAYERS } from './layers';
import { type Field, fieldsOf, type Mutation, randomMutation, truncationPoints } from './mutate';
import { caseSeed, Rng } from './prng';
import type { FuzzSeed } from './seeds';

export const CASE_TIME_LIMIT_MS = 2000;
/** No single allocation may exceed this, whatever the file claims. */
export const ABSOLUTE_ALLOCATION_LIMIT = 128 * 1024 * 1024;

export type Opener = (source: ByteSource) => Promise<Dump>;

export interface CaseOutcome {
  /** Undefined when the case passed. */
  failure?: string;
  opened: boolean;
  /** DumpError kind when opening failed as it should. */
  errorKind?: string;
  ms: number;
  largestAllocation: number;
  reads: number;
}

class InvariantViolation extends Error {}

/** The allocation a case may make: what the file is, plus slack, capped absolutely. */
export function allocationLimit(image: SparseImage): number {
  return Math.min(ABSOLUTE_ALLOCATION_LIMIT, Math.max(image.size, 1 << 20) + (1 << 20));
}

export async function runCase(
  image: SparseImage,
  name: string,
  rng: Rng,
  options: { meter?: AllocationMeter; open?: Opener; timeLimitMs?: number } = {},
): Promise<CaseOutcome> {
  const open = options.open ?? openDumpSource;
  const limit = options.timeLimitMs ?? CASE_TIME_LIMIT_MS;
  const t0 = performance.now();
  const source = new FuzzSource(image, name, t0 + limit);
  let failure: string | undefined;
  let opened = false;
  let errorKind: string | undefined;
  let current = 'open';
  const layerAllows = (err: unknown) => LAYERS.some((l) => l.allows?.(err));
  options.meter?.start();
  try {
    const dump = await open(source);
    opened = true;
    try {
      for (const layer of LAYERS) {
        current = layer.name;
        await layer.run(dump, {
          rng,
          fail: (message) => {
            throw new InvariantViolation(`${layer.name}: ${message}`);
          },
        });
      }
    } finally {
      await dump.close();
    }
  } catch (err) {
    if (err instanceof InvariantViolation) failure = err.message;
    else if (err instanceof FuzzDeadline)
      failure = `${current} did not finish in ${limit} ms: ${err.message}`;
    else if (err instanceof DumpError) errorKind = err.kind;
    else if (opened && layerAllows(err)) errorKind = (err as Error).name;
    else failure = `${current} threw ${describeError(err)}`;
  }
  const alloc = options.meter?.stop();
  const ms = performance.now() - t0;
  if (!failure && ms > limit) failure = `${current} took ${ms.toFixed(0)} ms (limit ${limit} ms)`;
  if (!failure && alloc && alloc.largest > allocationLimit(image)) {
    failure = `allocated ${alloc.largest} bytes at once (${alloc.what}) for a ${image.size}-byte file: sized by an unchecked field?`;
  }
  return { failure, opened, errorKind, ms, largestAllocation: alloc?.largest ?? 0, reads: source.reads };
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const where = err.stack?.split('\n').find((l) => l.includes('/src/'));
    return `${err.name}: ${err.message}${where ? ` ${where.trim()}` : ''}`;
  }
  return String(err);
}

export interface CampaignFailure {
  seed: string;
  caseIndex: number;
  mutations: string[];
  failure: string;
}

export interface CampaignStats {
  cases: number;
  opened: number;
  rejected: Record<string, number>;
  failures: CampaignFailure[];
  slowestMs: number;
  largestAllocation: number;
  /** Cases left out by `skip`. */
  skipped: number;
  /** Live heap + ArrayBuffers after the campaign minus before, after full collections. */
  heapGrowth: number;
}

/** The mutated input of case `index`: which seed, and which mutations. */
export function caseInput(
  seeds: readonly FuzzSeed[],
  fieldCache: Map<FuzzSeed, Field[]>,
  campaignSeed: number,
  index: number,
): { seed: FuzzSeed; image: SparseImage; mutations: Mutation[]; rng: Rng } {
  const rng = new Rng(caseSeed(campaignSeed, index));
  const seed = seeds[index % seeds.length]!;
  let fields = fieldCache.get(seed);
  if (!fields) {
    fields = fieldsOf(seed.image);
    fieldCache.set(seed, fields);
  }
  const image = seed.image.clone();
  const mutations: Mutation[] = [];
  const n = 1 + rng.int(3);
  for (let i = 0; i < n; i++) {
    const m = randomMutation(image, rng, fields);
    m.apply(image);
    mutations.push(m);
  }
  return { seed, image, mutations, rng };
}

/**
 * Run cases [first, first + count) of a campaign (or until `deadline`, a performance.now() value).
 * With `perSeedBudgetMs`, a seed whose cases have used up their time is skipped from then on (real
 * flattened streams cost far more per case than a synthetic header), so a time-boxed run still
 * reaches every seed.
 */
export async function runCampaign(
  seeds: readonly FuzzSeed[],
  options: {
    campaignSeed: number;
    count: number;
    first?: number;
    deadline?: number;
    meter?: AllocationMeter;
    perSeedBudgetMs?: number;
    /** Cases not to run (known open issues); counted in `skipped`. */
    skip?: (seed: FuzzSeed, mutations: readonly string[]) => boolean;
    onProgress?: (stats: CampaignStats) => void;
  },
): Promise<CampaignStats> {
  const spent = new Map<string, number>();
  const budget = options.perSeedBudgetMs ?? Number.POSITIVE_INFINITY;
  const stats: CampaignStats = {
    cases: 0,
    opened: 0,
    rejected: {},
    failures: [],
    slowestMs: 0,
    largestAllocation: 0,
    skipped: 0,
    heapGrowth: 0,
  };
  const fieldCache = new Map<FuzzSeed, Field[]>();
  const before = await liveBytes();
  const first = options.first ?? 0;
  for (let i = first; i < first + options.count; i++) {
    if (options.deadline !== undefined && performance.now() > options.deadline) break;
    const name = seeds[i % seeds.length]!.name;
    if ((spent.get(name) ?? 0) > budget) {
      if ([...spent.values()].filter((t) => t > budget).length === seeds.length) break;
      continue;
    }
    const t0 = performance.now();
    const { seed, image, mutations, rng } = caseInput(seeds, fieldCache, options.campaignSeed, i);
    if (
      options.skip?.(
        seed,
        mutations.map((m) => m.what),
      )
    ) {
      stats.skipped++;
      continue;
    }
    const out = await runCase(image, seed.name, rng, { meter: options.meter });
    spent.set(name, (spent.get(name) ?? 0) + performance.now() - t0);
    record(stats, out);
    if (out.failure) {
      stats.failures.push({
        seed: seed.name,
        caseIndex: i,
        mutations: mutations.map((m) => m.what),
        failure: out.failure,
      });
    }
    if (options.onProgress && stats.cases % 1000 === 0) options.onProgress(stats);
  }
  stats.heapGrowth = (await liveBytes()) - before;
  return stats;
}

function record(stats: CampaignStats, out: CaseOutcome): void {
  stats.cases++;
  if (out.opened) stats.opened++;
  if (out.errorKind) stats.rejected[out.errorKind] = (stats.rejected[out.errorKind] ?? 0) + 1;
  stats.slowestMs = Math.max(stats.slowestMs, out.ms);
  stats.largestAllocation = Math.max(stats.largestAllocation, out.largestAllocation);
}

/** Cut every seed at every interesting offset (deterministic, no randomness but the layers' reads). */
export async function runTruncations(
  seeds: readonly FuzzSeed[],
  options: { meter?: AllocationMeter; maxPerSeed?: number } = {},
): Promise<CampaignStats> {
  const stats: CampaignStats = {
    cases: 0,
    opened: 0,
    rejected: {},
    failures: [],
    slowestMs: 0,
    largestAllocation: 0,
    skipped: 0,
    heapGrowth: 0,
  };
  const before = await liveBytes();
  for (const seed of seeds) {
    let points = truncationPoints(seed.image, fieldsOf(seed.image));
    const max = options.maxPerSeed ?? Number.POSITIVE_INFINITY;
    if (points.length > max) {
      const step = points.length / max;
      points = Array.from({ length: max }, (_, i) => points[Math.floor(i * step)]!);
    }
    for (const at of points) {
      const image = seed.image.clone();
      image.truncate(at);
      const out = await runCase(image, seed.name, new Rng(at), { meter: options.meter });
      record(stats, out);
      if (out.failure) {
        stats.failures.push({
          seed: seed.name,
          caseIndex: -1,
          mutations: [`truncate at ${at}`],
          failure: out.failure,
        });
      }
    }
  }
  stats.heapGrowth = (await liveBytes()) - before;
  return stats;
}

/** A readable failure list for assertion messages. */
export function formatFailures(
  failures: readonly CampaignFailure[],
  campaignSeed?: number,
  max = 10,
): string {
  return failures
    .slice(0, max)
    .map(
      (f) =>
        `${f.seed} ${f.caseIndex >= 0 ? `case ${f.caseIndex} (reproduce: FUZZ_SEED=${campaignSeed} FUZZ_CASE=${f.caseIndex})` : ''}\n` +
        `    mutations: ${f.mutations.join('; ')}\n    ${f.failure}`,
    )
    .join('\n');
}

/** One line about a campaign, for the log. */
export function summary(label: string, s: CampaignStats): string {
  const rejected = Object.entries(s.rejected)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  return `${label}: ${s.cases} cases, ${s.opened} opened, rejected: ${rejected || 'none'}; slowest ${s.slowestMs.toFixed(0)} ms, largest allocation ${(s.largestAllocation / 1024).toFixed(0)} KiB, heap growth ${(s.heapGrowth / 1024 / 1024).toFixed(1)} MiB, ${s.skipped} skipped, ${s.failures.length} failures`;
}
