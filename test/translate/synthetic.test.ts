/**
 * Page-table shapes the real dumps do not have (5-level paging, 1 GiB pages, the SME mask, arm64 16K
 * and 64K granules, 52-bit output addresses), on tables the tests build entry by entry.
 */
import { describe, expect, it } from 'vitest';
import { aarch64PageTableFormat } from '../../src/arch/aarch64';
import { KernelAddressSpace, TranslationError } from '../../src/translate/addressSpace';
import { walkPageTable } from '../../src/translate/pageWalk';
import { SparseMemory, syntheticDump } from '../support/sparseMemory';

const hex = (v: bigint) => v.toString(16);
const START_KERNEL_MAP = 0xffff_ffff_8000_0000n;

/** Index of `va` at a level with the given shift and 9 bits. */
const idx = (va: bigint, shift: number, bits = 9) => (va >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n);

describe('x86_64', () => {
  // phys_base 0x1000000: init_top_pgt (link 0xffffffff82000000) sits at physical 0x3000000.
  const physBase = 0x100_0000n;
  const pgdVirt = 0xffff_ffff_8200_0000n;
  const pgd = pgdVirt - START_KERNEL_MAP + physBase;

  function setup(fiveLevel: boolean, sme = 0n) {
    const mem = new SparseMemory();
    const info = [
      'OSRELEASE=6.9.0',
      'PAGESIZE=4096',
      `SYMBOL(init_top_pgt)=${hex(pgdVirt)}`,
      `NUMBER(phys_base)=${physBase}`,
      `NUMBER(pgtable_l5_enabled)=${fiveLevel ? 1 : 0}`,
      `NUMBER(sme_mask)=${sme}`,
    ].join('\n');
    return { mem, dump: syntheticDump('x86_64', mem, info) };
  }

  it('4-level walk through a 4 KiB page, with every entry', async () => {
    const { mem, dump } = setup(false);
    const va = 0xffff_c900_1234_5678n;
    mem.writeU64(pgd + idx(va, 39) * 8n, 0x10_0000n | 0x63n);
    mem.writeU64(0x10_0000n + idx(va, 30) * 8n, 0x11_0000n | 0x63n);
    mem.writeU64(0x11_0000n + idx(va, 21) * 8n, 0x12_0000n | 0x63n);
    mem.writeU64(0x12_0000n + idx(va, 12) * 8n, 0x8000_0000_0abc_d063n); // NX set
    mem.page(0xabcd000n).set([1, 2, 3, 4], 0x678);
    const space = await KernelAddressSpace.create(dump);
    const t = await space.vtop(va);
    expect(hex(t.physical)).toBe('abcd678');
    expect(t.pageSize).toBe(4096);
    expect(t.entries.map((e) => e.level)).toEqual(['pgd', 'pud', 'pmd', 'pte']);
    expect(t.entries.map((e) => hex(e.value))).toEqual(['100063', '110063', '120063', '800000000abcd063']);
    expect(t.entries[0]!.address).toBe(pgd + idx(va, 39) * 8n);
    const r = await space.read(va, 4);
    expect([...r.bytes]).toEqual([1, 2, 3, 4]);
  });

  it('2 MiB and 1 GiB pages keep the PAT bit out of the address', async () => {
    const { mem, dump } = setup(false);
    const va2m = 0xffff_ffff_8123_4567n;
    mem.writeU64(pgd + idx(va2m, 39) * 8n, 0x20_0000n | 0x63n);
    mem.writeU64(0x20_0000n + idx(va2m, 30) * 8n, 0x21_0000n | 0x63n);
    mem.writeU64(0x21_0000n + idx(va2m, 21) * 8n, 0x4c0_0000n | 0x1000n | 0xe3n); // PS + PAT
    const va1g = 0xffff_8880_4567_89abn;
    mem.writeU64(pgd + idx(va1g, 39) * 8n, 0x30_0000n | 0x63n);
    mem.writeU64(0x30_0000n + idx(va1g, 30) * 8n, 0x1_4000_0000n | 0x1000n | 0xe3n);
    const space = await KernelAddressSpace.create(dump);
    const t2 = await space.vtop(va2m);
    expect(hex(t2.physical)).toBe('4c34567');
    expect(t2.pageSize).toBe(2 * 1024 * 1024);
    expect(t2.entries).toHaveLength(3);
    const t1 = await space.vtop(va1g);
    expect(hex(t1.physical)).toBe('1456789ab');
    expect(t1.pageSize).toBe(1024 * 1024 * 1024);
    expect(t1.entries.map((e) => e.level)).toEqual(['pgd', 'pud']);
  });

  it('5-level paging adds the p4d level', async () => {
    const { mem, dump } = setup(true);
    const va = 0xff11_2233_4455_6000n;
    mem.writeU64(pgd + idx(va, 48) * 8n, 0x40_0000n | 0x63n);
    mem.writeU64(0x40_0000n + idx(va, 39) * 8n, 0x41_0000n | 0x63n);
    mem.writeU64(0x41_0000n + idx(va, 30) * 8n, 0x42_0000n | 0x63n);
    mem.writeU64(0x42_0000n + idx(va, 21) * 8n, 0x43_0000n | 0x63n);
    mem.writeU64(0x43_0000n + idx(va, 12) * 8n, 0x7777_7000n | 0x63n);
    const space = await KernelAddressSpace.create(dump);
    const t = await space.vtop(va + 0x10n);
    expect(hex(t.physical)).toBe('77777010');
    expect(t.entries.map((e) => e.level)).toEqual(['pgd', 'p4d', 'pud', 'pmd', 'pte']);
    // A 4-level-canonical address that is not 5-level canonical must be refused, not walked.
    await expect(space.vtop(0x0100_0000_0000_0000n)).rejects.toThrow(/canonical/);
  });

  it('clears the SME C-bit from every entry', async () => {
    const cbit = 1n << 47n;
    const { mem, dump } = setup(false, cbit);
    const va = 0xffff_c900_0000_1000n;
    mem.writeU64(pgd + idx(va, 39) * 8n, cbit | 0x50_0000n | 0x63n);
    mem.writeU64(0x50_0000n + idx(va, 30) * 8n, cbit | 0x51_0000n | 0x63n);
    mem.writeU64(0x51_0000n + idx(va, 21) * 8n, cbit | 0x52_0000n | 0x63n);
    mem.writeU64(0x52_0000n + idx(va, 12) * 8n, cbit | 0x9999_9000n | 0x63n);
    const space = await KernelAddressSpace.create(dump);
    expect(hex((await space.vtop(va)).physical)).toBe('99999000');
  });

  it('reports a not-present entry and the walk so far; a self-referencing table cannot loop', async () => {
    const { mem, dump } = setup(false);
    const va = 0xffff_c900_0000_0000n;
    // The PGD entry points back at the PGD itself, at every level.
    mem.writeU64(pgd + idx(va, 39) * 8n, pgd | 0x63n);
    const space = await KernelAddressSpace.create(dump);
    const err = await space.vtop(va).catch((e) => e);
    expect(err).toBeInstanceOf(TranslationError);
    expect(err.entries.length).toBeGreaterThanOrEqual(1);
    expect(err.entries.length).toBeLessThanOrEqual(4);
    const r = await space.read(0xffff_c900_1000_0000n, 16);
    expect(r.gaps).toEqual([expect.objectContaining({ offset: 0, length: 16, reason: 'not-mapped' })]);
  });
});

