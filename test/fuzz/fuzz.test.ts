/**
 * The fast fuzz subset of the default suite (a few seconds): every seed (synthetic cores of every
 * layout, the headers and note areas of every real dump of every format) cut at every interesting
 * offset, then a fixed number of seeded random mutations. The long run is test/long/fuzz.test.ts.
 *
 * FUZZ_SEED=<n> changes the campaign; FUZZ_SEED=<n> FUZZ_CASE=<i> runs a single case and prints it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DumpError } from '../../src/dump/errors';
import type { Dump } from '../../src/dump/types';
import { AllocationMeter } from './allocations';
import { caseInput, formatFailures, runCampaign, runCase, runTruncations, summary } from './harness';
import { SparseImage } from './image';
import { isKnownIssue, KNOWN_ISSUES } from './knownIssues';
import { type Field, fieldsOf } from './mutate';
import { Rng } from './prng';
import { allSeeds, type FuzzSeed, formatOf } from './seeds';

const CAMPAIGN_SEED = Number(process.env.FUZZ_SEED ?? 20260101);
const ONLY_CASE = process.env.FUZZ_CASE === undefined ? undefined : Number(process.env.FUZZ_CASE);
/** Case indices considered; each seed gets at most SEED_BUDGET_MS of them. */
const RANDOM_CASES = 3000;
const SEED_BUDGET_MS = 80;

let seeds: FuzzSeed[] = [];
const meter = new AllocationMeter();

beforeAll(async () => {
  seeds = await allSeeds();
  meter.install();
});
afterAll(() => meter.uninstall());

describe('fuzz seeds', () => {
  it('cover synthetic ELF layouts, flattened streams and every real dump of the corpus', () => {
    const names = seeds.map((s) => s.name);
    expect(names.filter((n) => n.startsWith('synthetic:elf')).length).toBeGreaterThanOrEqual(7);
    expect(names.filter((n) => n.startsWith('synthetic:flattened')).length).toBeGreaterThanOrEqual(3);
    const kdump = seeds.filter(
      (s) => s.name.startsWith('synthetic:') && /kdump|diskdump/.test(formatOf(s.image)),
    );
    expect(kdump.length).toBeGreaterThanOrEqual(8);
    // The field locators find the headers' sizes and counts, not just generic words.
    expect(fieldsOf(kdump[0]!.image).map((f) => f.name)).toEqual(
      expect.arrayContaining([
        'blockSize',
        'bitmapBlocks',
        'sub.offset_note',
        'sub.max_mapnr_64',
        'desc[0].offset',
      ]),
    );
    const elf = seeds.find((s) => s.name === 'real:kdump-sysrq/vmcore.elf-d31')!;
    expect(fieldsOf(elf.image).map((f) => f.name)).toEqual(
      expect.arrayContaining(['e_phnum', 'phdr[20].p_filesz', 'note@1240.descsz']),
    );
    const real = seeds.filter((s) => s.name.startsWith('real:'));
    expect(real.length).toBeGreaterThanOrEqual(8);
    const formats = new Set(real.map((s) => formatOf(s.image)));
    expect([...formats].sort()).toEqual(['elf', 'flattened', 'kdump']);
    // Real ELF seeds hold their program headers and notes, not just the first bytes.
    const elfFull = seeds.find((s) => s.name === 'real:kdump-sysrq/vmcore.elf-full')!;
    expect(elfFull.image.size).toBeGreaterThan(100 * 1024 * 1024);
    expect(elfFull.image.storedBytes).toBeLessThan(16 * 1024 * 1024);
  });
});

describe.runIf(ONLY_CASE !== undefined)('one case', () => {
  it(`FUZZ_SEED=${CAMPAIGN_SEED} FUZZ_CASE=${ONLY_CASE}`, async () => {
    const { seed, image, mutations, rng } = caseInput(
      seeds,
      new Map<FuzzSeed, Field[]>(),
      CAMPAIGN_SEED,
      ONLY_CASE!,
    );
    console.log(`${seed.name}\n  ${mutations.map((m) => m.what).join('\n  ')}`);
    const out = await runCase(image, seed.name, rng, { meter });
    console.log(out);
    expect(out.failure).toBeUndefined();
  });
});

