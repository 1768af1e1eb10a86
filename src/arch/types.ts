import type { VirtualSegment } from '../dump/types';
import type { VmcoreInfo } from '../dump/vmcoreinfo';
import type { PageTableFormat } from '../translate/pageWalk';

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
  /** Status registers whose bits are shown decoded (eflags, pstate…). */
  flagRegisters?: Readonly<Record<string, readonly FlagField[]>>;
  /** Registers that hold selectors or status, not addresses (no memory reference). */
  nonPointerRegisters?: readonly string[];
  /** Kernel address translation, for architectures that have it. */
  translation?: ArchTranslation;
}

/** A named bit or bit field of a status register. */
export interface FlagField {
  name: string;
  bit: number;
  /** Width in bits (default 1). */
  width?: number;
  description: string;
}

/** The named fields of a status-register value that are set (or non-zero). */
export function decodeFlags(
  value: bigint,
  fields: readonly FlagField[],
): { field: FlagField; value: bigint }[] {
  return fields
    .map((field) => ({
      field,
      value: (value >> BigInt(field.bit)) & ((1n << BigInt(field.width ?? 1)) - 1n),
    }))
    .filter((f) => f.value !== 0n || (f.field.width ?? 1) > 1);
}

/** Lay out consecutive word-sized registers starting at `base`. */
export function wordRegisters(names: readonly string[], base: number, size: 4 | 8): RegisterDef[] {
  return names.map((name, i) => ({ name, offset: base + i * size, size }));
}

/** Offsets of pr_reg and pr_pid in struct elf_prstatus, by long width. */
export const PRSTATUS_64 = { pidOffset: 32, regOffset: 112 } as const;
export const PRSTATUS_32 = { pidOffset: 24, regOffset: 72 } as const;

/** A virtual range the kernel maps linearly onto physical memory. */
export interface LinearRegion {
  name: 'direct-map' | 'kernel-image';
  start: bigint;
  /** Exclusive. */
  end: bigint;
  /** Physical address of `start` (mod 2^64). */
  physStart: bigint;
  /** True when the bounds are known exactly (not just the region the kernel reserves for it). */
  exact: boolean;
}

/** What an architecture needs from the dump to translate kernel addresses. */
export interface TranslationContext {
  vmcoreinfo: VmcoreInfo | undefined;
  virtualSegments: readonly VirtualSegment[];
  pageSize: number;
  /** phys_base from a kdump sub-header, when the container has one. */
  headerPhysBase?: bigint;
}

export interface KernelTranslationSetup {
  format: PageTableFormat;
  /** Physical address of the kernel's top-level page table. */
  root: bigint;
  linear: LinearRegion[];
  /** Canonical form of a kernel virtual address (tags stripped), or a reason it is not one. */
  canonical(va: bigint): bigint | string;
  /** Region where the direct map may start, for probing when no container or VMCOREINFO says. */
  directMapSearch?: { start: bigint; end: bigint; align: bigint };
  /** How each parameter was found, for `vmcore info` and error messages. */
  facts: Record<string, string>;
}

export interface ArchTranslation {
  /** The page-table setup, or a message saying which VMCOREINFO keys are missing. */
  setup(ctx: TranslationContext): KernelTranslationSetup | string;
}
