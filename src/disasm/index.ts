import type { ArchInfo } from '../arch/types';
import type { Disassembler } from './types';
import { X86_64Disassembler } from './x86_64';

export type { Disassembler, Instruction } from './types';

/** The disassembler for an architecture, when the project has one. */
export function disassemblerFor(arch: ArchInfo): Disassembler | undefined {
  return arch.name === 'x86_64' ? new X86_64Disassembler() : undefined;
}
