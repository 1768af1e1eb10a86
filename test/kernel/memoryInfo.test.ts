/**
 * `kmem -i` on every real dump against crash's `kmem -i` of the same dump: pages, size and percentage
 * of every row both count the same way (all but SHMEM and SLAB, which follow /proc/meminfo here).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/adapter/commands';
import { KernelDump } from '../../src/kernel/kernelDump';
import { type CorpusDump, corpus, refFile } from '../support/corpus';

/** label → "pages size percentage" of a kmem -i table. */
function rows(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(
    /^\s*([A-Z][A-Z ]+?)\s+(\d+)\s+(\d+(?:\.\d)?(?: [KMGT]B)?)\s+(----|\d+% of [A-Z ]+)$/gm,
  ))
    out.set(m[1]!, `${m[2]} ${m[3]} ${m[4]}`);
  return out;
}

/** Rows crash and /proc/meminfo count alike. */
const SAME = [
  'TOTAL MEM',
  'FREE',
  'USED',
  'BUFFERS',
  'CACHED',
  'TOTAL HUGE',
  'HUGE FREE',
  'TOTAL SWAP',
  'SWAP USED',
  'SWAP FREE',
  'COMMIT LIMIT',
  'COMMITTED',
];

const dumps = corpus().filter((d) => refFile(d, 'crash-kmem-i.txt') !== undefined);

describe.each(dumps.map((d) => [d.name, d] as const))('%s', (_name, d: CorpusDump) => {
  let k: KernelDump;
  beforeAll(async () => {
    k = await KernelDump.open(d.path);
  });
  afterAll(async () => {
    await k?.close();
  });

  it("kmem -i: every row crash counts the same way equals crash's, pages, size and percentage", async () => {
    const want = rows(refFile(d, 'crash-kmem-i.txt')!);
    for (const r of [...SAME, 'SLAB']) expect(want.get(r), `crash's ${r} row`).toBeDefined();
    const out = await runCommand('kmem -i', { kernel: k, cpuIndex: 0 });
    const got = rows(out);
    expect(Object.fromEntries(SAME.map((r) => [r, got.get(r)]))).toEqual(
      Object.fromEntries(SAME.map((r) => [r, want.get(r)])),
    );
    // and those lines character for character, as crash prints them
    const line = (text: string, label: string) =>
      text.split('\n').find((l) => l.startsWith(label.padStart(13)));
    for (const r of SAME) expect(line(out, r), r).toBe(line(refFile(d, 'crash-kmem-i.txt')!, r));
    // SHMEM is the kernel's NR_SHMEM: on these initramfs machines every cached file page is shmem
    const info = await k.memoryInfo();
    expect(info.problems).toEqual([]);
    expect(info.shared).toBe(info.cached);
    // SLAB counts all slab pages; crash's walk of the caches finds the pages of slabs in use, fewer
    const crashSlab = Number(want.get('SLAB')!.split(' ')[0]);
    expect(info.slab!).toBeGreaterThanOrEqual(crashSlab);
    expect(out).toMatch(/\(SHMEM and SLAB as \/proc\/meminfo counts them/);
  });

  it('kmem with anything but -i says what is available', async () => {
    await expect(runCommand('kmem -s', { kernel: k, cpuIndex: 0 })).rejects.toThrow(/only kmem -i/);
  });
});

it('the corpus has crash kmem -i references', () => {
  expect(dumps.length).toBeGreaterThan(0);
});
