/**
 * Which CPU panicked, and which CPU each NT_PRSTATUS note belongs to.
 *
 * - `panic_cpu` (atomic_t, an int; −1 when no CPU panicked; set by panic() and crash_kexec() since
 *   ~v4.5) read at its symbol address.
 * - Notes → CPUs: the note order skips offline CPUs and CPUs that did not answer the crash IPI/NMI, so
 *   note i is not CPU i. For a real crash (VMCOREINFO has CRASHTIME; not s390x) the kernel's per-CPU
 *   `crash_notes` buffers are read (`crash_notes` is a per-CPU pointer: buffer = value +
 *   `__per_cpu_offset[cpu]`) and matched byte for byte with the dump's notes, as drgn does. QEMU
 *   (no CRASHTIME) and s390x write `pr_pid = cpu + 1`. Otherwise the numbers are unknown, and said so.
 */
import type { ArchName } from '../arch/types';
import type { PrStatus } from '../dump/types';
import type { VmcoreInfo } from '../dump/vmcoreinfo';
import type { SymbolTable } from '../symbols/symbolTable';
import { readFully, readPointer, readU32, type VirtualMemory } from '../translate/types';

/** NR_CPUS is at most 8192 in every config we know of. */
const MAX_CPUS = 8192;
const NT_PRSTATUS = 1;

export interface PanicCpu {
  /** The CPU number, −1 when the kernel says none panicked, undefined when it cannot be read. */
  cpu: number | undefined;
  /** Where the answer came from or why there is none. */
  note: string;
}

/** Read `panic_cpu` through the symbol table. */
export async function readPanicCpu(mem: VirtualMemory, symbols: SymbolTable | undefined): Promise<PanicCpu> {
  const sym = symbols?.lookup('panic_cpu');
  if (!sym) {
    return {
      cpu: undefined,
      note: symbols
        ? `panic_cpu is not in the symbol table (${symbols.description}; kallsyms without CONFIG_KALLSYMS_ALL has only functions): give a System.map or vmlinux`
        : 'no symbols to find panic_cpu: give a System.map or vmlinux',
    };
  }
  try {
    const b = await readFully(mem, sym.address, 4, 'panic_cpu');
    const v = new DataView(b.buffer, b.byteOffset, 4).getInt32(0, mem.littleEndian);
    if (v < -1 || v >= MAX_CPUS) return { cpu: undefined, note: `panic_cpu reads ${v}, not a CPU number` };
    return {
      cpu: v,
      note: v === -1 ? 'panic_cpu is -1: no CPU panicked' : `panic_cpu at 0x${sym.address.toString(16)}`,
    };
  } catch (err) {
    return { cpu: undefined, note: `panic_cpu cannot be read: ${(err as Error).message}` };
  }
}

export type CpuMappingMethod = 'crash_notes' | 'pid' | 'unknown';

export interface CpuMapping {
  /** CPU number per NT_PRSTATUS note (index = note index among the NT_PRSTATUS notes), undefined when unknown. */
  cpus: (number | undefined)[];
  method: CpuMappingMethod;
  /** How the numbers were found, or why they could not be, said plainly. */
  note: string;
}

export interface CpuMappingInput {
  arch: ArchName;
  vmcoreinfo: VmcoreInfo | undefined;
  prstatus: readonly PrStatus[];
}

