import type { PageTableFormat } from '../translate/pageWalk';
import {
  type ArchInfo,
  type ArchTranslation,
  type FlagField,
  type LinearRegion,
  PRSTATUS_64,
  wordRegisters,
} from './types';

/** struct user_regs_struct order (indices 0-20 equal struct pt_regs). */
const REGISTERS = [
  'r15',
  'r14',
  'r13',
  'r12',
  'rbp',
  'rbx',
  'r11',
  'r10',
  'r9',
  'r8',
  'rax',
  'rcx',
  'rdx',
  'rsi',
  'rdi',
  'orig_rax',
  'rip',
  'cs',
  'eflags',
  'rsp',
  'ss',
  'fs_base',
  'gs_base',
  'ds',
  'es',
  'fs',
  'gs',
];

// ---- Address translation -------------------------------------------------------------------

const START_KERNEL_MAP = 0xffff_ffff_8000_0000n;
const U64 = (1n << 64n) - 1n;
const ADDR_MASK = 0x000f_ffff_ffff_f000n;
const PRESENT = 1n;
const PAGE_SIZE_BIT = 0x80n;
/** Non-randomized direct-map bases (4-level, 5-level): KASLR moves page_offset_base up from here. */
const DIRECT_MAP_BASE_L4 = 0xffff_8880_0000_0000n;
const DIRECT_MAP_BASE_L5 = 0xff11_0000_0000_0000n;

export function x86_64PageTableFormat(fiveLevel: boolean, smeMask: bigint): PageTableFormat {
  const levels = fiveLevel
    ? [
        { name: 'pgd', shift: 48, bits: 9 },
        { name: 'p4d', shift: 39, bits: 9 },
      ]
    : [{ name: 'pgd', shift: 39, bits: 9 }];
  levels.push(
    { name: 'pud', shift: 30, bits: 9 },
    { name: 'pmd', shift: 21, bits: 9 },
    { name: 'pte', shift: 12, bits: 9 },
  );
  const notSme = ~smeMask & U64;
  return {
    levels,
    entrySize: 8,
    decode(raw, i) {
      const e = raw & notSme;
      if ((e & PRESENT) === 0n) return { kind: 'invalid', why: 'not present' };
      const name = levels[i]!.name;
      if (name === 'pte') return { kind: 'leaf', base: e & ADDR_MASK, size: 0x1000n };
      if ((name === 'pud' || name === 'pmd') && (e & PAGE_SIZE_BIT) !== 0n) {
        // Bit 12 is the PAT bit in large entries: mask with the page size, not with ADDR_MASK.
        const size = 1n << BigInt(levels[i]!.shift);
        return { kind: 'leaf', base: e & ADDR_MASK & ~(size - 1n), size };
      }
      return { kind: 'table', next: e & ADDR_MASK };
    },
  };
}

