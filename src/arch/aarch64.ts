import { type ArchInfo, PRSTATUS_64, wordRegisters } from './types';

/** struct user_pt_regs: x0-x30, sp, pc, pstate. */
const REGISTERS = [...Array.from({ length: 31 }, (_, i) => `x${i}`), 'sp', 'pc', 'pstate'];

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
};
