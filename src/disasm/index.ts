import type { ArchInfo } from '../arch/types';
import { Aarch64Disassembler } from './aarch64';
import type { Disassembler } from './types';
import { X86_64Disassembler } from './x86_64';

export type { Disassembler, Instruction } from './types';

const aarch64: Map<boolean, Promise<Aarch64Disassembler>> = new Map();

/**
 * The disassembler for an architecture, when the project has one. Asynchronous because some
 * disassemblers (Capstone for aarch64) instantiate WebAssembly that way; each is made once.
 */
export async function disassemblerFor(
  arch: ArchInfo,
  options: { bigEndian?: boolean } = {},
): Promise<Disassembler | undefined> {
  if (arch.name === 'x86_64') return new X86_64Disassembler();
  if (arch.name === 'aarch64') {
    const bigEndian = options.bigEndian === true;
    let made = aarch64.get(bigEndian);
    if (!made) {
      made = Aarch64Disassembler.create(bigEndian);
      // A failed load is not cached: the next request tries again and reports its own error.
      made.catch(() => aarch64.delete(bigEndian));
      aarch64.set(bigEndian, made);
    }
    return made;
  }
  return undefined;
}