export const x86_64Translation: ArchTranslation = {
  setup(ctx) {
    const info = ctx.vmcoreinfo;
    const facts: Record<string, string> = {};
    const rootSymbol =
      info?.symbol('init_top_pgt') ?? info?.symbol('swapper_pg_dir') ?? info?.symbol('init_level4_pgt');
    if (rootSymbol === undefined) {
      return 'VMCOREINFO has no SYMBOL(init_top_pgt) or SYMBOL(swapper_pg_dir): the kernel page table cannot be found';
    }
    const imageSegment = ctx.virtualSegments.find((s) => s.vaddr >= START_KERNEL_MAP);
    let physBase = info?.number('phys_base');
    if (physBase !== undefined) facts.physBase = 'NUMBER(phys_base)';
    else if (ctx.headerPhysBase !== undefined) {
      physBase = ctx.headerPhysBase;
      facts.physBase = 'kdump sub-header phys_base';
    } else if (imageSegment) {
      physBase = imageSegment.paddr - (imageSegment.vaddr - START_KERNEL_MAP);
      facts.physBase = 'kernel-image PT_LOAD';
    } else {
      physBase = 0n;
      facts.physBase = 'assumed 0 (no NUMBER(phys_base), sub-header or kernel-image segment)';
    }
    const fiveLevel = info?.number('pgtable_l5_enabled') === 1n;
    const smeMask = info?.numberU64('sme_mask') ?? 0n;
    const imageSize = info?.number('KERNEL_IMAGE_SIZE') ?? 1n << 30n;
    const vaBits = fiveLevel ? 57n : 48n;
    const linear: LinearRegion[] = [
      imageSegment
        ? {
            name: 'kernel-image',
            start: imageSegment.vaddr,
            end: imageSegment.vaddr + imageSegment.size,
            physStart: imageSegment.paddr,
            exact: true,
          }
        : {
            name: 'kernel-image',
            start: START_KERNEL_MAP,
            end: START_KERNEL_MAP + imageSize,
            physStart: physBase & U64,
            exact: false,
          },
    ];
    const directSegment = ctx.virtualSegments.find(
      (s) => s.vaddr < START_KERNEL_MAP && s.vaddr >> 63n === 1n,
    );
    if (directSegment) {
      const base = (directSegment.vaddr - directSegment.paddr) & U64;
      linear.push({
        name: 'direct-map',
        start: base,
        end: base + (1n << (vaBits - 2n)),
        physStart: 0n,
        exact: false,
      });
      facts.directMap = 'PT_LOAD p_vaddr − p_paddr';
    }
    facts.root = `${info?.symbol('init_top_pgt') !== undefined ? 'init_top_pgt' : 'swapper_pg_dir'} − __START_KERNEL_map + phys_base`;
    facts.levels = fiveLevel ? '5 (pgtable_l5_enabled=1)' : '4';
    return {
      format: x86_64PageTableFormat(fiveLevel, smeMask),
      root: (rootSymbol - START_KERNEL_MAP + physBase) & U64,
      linear,
      canonical(va) {
        const top = va >> (vaBits - 1n);
        const ones = (1n << (65n - vaBits)) - 1n;
        return top === ones
          ? va
          : `0x${va.toString(16)} is not a canonical kernel address (${vaBits}-bit virtual addresses)`;
      },
      directMapSearch: directSegment
        ? undefined
        : {
            start: fiveLevel ? DIRECT_MAP_BASE_L5 : DIRECT_MAP_BASE_L4,
            end: START_KERNEL_MAP,
            align: 1n << 30n,
          },
      facts,
    };
  },
};

const EFLAGS: FlagField[] = [
  { name: 'CF', bit: 0, description: 'carry' },
  { name: 'PF', bit: 2, description: 'parity' },
  { name: 'AF', bit: 4, description: 'auxiliary carry' },
  { name: 'ZF', bit: 6, description: 'zero' },
  { name: 'SF', bit: 7, description: 'sign' },
  { name: 'TF', bit: 8, description: 'trap (single step)' },
  { name: 'IF', bit: 9, description: 'interrupts enabled' },
  { name: 'DF', bit: 10, description: 'direction' },
  { name: 'OF', bit: 11, description: 'overflow' },
  { name: 'IOPL', bit: 12, width: 2, description: 'I/O privilege level' },
  { name: 'NT', bit: 14, description: 'nested task' },
  { name: 'RF', bit: 16, description: 'resume' },
  { name: 'VM', bit: 17, description: 'virtual-8086 mode' },
  { name: 'AC', bit: 18, description: 'alignment check / SMAP access' },
  { name: 'VIF', bit: 19, description: 'virtual interrupt' },
  { name: 'VIP', bit: 20, description: 'virtual interrupt pending' },
  { name: 'ID', bit: 21, description: 'CPUID available' },
];

export const x86_64: ArchInfo = {
  name: 'x86_64',
  elfMachines: [62],
  unameMachines: ['x86_64', 'amd64'],
  wordSize: 8,
  prstatus: {
    size: 336,
    pidOffset: PRSTATUS_64.pidOffset,
    registers: wordRegisters(REGISTERS, PRSTATUS_64.regOffset, 8),
  },
  pc: 'rip',
  sp: 'rsp',
  fp: 'rbp',
  aliases: { pc: 'rip', sp: 'rsp', fp: 'rbp', rflags: 'eflags', flags: 'eflags' },
  isUserMode: (regs) => ((regs.get('cs') ?? 0n) & 3n) === 3n,
  translation: x86_64Translation,
  flagRegisters: { eflags: EFLAGS },
  nonPointerRegisters: ['cs', 'ss', 'ds', 'es', 'fs', 'gs', 'eflags', 'orig_rax'],
};