/** Map each NT_PRSTATUS note to its CPU number. */
export async function mapNotesToCpus(
  dump: CpuMappingInput,
  mem: VirtualMemory,
  symbols: SymbolTable | undefined,
): Promise<CpuMapping> {
  const notes = dump.prstatus;
  const unknown = (why: string): CpuMapping => ({
    cpus: notes.map(() => undefined),
    method: 'unknown',
    note: `CPU numbers cannot be determined: ${why}. Note order follows CPU order but skips offline CPUs and CPUs that did not answer the crash interrupt.`,
  });
  if (notes.length === 0) return { cpus: [], method: 'unknown', note: 'the dump has no NT_PRSTATUS notes' };
  const crashTime = dump.vmcoreinfo?.crashTime;
  if (crashTime === undefined || dump.arch === 's390x') {
    // QEMU dump-guest-memory and s390 stand-alone/kdump dumps number their notes pid = CPU + 1.
    const cpus = notes.map((p) => p.pid - 1);
    const distinct = new Set(cpus).size === cpus.length;
    if (!distinct || cpus.some((c) => c < 0 || c >= MAX_CPUS)) {
      return unknown(
        `the dump was not written by a crashing kernel (no CRASHTIME), but the notes' pid fields (${notes.map((p) => p.pid).join(', ')}) are not the CPU numbers + 1 that QEMU writes`,
      );
    }
    return {
      cpus,
      method: 'pid',
      note:
        dump.arch === 's390x'
          ? 'CPU numbers from the notes (s390 writes pid = CPU + 1)'
          : 'CPU numbers from the notes: no CRASHTIME, so this is a hypervisor snapshot (QEMU writes pid = CPU + 1)',
    };
  }

  const crashNotes = symbols?.lookup('crash_notes');
  const perCpuOffset = symbols?.lookup('__per_cpu_offset');
  if (!crashNotes || !perCpuOffset) {
    const missing = [!crashNotes && 'crash_notes', !perCpuOffset && '__per_cpu_offset']
      .filter(Boolean)
      .join(' and ');
    return unknown(
      symbols
        ? `${missing} ${missing.includes(' and ') ? 'are' : 'is'} not in the symbol table (${symbols.description}); a System.map or vmlinux has them`
        : 'no symbols to find crash_notes: give a System.map or vmlinux',
    );
  }
  try {
    const ws = mem.wordSize;
    let nrCpus = MAX_CPUS;
    const nrSym = symbols!.lookup('nr_cpu_ids');
    if (nrSym) {
      const n = await readU32(mem, nrSym.address, 'nr_cpu_ids').catch(() => undefined);
      if (n !== undefined && n > 0 && n <= MAX_CPUS) nrCpus = n;
    }
    const base = await readPointer(mem, crashNotes.address, 'crash_notes');
    if (base === 0n) return unknown('crash_notes is NULL (no crash kernel was set up)');
    // __per_cpu_offset[] is NR_CPUS long; read what nr_cpu_ids says (or as much as is readable).
    const { bytes: offBytes, gaps } = await mem.read(perCpuOffset.address, nrCpus * ws);
    const readable = gaps.length > 0 ? Math.floor(Math.min(...gaps.map((g) => g.offset)) / ws) : nrCpus;
    const offs = new DataView(offBytes.buffer, offBytes.byteOffset, offBytes.byteLength);
    const cpus: (number | undefined)[] = notes.map(() => undefined);
    let mapped = 0;
    const mask = ws === 8 ? (1n << 64n) - 1n : (1n << 32n) - 1n;
    const noteSize = Math.max(...notes.map((p) => p.desc.length)) + 24;
    for (let cpu = 0; cpu < readable && mapped < notes.length; cpu++) {
      const off =
        ws === 8
          ? offs.getBigUint64(cpu * 8, mem.littleEndian)
          : BigInt(offs.getUint32(cpu * 4, mem.littleEndian));
      const buf = await mem.read((base + off) & mask, noteSize);
      if (buf.gaps.length > 0) continue;
      const desc = prstatusInNote(buf.bytes, mem.littleEndian);
      if (!desc) continue;
      const i = notes.findIndex((p, k) => cpus[k] === undefined && sameBytes(p.desc, desc));
      if (i >= 0) {
        cpus[i] = cpu;
        mapped++;
      }
    }
    if (mapped === 0)
      return unknown(`none of the ${readable} per-CPU crash_notes buffers holds one of the dump's notes`);
    const missing = notes.length - mapped;
    return {
      cpus,
      method: 'crash_notes',
      note:
        missing === 0
          ? 'CPU numbers from the per-CPU crash_notes buffers'
          : `CPU numbers from the per-CPU crash_notes buffers; ${missing} note(s) match no CPU's buffer and stay unknown`,
    };
  } catch (err) {
    return unknown(`reading crash_notes failed: ${(err as Error).message}`);
  }
}

/** The NT_PRSTATUS descriptor at the start of a crash_notes buffer (`CORE` note), if there is one. */
function prstatusInNote(b: Uint8Array, le: boolean): Uint8Array | undefined {
  if (b.length < 12) return undefined;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const namesz = dv.getUint32(0, le);
  const descsz = dv.getUint32(4, le);
  const type = dv.getUint32(8, le);
  if (type !== NT_PRSTATUS || namesz !== 5 || descsz === 0) return undefined;
  const name = String.fromCharCode(...b.subarray(12, 16));
  if (name !== 'CORE') return undefined;
  const start = 12 + ((namesz + 3) & ~3);
  if (start + descsz > b.length) return undefined;
  return b.subarray(start, start + descsz);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
