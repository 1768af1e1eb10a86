import { type ArchInfo, PRSTATUS_64, wordRegisters } from './types';

/** struct pt_regs (48 words; the last four unused). Big endian (ppc64) or little (ppc64le). */
const REGISTERS = [
  ...Array.from({ length: 32 }, (_, i) => `r${i}`),
  'nip',
  'msr',
  'orig_gpr3',
  'ctr',
  'link',
  'xer',
  'ccr',
  'softe',
  'trap',
  'dar',
  'dsisr',
  'result',
];

export const ppc64: ArchInfo = {
  name: 'ppc64',
  elfMachines: [21],
  unameMachines: ['ppc64', 'ppc64le'],
  wordSize: 8,
  prstatus: {
    size: 504,
    pidOffset: PRSTATUS_64.pidOffset,
    registers: wordRegisters(REGISTERS, PRSTATUS_64.regOffset, 8),
  },
  pc: 'nip',
  sp: 'r1',
  lr: 'link',
  aliases: { pc: 'nip', sp: 'r1', lr: 'link', toc: 'r2' },
  // MSR_PR (problem state) is bit 14 (0x4000).
  isUserMode: (regs) => ((regs.get('msr') ?? 0n) & 0x4000n) !== 0n,
};
