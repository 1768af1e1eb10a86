import type { PageTableFormat, PageTableLevel } from '../translate/pageWalk';
import {
  type ArchInfo,
  type ArchTranslation,
  type FlagField,
  type LinearRegion,
  PRSTATUS_64,
  wordRegisters,
} from './types';

/** struct user_pt_regs: x0-x30, sp, pc, pstate. */
const REGISTERS = [...Array.from({ length: 31 }, (_, i) => `x${i}`), 'sp', 'pc', 'pstate'];

// ---- Address translation -------------------------------------------------------------------

const U64 = (1n << 64n) - 1n;
const LEVEL_NAMES_BY_DEPTH: Record<number, string[]> = {
  2: ['pgd', 'pte'],
  3: ['pgd', 'pmd', 'pte'],
  4: ['pgd', 'pud', 'pmd', 'pte'],
  5: ['pgd', 'p4d', 'pud', 'pmd', 'pte'],
};

/**
 * Stage-1 translation tables for the kernel half (TTBR1): 4K/16K/64K granules, 2 to 5 levels.
 * `paBits52` selects where output-address bits 48-51 live (64K: FEAT_LPA in bits 15:12;
 * 4K/16K: LPA2 in bits 9:8 with bits 49:48 in place).
 */
export function aarch64PageTableFormat(pageSize: number, vaBits: number, paBits52 = false): PageTableFormat {
  const shift = Math.log2(pageSize);
  if (![12, 14, 16].includes(shift))
    throw new RangeError(`aarch64 granule ${pageSize} is not 4K, 16K or 64K`);
  const perLevel = shift - 3;
  const depth = Math.ceil((vaBits - shift) / perLevel);
  const names = LEVEL_NAMES_BY_DEPTH[depth];
  if (!names)
    throw new RangeError(`aarch64 with ${vaBits}-bit VA and ${pageSize}-byte pages needs ${depth} levels`);
  const levels: PageTableLevel[] = names.map((name, i) => {
    const levelShift = shift + perLevel * (depth - 1 - i);
    const bits = i === 0 ? vaBits - levelShift : perLevel;
    return { name, shift: levelShift, bits };
  });
  const granuleMask = BigInt(pageSize - 1);
  const outputAddress = (e: bigint): bigint => {
    if (paBits52 && shift === 16) return (e & 0x0000_ffff_ffff_0000n) | (((e >> 12n) & 0xfn) << 48n);
    if (paBits52) return (e & 0x0003_ffff_ffff_f000n & ~granuleMask) | (((e >> 8n) & 3n) << 50n);
    return e & 0x0000_ffff_ffff_ffffn & ~granuleMask;
  };
  return {
    levels,
    entrySize: 8,
    decode(e, i) {
      const type = e & 3n;
      const last = i === levels.length - 1;
      if (type === 3n) {
        return last
          ? { kind: 'leaf', base: outputAddress(e), size: BigInt(pageSize) }
          : { kind: 'table', next: outputAddress(e) };
      }
      if (type === 1n && !last) {
        const size = 1n << BigInt(levels[i]!.shift);
        return { kind: 'leaf', base: outputAddress(e) & ~(size - 1n), size };
      }
      return { kind: 'invalid', why: type === 0n ? 'not valid' : 'reserved descriptor type' };
    },
  };
}

