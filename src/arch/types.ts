export type ArchName = 'x86_64' | 'i386' | 'aarch64' | 'arm' | 'ppc64' | 's390x' | 'riscv64';

export interface RegisterDef {
  name: string;
  /** Byte offset within the NT_PRSTATUS descriptor. */
  offset: number;
  size: 4 | 8;
}

/** What one architecture contributes: its NT_PRSTATUS layout and register roles. */
export interface ArchInfo {
  name: ArchName;
  /** ELF e_machine values that mean this arch. */
  elfMachines: readonly number[];
  /** uname -m spellings (kdump-compressed headers carry `utsname.machine`). */
  unameMachines: readonly string[];
  /** Pointer size of the crashed kernel. */
  wordSize: 4 | 8;
  prstatus: {
    /** sizeof(struct elf_prstatus): the expected NT_PRSTATUS descsz. */
    size: number;
    pidOffset: number;
    registers: readonly RegisterDef[];
  };
  /** Program counter, stack pointer, frame pointer and link register names. */
  pc: string;
  sp: string;
  fp?: string;
  lr?: string;
  /** Other spellings accepted for registers (`pc` → `rip`). */
  aliases: Readonly<Record<string, string>>;
  /** True when saved registers are a user-mode context (nothing kernel-side to unwind). */
  isUserMode(registers: ReadonlyMap<string, bigint>): boolean;
}

/** Lay out consecutive word-sized registers starting at `base`. */
export function wordRegisters(names: readonly string[], base: number, size: 4 | 8): RegisterDef[] {
  return names.map((name, i) => ({ name, offset: base + i * size, size }));
}

/** Offsets of pr_reg and pr_pid in struct elf_prstatus, by long width. */
export const PRSTATUS_64 = { pidOffset: 32, regOffset: 112 } as const;
export const PRSTATUS_32 = { pidOffset: 24, regOffset: 72 } as const;
