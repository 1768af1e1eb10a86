import { type ArchInfo, PRSTATUS_64, type RegisterDef, wordRegisters } from './types';

const base = PRSTATUS_64.regOffset;
/** s390_regs: psw {mask, addr}, gprs r0-r15, acrs a0-a15 (u32 each), orig_gpr2. Big endian. */
const REGISTERS: RegisterDef[] = [
  ...wordRegisters(['psw_mask', 'psw_addr'], base, 8),
  ...wordRegisters(
    Array.from({ length: 16 }, (_, i) => `r${i}`),
    base + 16,
    8,
  ),
  ...wordRegisters(
    Array.from({ length: 16 }, (_, i) => `a${i}`),
    base + 144,
    4,
  ),
  { name: 'orig_gpr2', offset: base + 208, size: 8 },
];

export const s390x: ArchInfo = {
  name: 's390x',
  elfMachines: [22],
  unameMachines: ['s390x'],
  wordSize: 8,
  prstatus: { size: 336, pidOffset: PRSTATUS_64.pidOffset, registers: REGISTERS },
  pc: 'psw_addr',
  sp: 'r15',
  lr: 'r14',
  aliases: { pc: 'psw_addr', sp: 'r15', lr: 'r14', psw: 'psw_mask' },
  // PSW problem-state bit (user mode) is bit 15 of the mask (0x0001000000000000).
  isUserMode: (regs) => ((regs.get('psw_mask') ?? 0n) & 0x0001000000000000n) !== 0n,
};
