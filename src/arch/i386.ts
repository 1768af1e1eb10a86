import { type ArchInfo, PRSTATUS_32, wordRegisters } from './types';

const REGISTERS = [
  'ebx',
  'ecx',
  'edx',
  'esi',
  'edi',
  'ebp',
  'eax',
  'ds',
  'es',
  'fs',
  'gs',
  'orig_eax',
  'eip',
  'cs',
  'eflags',
  'esp',
  'ss',
];

export const i386: ArchInfo = {
  name: 'i386',
  elfMachines: [3],
  unameMachines: ['i386', 'i486', 'i586', 'i686'],
  wordSize: 4,
  prstatus: {
    size: 144,
    pidOffset: PRSTATUS_32.pidOffset,
    registers: wordRegisters(REGISTERS, PRSTATUS_32.regOffset, 4),
  },
  pc: 'eip',
  sp: 'esp',
  fp: 'ebp',
  aliases: { pc: 'eip', sp: 'esp', fp: 'ebp', flags: 'eflags' },
  isUserMode: (regs) => ((regs.get('cs') ?? 0n) & 3n) === 3n,
};
