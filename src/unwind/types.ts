import type { ArchInfo } from '../arch/types';
import type { Symbolizer, SymbolTable } from '../symbols/symbolTable';
import type { VirtualMemory } from '../translate/types';

/** How a frame was found. */
export type FrameSource =
  /** The saved registers of the CPU (NT_PRSTATUS). */
  | 'registers'
  /** ORC unwind tables (x86_64). */
  | 'orc'
  /** Frame records / frame pointers. */
  | 'frame-pointer'
  /** A pt_regs on the stack (exception, interrupt or system-call entry). */
  | 'exception'
  /** A text address found by scanning the stack: uncertain (crash's `bt -t`). */
  | 'stack-scan';

export interface Frame {
  pc: bigint;
  /** Stack pointer in this frame. */
  sp: bigint;
  /** Canonical frame address (the caller's sp) when the unwinder computed one. */
  cfa?: bigint;
  /** Registers known in this frame (all of them for the first frame and after a pt_regs). */
  registers: Map<string, bigint>;
  source: FrameSource;
  /** False for guesses (stack scan) and frames after an unreliable step. */
  reliable: boolean;
  /** The pc is a return address: symbolize pc − 1 (the call), show pc. */
  isReturnAddress: boolean;
  /** The frame runs in user mode (the bottom of a system call or an interrupted user task). */
  userMode: boolean;
}

export interface UnwindResult {
  frames: Frame[];
  /** Why unwinding stopped, when it stopped early (not at the end of the stack). */
  stopReason?: string;
}

/** Code outside the kernel image, a loaded module: its text, and where its own ORC tables lie. */
export interface ModuleCode {
  name: string;
  start: bigint;
  end: bigint;
  /** x86_64: `mod->arch.orc_unwind_ip`, `orc_unwind`, `num_orcs` (sorted by the loader). */
  orc?: { ipTable: bigint; entryTable: bigint; count: number };
}

export interface UnwindContext {
  arch: ArchInfo;
  memory: VirtualMemory;
  symbols: SymbolTable | undefined;
  /** Loaded modules: their text counts as kernel text, their ORC tables unwind their frames. */
  modules?: readonly ModuleCode[];
  /** Names functions in modules too (for the guesses that need a function's start); else `symbols`. */
  symbolizer?: Symbolizer;
  /** Kernel version [major, minor] from OSRELEASE, for table layouts that changed across releases. */
  kernelVersion: readonly [number, number] | undefined;
  signal?: AbortSignal;
}

export const MAX_FRAMES = 256;

export function parseKernelVersion(osrelease: string | undefined): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(osrelease ?? '');
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}