describe.runIf(ONLY_CASE === undefined)('fuzz (fast subset)', () => {
  it('every seed cut at every interesting offset: a dump or a DumpError, in time, bounded allocations', async () => {
    const stats = await runTruncations(seeds, { meter, maxPerSeed: 120 });
    console.log(summary('truncations', stats));
    expect(stats.failures, formatFailures(stats.failures)).toEqual([]);
    expect(stats.cases).toBeGreaterThan(1200);
    // Both outcomes happen: the cut files that still open, and the ones rejected as truncated.
    expect(stats.opened).toBeGreaterThan(100);
    expect(stats.rejected.truncated).toBeGreaterThan(100);
    expect(stats.heapGrowth).toBeLessThan(64 * 1024 * 1024);
  });

  it(`seeded random mutations of every seed (FUZZ_SEED=${CAMPAIGN_SEED})`, async () => {
    const stats = await runCampaign(seeds, {
      campaignSeed: CAMPAIGN_SEED,
      count: RANDOM_CASES,
      meter,
      perSeedBudgetMs: SEED_BUDGET_MS,
      skip: isKnownIssue,
    });
    console.log(summary('random mutations', stats));
    expect(stats.failures, formatFailures(stats.failures, CAMPAIGN_SEED)).toEqual([]);
    expect(stats.cases).toBeGreaterThan(seeds.length * 5);
    expect(stats.opened).toBeGreaterThan(stats.cases / 10);
    expect(Object.keys(stats.rejected).length).toBeGreaterThanOrEqual(2);
    expect(stats.slowestMs).toBeLessThan(2000);
    expect(stats.heapGrowth).toBeLessThan(64 * 1024 * 1024);
  });
});

describe.runIf(ONLY_CASE === undefined && KNOWN_ISSUES.length > 0)(
  'known open issues (delete the entry once fixed)',
  () => {
    it.each(KNOWN_ISSUES.map((k) => [k.title, k] as const))('%s', async (_title, k) => {
      expect(await k.stillOpen(seeds)).toMatch(/did not finish|took|threw|allocated/);
    });
  },
);

describe('the harness catches what it is meant to catch', () => {
  const image = SparseImage.of(new Uint8Array(4096));
  it('an error that is not a DumpError', async () => {
    const out = await runCase(image, 'x', new Rng(1), {
      open: async () => {
        throw new TypeError('Cannot read properties of undefined');
      },
    });
    expect(out.failure).toMatch(/open threw TypeError/);
    const ok = await runCase(image, 'x', new Rng(1), {
      open: async () => {
        throw new DumpError('corrupt', 'bad');
      },
    });
    expect(ok).toMatchObject({ failure: undefined, errorKind: 'corrupt' });
  });

  it('an allocation sized by a header field', async () => {
    const out = await runCase(image, 'x', new Rng(1), {
      meter,
      open: async (source) => {
        const claimed = 0x3000_0000; // 768 MiB "bitmap" for a 4 KiB file
        void new Uint8Array(claimed).length;
        throw new DumpError('truncated', `${source.name}: short`);
      },
    });
    expect(out.failure).toMatch(/allocated 805306368 bytes at once \(new Uint8Array/);
  });

  it('a reader loop that never ends', async () => {
    const out = await runCase(image, 'x', new Rng(1), {
      timeLimitMs: 200,
      open: async (source): Promise<Dump> => {
        for (;;) await source.read(0, 16);
      },
    });
    expect(out.failure).toMatch(/did not finish in 200 ms/);
  });

  it('a read that breaks FileSource’s contract (unsafe offset)', async () => {
    const out = await runCase(image, 'x', new Rng(1), {
      open: async (source) => {
        await source.read(2 ** 64, 16);
        throw new Error('unreachable');
      },
    });
    expect(out.failure).toMatch(/RangeError: bad read range/);
  });
});
