/** Output helpers shared by the `vmcore` subcommands. */
import type { ArchInfo } from '../arch/types';
import type { PrStatus } from '../dump/types';

/** Where a command writes. Tests and the real CLI pass different ones. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
}

/** `0x` + hex, zero-padded to the arch's word (16 digits on 64-bit, 8 on 32-bit). */
export function hexWord(value: bigint, wordSize: 4 | 8): string {
  return '0x' + value.toString(16).padStart(wordSize * 2, '0');
}

/** JSON with 2-space indentation and a final newline. */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? '0x' + v.toString(16) : v), 2)}\n`;
}

/** What `cpu` means when the kernel layer could not map notes to CPUs. */
export const CPU_NUMBERING_NOTE =
  'CPU numbers are the order of the NT_PRSTATUS notes (offline or unresponsive CPUs have none), not the kernel CPU ids';

/** The task running on a CPU, read from the kernel (rq->curr with BTF offsets). */
export interface TaskJson {
  /** Address of the task_struct, `0x…`. */
  address: string;
  pid: number;
  comm: string;
}

export interface CpuJson {
  /** The kernel's CPU number, or the note index when cpuNumbering is "note-order". */
  cpu: number;
  noteIndex: number;
  /** The pid in the NT_PRSTATUS note (QEMU writes CPU + 1 there; task.pid is the task's). */
  pid: number;
  comm?: string;
  panicked: boolean;
  /** The task on the CPU, null when it could not be read (taskProblem says why). */
  task: TaskJson | null;
  taskProblem?: string;
  registers: Record<string, string>;
}

export interface CpuTaskFacts {
  comm?: string;
  panicked: boolean;
  task?: { address: bigint; pid: number; comm: string };
  taskProblem?: string;
}

export function taskJson(extra: CpuTaskFacts): TaskJson | null {
  return extra.task
    ? { address: `0x${extra.task.address.toString(16)}`, pid: extra.task.pid, comm: extra.task.comm }
    : null;
}

export function cpuJson(p: PrStatus, arch: ArchInfo, cpu: number, extra: CpuTaskFacts): CpuJson {
  const out: CpuJson = {
    cpu,
    noteIndex: p.noteIndex,
    pid: p.pid,
    panicked: extra.panicked,
    task: taskJson(extra),
    registers: {},
  };
  if (extra.comm !== undefined) out.comm = extra.comm;
  if (!extra.task && extra.taskProblem) out.taskProblem = extra.taskProblem;
  out.registers = Object.fromEntries([...p.registers].map(([k, v]) => [k, hexWord(v, arch.wordSize)]));
  return out;
}

/** One register of a display row: the register's name, its label and how many hex digits to show. */
type Cell = [name: string, label: string, digits?: number];

/** x86_64 as crash's `help -r` / `bt` register block prints it, then what crash leaves out. */
const X86_64_ROWS: Cell[][] = [
  [
    ['rip', 'RIP'],
    ['rsp', 'RSP'],
    ['eflags', 'RFLAGS', 8],
  ],
  [
    ['rax', 'RAX'],
    ['rbx', 'RBX'],
    ['rcx', 'RCX'],
  ],
  [
    ['rdx', 'RDX'],
    ['rsi', 'RSI'],
    ['rdi', 'RDI'],
  ],
  [
    ['rbp', 'RBP'],
    ['r8', ' R8'],
    ['r9', ' R9'],
  ],
  [
    ['r10', 'R10'],
    ['r11', 'R11'],
    ['r12', 'R12'],
  ],
  [
    ['r13', 'R13'],
    ['r14', 'R14'],
    ['r15', 'R15'],
  ],
  [
    ['cs', 'CS', 4],
    ['ss', 'SS', 4],
  ],
  [
    ['orig_rax', 'ORIG_RAX'],
    ['fs_base', 'FS_BASE'],
    ['gs_base', 'GS_BASE'],
  ],
  [
    ['ds', 'DS', 4],
    ['es', 'ES', 4],
    ['fs', 'FS', 4],
    ['gs', 'GS', 4],
  ],
];

const I386_ROWS: Cell[][] = [
  [
    ['eax', 'EAX'],
    ['ebx', 'EBX'],
    ['ecx', 'ECX'],
    ['edx', 'EDX'],
  ],
  [
    ['esi', 'ESI'],
    ['edi', 'EDI'],
    ['ebp', 'EBP'],
    ['esp', 'ESP'],
  ],
  [
    ['eip', 'EIP'],
    ['eflags', 'EFLAGS'],
    ['orig_eax', 'ORIG_EAX'],
  ],
  [
    ['cs', 'CS', 4],
    ['ss', 'SS', 4],
    ['ds', 'DS', 4],
    ['es', 'ES', 4],
    ['fs', 'FS', 4],
    ['gs', 'GS', 4],
  ],
];

/** Registers in rows: crash's layout where there is one, else pc/lr/sp first then the arch's order, 3 per line. */
function rowsFor(arch: ArchInfo, registers: ReadonlyMap<string, bigint>): Cell[][] {
  if (arch.name === 'x86_64') return X86_64_ROWS;
  if (arch.name === 'i386') return I386_ROWS;
  const first = [arch.pc, arch.lr, arch.sp].filter((r): r is string => !!r && registers.has(r));
  const names = [...first, ...[...registers.keys()].filter((r) => !first.includes(r))];
  const cells: Cell[] = names.map((n) => [n, n.toUpperCase().padStart(3)]);
  const rows: Cell[][] = [cells.slice(0, first.length)];
  for (let i = first.length; i < cells.length; i += 3) rows.push(cells.slice(i, i + 3));
  return rows;
}

/** The register block of one CPU, crash style: `    RIP: ffffffff81000000  RSP: …`. */
export function registerBlock(arch: ArchInfo, registers: ReadonlyMap<string, bigint>): string[] {
  const lines: string[] = [];
  for (const row of rowsFor(arch, registers)) {
    const cells = row
      .filter(([name]) => registers.has(name))
      .map(([name, label, digits]) => {
        const v = registers.get(name)!;
        return `${label}: ${v.toString(16).padStart(digits ?? arch.wordSize * 2, '0')}`;
      });
    if (cells.length > 0) lines.push(`    ${cells.join('  ')}`);
  }
  return lines;
}

/** 16 bytes per line: `address:  hex bytes   ascii`; unavailable bytes as `??` and `?`. */
export function hexdump(
  address: bigint,
  bytes: Uint8Array,
  unavailable: (offset: number) => boolean,
  addressDigits: number,
): string[] {
  const lines: string[] = [];
  for (let off = 0; off < bytes.length; off += 16) {
    const n = Math.min(16, bytes.length - off);
    const hex: string[] = [];
    let ascii = '';
    for (let i = 0; i < n; i++) {
      if (unavailable(off + i)) {
        hex.push('??');
        ascii += '?';
        continue;
      }
      const b = bytes[off + i]!;
      hex.push(b.toString(16).padStart(2, '0'));
      ascii += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
    }
    const addr = ((address + BigInt(off)) & ((1n << 64n) - 1n)).toString(16).padStart(addressDigits, '0');
    lines.push(`${addr}:  ${hex.join(' ').padEnd(16 * 3 - 1)}   ${ascii}`);
  }
  return lines;
}

export function formatSize(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} bytes`;
}
