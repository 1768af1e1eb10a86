/**
 * Kernel virtual addresses on every real dump: vtop (physical address and every table entry of the
 * walk) and virtual reads must equal what drgn and crash found on the same dump.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDump } from '../../src/dump/open';
import type { Dump } from '../../src/dump/types';
import { KernelAddressSpace, TranslationError } from '../../src/translate/addressSpace';
import { hex } from '../../src/util/bytes';
import { corpus } from '../support/corpus';

interface Sample {
  vaddr: string;
  region: string;
  what: string;
  bytes: string | null;
  paddr_pagewalk?: string;
  pagewalk_entries?: string[];
  page_in_dump?: string;
}

describe.each(corpus().map((d) => [d.name, d] as const))('%s', (_name, ref) => {
  let dump: Dump;
  let space: KernelAddressSpace;
  const samples: Sample[] = (ref.truth.drgn?.memory_samples ?? []).filter((s: Sample) => s.region !== 'user');

  beforeAll(async () => {
    dump = await openDump(ref.path);
    space = await KernelAddressSpace.create(dump);
  });
  afterAll(async () => {
    await dump?.close();
  });

  it('uses the kernel page tables', () => {
    expect(space.setupProblem).toBeUndefined();
    expect(space.setup).toBeDefined();
  });

  it('vtop of every sample: physical address and every page-table entry exact', async () => {
    expect(samples.length).toBeGreaterThan(10);
    for (const s of samples) {
      const t = await space.vtop(BigInt(s.vaddr));
      expect('0x' + t.physical.toString(16), s.what).toBe(s.paddr_pagewalk);
      expect(t.via, s.what).toBe('page-table');
      expect(
        t.entries.map((e) => '0x' + e.value.toString(16).padStart(16, '0')),
        s.what,
      ).toEqual(s.pagewalk_entries);
    }
  });

  it('reads every sample byte-exact by virtual address, and reports the absent ones', async () => {
    for (const s of samples) {
      const { bytes, gaps } = await space.read(BigInt(s.vaddr), 16);
      if (s.bytes === null) {
        expect(gaps.length, s.what).toBeGreaterThan(0);
      } else if (s.page_in_dump && /filtered/.test(s.page_in_dump)) {
        expect(
          gaps.map((g) => g.reason),
          s.what,
        ).toEqual(['excluded']);
      } else {
        expect(gaps, s.what).toEqual([]);
        expect(hex(bytes), s.what).toBe(s.bytes);
      }
    }
  });

  it('ptov gives the direct-map alias of every sample', async () => {
    const base = ref.truth.drgn?.kaslr_regions?.page_offset_base;
    for (const s of samples.filter((x) => x.paddr_pagewalk && x.bytes !== null)) {
      const aliases = await space.ptov(BigInt(s.paddr_pagewalk!));
      const direct = aliases.find((a) => a.region === 'direct-map');
      expect(direct, s.what).toBeDefined();
      if (base) expect(direct!.address).toBe(BigInt(base) + BigInt(s.paddr_pagewalk!));
      if (s.region === 'direct-map' || s.region === 'per-cpu' || s.region === 'linear-map') {
        expect(direct!.address, s.what).toBe(BigInt(s.vaddr));
      }
    }
  });

  it('says why an unmapped address cannot be translated', async () => {
    await expect(space.vtop(0x1234n)).rejects.toBeInstanceOf(TranslationError);
    const r = await space.read(0xffff_ffff_ffff_0000n - 0x1000_0000_0000n, 8);
    expect(r.gaps[0]?.reason).toBe('not-mapped');
  });
});
