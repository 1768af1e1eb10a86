import type { ArchInfo } from '../arch/types';
import type { Note } from './notes';
import type { ByteSource } from './source';
import type { VmcoreInfo } from './vmcoreinfo';

/**
 * Why bytes of a read are not available. Never silently zeros:
 * - `excluded`: the page existed but the dump producer filtered it out (makedumpfile -d, or an ELF
 *   segment with p_filesz < p_memsz);
 * - `not-in-dump`: the address is not RAM the dump describes (a hole, beyond the last page);
 * - `truncated`: the dump says the bytes are there but the file ends first;
 * - `lost`: an incomplete dump marks the page as never written (page descriptor offset 0);
 * - `corrupt`: the stored page cannot be decoded;
 * - `not-mapped`: (virtual reads) no translation for the address.
 */
export type UnavailableReason = 'excluded' | 'not-in-dump' | 'truncated' | 'lost' | 'corrupt' | 'not-mapped';

export interface Gap {
  /** Offset into the requested range. */
  offset: number;
  length: number;
  reason: UnavailableReason;
  detail?: string;
}

/** Bytes of a read; ranges listed in `gaps` are zero in `bytes` and must not be shown as data. */
export interface ReadResult {
  bytes: Uint8Array;
  gaps: Gap[];
}

export interface PhysicalRange {
  start: bigint;
  /** Exclusive end. */
  end: bigint;
}

/** Physical memory as the dump stores it. */
export interface PhysicalMemory {
  readonly pageSize: number;
  /** Physical ranges the dump describes (RAM in the dump, whether or not every page is present). */
  ranges(): readonly PhysicalRange[];
  read(paddr: bigint, length: number): Promise<ReadResult>;
}

/** A PT_LOAD-style virtual→physical linear mapping the container itself declares (ELF p_vaddr). */
export interface VirtualSegment {
  vaddr: bigint;
  paddr: bigint;
  size: bigint;
}

/** One NT_PRSTATUS note, decoded. */
export interface PrStatus {
  /** Index among the dump's NT_PRSTATUS notes (not necessarily the CPU number). */
  noteIndex: number;
  pid: number;
  /** Register name (lowercase, pt_regs/user_regs naming) → value, in the arch's order. */
  registers: Map<string, bigint>;
  /** The raw descriptor, for arch code that needs more than the registers. */
  desc: Uint8Array;
}

/** QEMU's per-vCPU `QEMU` note (x86): registers plus control and segment state. */
export interface QemuCpuState {
  noteIndex: number;
  version: number;
  registers: Map<string, bigint>;
  segments: Map<string, { selector: number; limit: number; flags: number; base: bigint }>;
  cr: bigint[];
}

/** Something the dump lacks or could not provide, said plainly. */
export interface DumpProblem {
  kind: 'truncated' | 'incomplete' | 'excluded-pages' | 'no-vmcoreinfo' | 'notes' | 'corrupt' | 'other';
  message: string;
}

export type DumpFormat = 'elf' | 'kdump' | 'diskdump';

export interface Dump {
  readonly path: string;
  readonly format: DumpFormat;
  /** `flattened` when read in place from a makedumpfile -F stream. */
  readonly container: 'plain' | 'flattened';
  /** Page compression in use ('none' for ELF and uncompressed pages). */
  readonly compression: readonly string[];
  /** Producer facts worth showing (e.g. ELF class, header version, dump level). */
  readonly details: Record<string, string | number | boolean>;
  readonly arch: ArchInfo;
  readonly littleEndian: boolean;
  readonly notes: readonly Note[];
  readonly vmcoreinfo: VmcoreInfo | undefined;
  readonly prstatus: readonly PrStatus[];
  readonly qemuCpuStates: readonly QemuCpuState[];
  readonly memory: PhysicalMemory;
  readonly virtualSegments: readonly VirtualSegment[];
  /** x86_64 phys_base recorded by the container (kdump sub-header), when it has one. */
  readonly headerPhysBase?: bigint;
  readonly problems: readonly DumpProblem[];
  readonly source: ByteSource;
  close(): Promise<void>;
}
