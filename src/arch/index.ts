import { aarch64 } from './aarch64';
import { arm } from './arm';
import { i386 } from './i386';
import { ppc64 } from './ppc64';
import { riscv64 } from './riscv64';
import { s390x } from './s390x';
import type { ArchInfo, ArchName } from './types';
import { x86_64 } from './x86_64';

export const ARCHES: readonly ArchInfo[] = [x86_64, aarch64, i386, arm, ppc64, s390x, riscv64];

export function archByName(name: ArchName): ArchInfo {
  return ARCHES.find((a) => a.name === name)!;
}

export function archByElfMachine(machine: number): ArchInfo | undefined {
  return ARCHES.find((a) => a.elfMachines.includes(machine));
}

export function archByUname(machine: string): ArchInfo | undefined {
  const m = machine.trim().toLowerCase();
  return ARCHES.find((a) => a.unameMachines.includes(m)) ?? (m.startsWith('arm') ? arm : undefined);
}

export type { ArchInfo, ArchName } from './types';
