import type { ArchInfo } from '../arch/types';
import { ByteView } from '../util/bytes';
import { type Note, NT_PRSTATUS } from './notes';
import type { DumpProblem, PrStatus, QemuCpuState } from './types';
import { VmcoreInfo } from './vmcoreinfo';

export interface NoteContents {
  prstatus: PrStatus[];
  qemuCpuStates: QemuCpuState[];
  vmcoreinfo: VmcoreInfo | undefined;
  problems: DumpProblem[];
}

/** Decode the notes every dump format carries: NT_PRSTATUS, VMCOREINFO and QEMU's CPU state. */
export function interpretNotes(notes: readonly Note[], arch: ArchInfo, littleEndian: boolean): NoteContents {
  const prstatus: PrStatus[] = [];
  const qemuCpuStates: QemuCpuState[] = [];
  const problems: DumpProblem[] = [];
  let vmcoreinfo: VmcoreInfo | undefined;
  for (const note of notes) {
    if (note.name === 'CORE' && note.type === NT_PRSTATUS) {
      const decoded = decodePrStatus(note, arch, littleEndian, prstatus.length);
      if (typeof decoded === 'string') problems.push({ kind: 'notes', message: decoded });
      else prstatus.push(decoded);
    } else if (note.name === 'VMCOREINFO' && note.type === 0 && vmcoreinfo === undefined) {
      vmcoreinfo = VmcoreInfo.fromBytes(note.desc);
    } else if (note.name === 'QEMU' && note.type === 0) {
      const state = decodeQemuCpuState(note, littleEndian, qemuCpuStates.length);
      if (state) qemuCpuStates.push(state);
    }
  }
  if (!vmcoreinfo) {
    problems.push({
      kind: 'no-vmcoreinfo',
      message:
        'the dump has no VMCOREINFO note: kernel release, page tables, symbols and the kernel log cannot be located without it',
    });
  }
  return { prstatus, qemuCpuStates, vmcoreinfo, problems };
}

export function decodePrStatus(
  note: Note,
  arch: ArchInfo,
  littleEndian: boolean,
  noteIndex: number,
): PrStatus | string {
  const layout = arch.prstatus;
  const last = layout.registers[layout.registers.length - 1]!;
  const needed = last.offset + last.size;
  if (note.desc.length < needed) {
    return `NT_PRSTATUS note #${noteIndex} at file offset 0x${note.fileOffset.toString(16)} is ${note.desc.length} bytes; ${arch.name} needs ${layout.size}`;
  }
  const v = new ByteView(note.desc, littleEndian);
  const registers = new Map<string, bigint>();
  for (const r of layout.registers) registers.set(r.name, v.word(r.offset, r.size));
  return { noteIndex, pid: v.s32(layout.pidOffset), registers, desc: note.desc };
}

const QEMU_GPRS = [
  'rax',
  'rbx',
  'rcx',
  'rdx',
  'rsi',
  'rdi',
  'rsp',
  'rbp',
  'r8',
  'r9',
  'r10',
  'r11',
  'r12',
  'r13',
  'r14',
  'r15',
  'rip',
  'rflags',
];
const QEMU_SEGMENTS = ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'ldt', 'tr', 'gdt', 'idt'];
const QEMU_STATE_SIZE = 432;

/** QEMUCPUState (target/i386/arch_dump.c): version, size, GPRs, 10 segment records, CR0-CR4. */
export function decodeQemuCpuState(
  note: Note,
  littleEndian: boolean,
  noteIndex: number,
): QemuCpuState | undefined {
  if (note.desc.length < QEMU_STATE_SIZE) return undefined;
  const v = new ByteView(note.desc, littleEndian);
  const registers = new Map<string, bigint>();
  QEMU_GPRS.forEach((name, i) => {
    registers.set(name, v.u64(8 + i * 8));
  });
  const segments = new Map<string, { selector: number; limit: number; flags: number; base: bigint }>();
  QEMU_SEGMENTS.forEach((name, i) => {
    const o = 152 + i * 24;
    segments.set(name, { selector: v.u32(o), limit: v.u32(o + 4), flags: v.u32(o + 8), base: v.u64(o + 16) });
  });
  const cr = Array.from({ length: 5 }, (_, i) => v.u64(392 + i * 8));
  return { noteIndex, version: v.u32(0), registers, segments, cr };
}
