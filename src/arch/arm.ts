import { type ArchInfo, PRSTATUS_32, wordRegisters } from './types';

const REGISTERS = [...Array.from({ length: 16 }, (_, i) => `r${i}`), 'cpsr', 'orig_r0'];

export const arm: ArchInfo = {
  name: 'arm',
  elfMachines: [40],
  unameMachines: ['arm', 'armv7l', 'armv6l', 'armv5tel', 'armv7', 'armhf'],
  wordSize: 4,
  prstatus: {
    size: 148,
    pidOffset: PRSTATUS_32.pidOffset,
    registers: wordRegisters(REGISTERS, PRSTATUS_32.regOffset, 4),
  },
  pc: 'r15',
  sp: 'r13',
  fp: 'r11',
  lr: 'r14',
  aliases: { pc: 'r15', sp: 'r13', lr: 'r14', fp: 'r11', ip: 'r12' },
  // CPSR mode bits 0x10 = USR.
  isUserMode: (regs) => ((regs.get('cpsr') ?? 0n) & 0x1fn) === 0x10n,
};
