import { type ArchInfo, PRSTATUS_64, wordRegisters } from './types';

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
};