export const aarch64Translation: ArchTranslation = {
  setup(ctx) {
    const info = ctx.vmcoreinfo;
    if (!info)
      return 'the dump has no VMCOREINFO: arm64 translation needs VA_BITS, kimage_voffset, PHYS_OFFSET and swapper_pg_dir';
    const vaBitsConfigured = info.number('VA_BITS');
    const kimageVoffset = info.numberU64('kimage_voffset');
    const physOffset = info.numberU64('PHYS_OFFSET');
    const swapper = info.symbol('swapper_pg_dir');
    const missing = [
      vaBitsConfigured === undefined && 'NUMBER(VA_BITS)',
      kimageVoffset === undefined && 'NUMBER(kimage_voffset)',
      physOffset === undefined && 'NUMBER(PHYS_OFFSET)',
      swapper === undefined && 'SYMBOL(swapper_pg_dir)',
    ].filter(Boolean);
    if (missing.length > 0)
      return `VMCOREINFO lacks ${missing.join(', ')}: arm64 kernel addresses cannot be translated`;
    const facts: Record<string, string> = {};
    const vaBits = Number(vaBitsConfigured);
    const t1sz = info.number('TCR_EL1_T1SZ');
    // The kernel's tables are built for 64 - T1SZ bits except with 64K pages (drgn's rule).
    const walkBits = t1sz !== undefined && ctx.pageSize !== 0x10000 ? 64 - Number(t1sz) : vaBits;
    facts.vaBits =
      t1sz !== undefined ? `${walkBits} (64 − TCR_EL1_T1SZ; configured ${vaBits})` : `${vaBits} (VA_BITS)`;
    const stext = info.symbol('_stext');
    // v5.4 flipped the layout: the linear map moved to the bottom of the kernel half.
    const flipped = stext === undefined || ((stext >> BigInt(vaBits - 1)) & 1n) === 1n;
    const pageOffset = flipped ? -(1n << BigInt(vaBits)) & U64 : (U64 << BigInt(vaBits - 1)) & U64;
    const vaBitsMin = vaBits === 52 ? 48 : vaBits;
    const pageEnd = flipped ? -(1n << BigInt(vaBitsMin - 1)) & U64 : U64 + 1n;
    facts.layout = flipped
      ? 'v5.4+ (linear map at the bottom of the kernel half)'
      : 'pre-v5.4 (linear map in the upper half)';
    const linear: LinearRegion[] = [
      { name: 'direct-map', start: pageOffset, end: pageEnd, physStart: physOffset!, exact: false },
    ];
    const imageSegment = ctx.virtualSegments.find((s) => ((s.vaddr - s.paddr) & U64) === kimageVoffset);
    if (imageSegment) {
      linear.push({
        name: 'kernel-image',
        start: imageSegment.vaddr,
        end: imageSegment.vaddr + imageSegment.size,
        physStart: imageSegment.paddr,
        exact: true,
      });
    }
    const tagBits = 64n - 8n;
    return {
      format: aarch64PageTableFormat(ctx.pageSize, walkBits, vaBits === 52),
      root: (swapper! - kimageVoffset!) & U64,
      linear,
      canonical(va) {
        // Kernel pointers may carry a top-byte tag (KASAN): sign-extend from bit 55.
        const v = ((va >> 55n) & 1n) === 1n ? va | (0xffn << tagBits) : va & ((1n << tagBits) - 1n);
        const high = v >> BigInt(walkBits);
        return high === (1n << BigInt(64 - walkBits)) - 1n
          ? v
          : `0x${va.toString(16)} is not a kernel (TTBR1) address for ${walkBits}-bit virtual addresses`;
      },
      facts,
    };
  },
};

const PSTATE: FlagField[] = [
  { name: 'SP', bit: 0, description: 'stack pointer select (SP_ELx)' },
  { name: 'EL', bit: 2, width: 2, description: 'exception level' },
  { name: 'F', bit: 6, description: 'FIQ masked' },
  { name: 'I', bit: 7, description: 'IRQ masked' },
  { name: 'A', bit: 8, description: 'SError masked' },
  { name: 'D', bit: 9, description: 'debug exceptions masked' },
  { name: 'BTYPE', bit: 10, width: 2, description: 'branch type (BTI)' },
  { name: 'SSBS', bit: 12, description: 'speculative store bypass safe' },
  { name: 'IL', bit: 20, description: 'illegal execution state' },
  { name: 'SS', bit: 21, description: 'software step' },
  { name: 'PAN', bit: 22, description: 'privileged access never' },
  { name: 'UAO', bit: 23, description: 'user access override' },
  { name: 'DIT', bit: 24, description: 'data-independent timing' },
  { name: 'TCO', bit: 25, description: 'tag check override (MTE)' },
  { name: 'V', bit: 28, description: 'overflow' },
  { name: 'C', bit: 29, description: 'carry' },
  { name: 'Z', bit: 30, description: 'zero' },
  { name: 'N', bit: 31, description: 'negative' },
];

export const aarch64: ArchInfo = {
  name: 'aarch64',
  elfMachines: [183],
  unameMachines: ['aarch64', 'arm64'],
  wordSize: 8,
  prstatus: {
    size: 392,
    pidOffset: PRSTATUS_64.pidOffset,
    registers: wordRegisters(REGISTERS, PRSTATUS_64.regOffset, 8),
  },
  pc: 'pc',
  sp: 'sp',
  fp: 'x29',
  lr: 'x30',
  aliases: { fp: 'x29', lr: 'x30', cpsr: 'pstate' },
  // PSTATE.M[3:2] is the exception level; EL0 is user mode.
  isUserMode: (regs) => ((regs.get('pstate') ?? 0n) & 0xcn) === 0n,
  translation: aarch64Translation,
  flagRegisters: { pstate: PSTATE },
  nonPointerRegisters: ['pstate'],
};