describe('aarch64', () => {
  it.each([
    // granule, VA bits, expected level names, index bits of the top level
    [4096, 39, ['pgd', 'pmd', 'pte'], 9],
    [4096, 48, ['pgd', 'pud', 'pmd', 'pte'], 9],
    [16384, 36, ['pgd', 'pte'], 11],
    [16384, 47, ['pgd', 'pmd', 'pte'], 11],
    [16384, 48, ['pgd', 'pud', 'pmd', 'pte'], 1],
    [65536, 42, ['pgd', 'pte'], 13],
    [65536, 48, ['pgd', 'pmd', 'pte'], 6],
    [65536, 52, ['pgd', 'pmd', 'pte'], 10],
  ])(
    '%i-byte granule, %i-bit VA: levels %j, top level has %i index bits',
    (granule, vaBits, names, topBits) => {
      const f = aarch64PageTableFormat(granule, vaBits, vaBits === 52);
      expect(f.levels.map((l) => l.name)).toEqual(names);
      expect(f.levels[0]!.bits).toBe(topBits);
      expect(f.levels[f.levels.length - 1]!.shift).toBe(Math.log2(granule));
    },
  );

  async function walk(
    granule: number,
    vaBits: number,
    va: bigint,
    build: (mem: SparseMemory, f: ReturnType<typeof aarch64PageTableFormat>) => void,
  ) {
    const mem = new SparseMemory(granule);
    const f = aarch64PageTableFormat(granule, vaBits, vaBits === 52);
    build(mem, f);
    return walkPageTable(f, 0x4000_0000n, va, async (pa) => {
      const r = await mem.read(pa, 8);
      return r.gaps.length ? undefined : new DataView(r.bytes.buffer).getBigUint64(0, true);
    });
  }

  it('16K granule, 47-bit VA: a page and a 32 MiB block', async () => {
    const va = (0xffff_8000_1234_5678n & ((1n << 47n) - 1n)) | (0xffffn << 47n);
    const r = await walk(16384, 47, va, (mem, f) => {
      const [l0, l1, l2] = f.levels;
      mem.writeU64(0x4000_0000n + idx(va, l0!.shift, l0!.bits) * 8n, 0x4100_0000n | 3n);
      mem.writeU64(0x4100_0000n + idx(va, l1!.shift, l1!.bits) * 8n, 0x4200_0000n | 3n);
      mem.writeU64(0x4200_0000n + idx(va, l2!.shift, l2!.bits) * 8n, 0x8_8888_c000n | 0x703n);
    });
    expect(r.ok && hex(r.physical)).toBe(hex(0x8_8888_c000n + (va & 0x3fffn)));
    const vb = va + 0x400_0000n;
    const b = await walk(16384, 47, vb, (mem, f) => {
      const [l0, l1] = f.levels;
      mem.writeU64(0x4000_0000n + idx(vb, l0!.shift, l0!.bits) * 8n, 0x4100_0000n | 3n);
      mem.writeU64(0x4100_0000n + idx(vb, l1!.shift, l1!.bits) * 8n, 0x9_0000_0000n | 0x701n); // block
    });
    expect(b.ok && b.pageSize).toBe(32 * 1024 * 1024);
    expect(b.ok && hex(b.physical)).toBe(hex(0x9_0000_0000n + (vb & 0x1ff_ffffn)));
  });

  it('64K granule with 52-bit output addresses (FEAT_LPA bits 15:12)', async () => {
    const va = 0xfff0_0000_0001_0123n;
    const r = await walk(65536, 52, va, (mem, f) => {
      const [l0, l1, l2] = f.levels;
      mem.writeU64(0x4000_0000n + idx(va, l0!.shift, l0!.bits) * 8n, 0x4001_0000n | 3n);
      mem.writeU64(0x4001_0000n + idx(va, l1!.shift, l1!.bits) * 8n, 0x4002_0000n | 3n);
      // PA 0x000a_1234_5678_0000: bits 51:48 (0xa) live in descriptor bits 15:12.
      mem.writeU64(
        0x4002_0000n + idx(va, l2!.shift, l2!.bits) * 8n,
        0x0000_1234_5678_0000n | (0xan << 12n) | 0x703n,
      );
    });
    expect(r.ok && hex(r.physical)).toBe('a123456780123');
  });

  it('an invalid descriptor stops the walk with the entries read so far', async () => {
    const va = 0xffff_0000_0000_0000n;
    const r = await walk(4096, 48, va, (mem) => {
      mem.writeU64(0x4000_0000n + idx(va, 39) * 8n, 0x4100_0000n | 3n);
      mem.writeU64(0x4100_0000n + idx(va, 30) * 8n, 0x2n); // reserved type
    });
    expect(r.ok).toBe(false);
    expect(r.entries).toHaveLength(2);
    expect(!r.ok && r.why).toMatch(/pud entry .*reserved/);
  });
});
