/**
 * Text output in the shapes crash users know (rd, vtop, ptov, bt, sys), shared by the Debug Console
 * commands and the CLI.
 */
import type { Gap } from '../dump/types';
import type { VirtualAlias } from '../translate/addressSpace';
import type { Translation } from '../translate/types';
import type { Backtrace, CpuInfo } from './kernelDump';
import type { MemoryInfo } from './memoryInfo';
import type { KernelModule } from './modules';
import type { TaskInfo, TaskList } from './tasks';

const h = (v: bigint) => v.toString(16);

/** A hexdump: `address:  words…   ascii`, unavailable bytes as `??` with the reasons listed after. */
export function formatHexdump(
  address: bigint,
  bytes: Uint8Array,
  gaps: readonly Gap[],
  unit: 1 | 2 | 4 | 8,
  littleEndian: boolean,
): string {
  const missing = (i: number) => gaps.some((g) => i >= g.offset && i < g.offset + g.length);
  const perLine = unit === 1 ? 16 : 16;
  const lines: string[] = [];
  for (let off = 0; off < bytes.length; off += perLine) {
    const words: string[] = [];
    let ascii = '';
    for (let u = off; u < Math.min(bytes.length, off + perLine); u += unit) {
      const n = Math.min(unit, bytes.length - u);
      let word = '';
      let anyMissing = false;
      for (let b = 0; b < n; b++) anyMissing ||= missing(u + b);
      if (anyMissing) word = '?'.repeat(n * 2);
      else {
        const order = littleEndian ? [...Array(n).keys()].reverse() : [...Array(n).keys()];
        for (const b of order) word += bytes[u + b]!.toString(16).padStart(2, '0');
      }
      words.push(word);
      for (let b = 0; b < n; b++) {
        const c = bytes[u + b]!;
        ascii += missing(u + b) ? '?' : c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
      }
    }
    lines.push(`${h(address + BigInt(off)).padStart(16, '0')}:  ${words.join(' ')}   ${ascii}`);
  }
  for (const g of gaps) {
    lines.push(
      `  ${h(address + BigInt(g.offset))}-${h(address + BigInt(g.offset + g.length))}: ${g.reason}${g.detail ? ` (${g.detail})` : ''}`,
    );
  }
  return lines.join('\n');
}

export function formatVtop(t: Translation): string {
  const lines = ['VIRTUAL           PHYSICAL', `${h(t.virtual).padEnd(16)}  ${h(t.physical)}`, ''];
  for (const e of t.entries)
    lines.push(`${e.level.toUpperCase().padStart(5)}: ${h(e.address)} => ${h(e.value)}`);
  const size =
    t.pageSize >= 1 << 30
      ? `${t.pageSize >> 30}GB`
      : t.pageSize >= 1 << 20
        ? `${t.pageSize >> 20}MB`
        : `${t.pageSize >> 10}KB`;
  lines.push(
    ` PAGE: ${h(t.physical & ~BigInt(t.pageSize - 1))}  (${size})${t.via === 'linear' ? '  [linear mapping]' : ''}`,
  );
  return lines.join('\n');
}

export function formatPtov(paddr: bigint, aliases: readonly VirtualAlias[]): string {
  if (aliases.length === 0) return `${h(paddr)}: no kernel virtual address maps this physical address`;
  return [
    'VIRTUAL           PHYSICAL',
    ...aliases.map((a) => `${h(a.address).padEnd(16)}  ${h(paddr).padEnd(16)}  (${a.region})`),
  ].join('\n');
}

/**
 * The header crash's `bt` prints, `PID: 136      TASK: ffff8bbbdff19840  CPU: 0    COMMAND: "sh"`,
 * when the CPU's task is known; otherwise what is known (the note's pid where it is a task's).
 */
export function backtraceHeader(cpu: CpuInfo): string {
  const cpuText = cpu.cpu === undefined ? `? (note ${cpu.noteIndex})` : String(cpu.cpu);
  const panic = cpu.panicked ? '  (panic)' : '';
  if (cpu.task) {
    return `PID: ${String(cpu.task.pid).padEnd(7)}  TASK: ${h(cpu.task.address)}  CPU: ${cpuText.padEnd(3)}  COMMAND: "${cpu.task.comm}"${panic}`;
  }
  const pid = cpu.notePidIsTask ? String(cpu.pid) : '?';
  return `PID: ${pid.padEnd(7)}  CPU: ${cpuText}  COMMAND: ${cpu.comm ? `"${cpu.comm}"` : '?'}${panic}`;
}

export function formatBacktrace(cpu: CpuInfo, bt: Backtrace, wordSize: number): string {
  return formatFrames(backtraceHeader(cpu), bt, wordSize);
}

/** crash's bt header for any task: `PID: 1  TASK: ffff…  CPU: 0  COMMAND: "init"`. */
export function taskHeader(t: TaskInfo): string {
  return `PID: ${String(t.pid).padEnd(7)}  TASK: ${h(t.address)}  CPU: ${String(t.cpu ?? '?').padEnd(3)}  COMMAND: "${t.comm}"`;
}

/** A header, then one line per frame as crash's bt prints them. */
export function formatFrames(header: string, bt: Backtrace, wordSize: number): string {
  const lines = [header];
  bt.frames.forEach((f, i) => {
    const mark = f.reliable ? '' : '? ';
    const where = f.userMode ? `${h(f.pc)} (user space)` : `${mark}${f.name} at ${h(f.pc)}`;
    lines.push(
      `${`#${i}`.padStart(3)} [${h(f.sp).padStart(wordSize * 2, '0')}] ${where}${f.source === 'exception' ? '  [exception frame]' : ''}`,
    );
    // The source line below the frame, as crash's `bt -l` prints it.
    if (f.line) lines.push(`    ${f.line.file}: ${f.line.line}`);
  });
  if (bt.stopReason) lines.push(`    (unwinding stopped: ${bt.stopReason})`);
  return lines.join('\n');
}

/** crash's `mod` table (MODULE, NAME, BASE, SIZE), by base address, with each module's symbol count. */
export function formatModules(modules: readonly KernelModule[], note: string, wordSize: 4 | 8): string {
  if (modules.length === 0) return `no modules: ${note}`;
  const w = wordSize * 2;
  const rows = [...modules]
    .sort((a, b) => (a.base < b.base ? -1 : a.base > b.base ? 1 : 0))
    .map(
      (m) =>
        `${h(m.address).padStart(w, '0')}  ${m.name.padEnd(22)} ${h(m.base).padStart(w, '0')}  ${String(m.size).padStart(6)}  ${m.symbolsProblem ? `no symbols: ${m.symbolsProblem}` : `${m.symbols.length} symbols`}`,
    );
  return [
    `${'MODULE'.padStart(w - 5)}       NAME                   ${'BASE'.padStart(w - 6)}          SIZE  SYMBOLS`,
    ...rows,
    `(${note})`,
  ].join('\n');
}

/** crash's two-letter task states, by /proc's letter. */
const CRASH_STATES: Record<string, string> = {
  R: 'RU',
  S: 'IN',
  D: 'UN',
  T: 'ST',
  t: 'TR',
  X: 'DE',
  Z: 'ZO',
  P: 'PA',
  I: 'ID',
};

/** crash's `ps`: `>` marks a CPU's current task; kernel threads' names in brackets; sorted by pid, CPU. */
export function formatPs(list: TaskList, active: ReadonlySet<bigint>, wordSize: 4 | 8): string {
  const w = wordSize * 2;
  const rows = [...list.tasks]
    .sort((a, b) => a.pid - b.pid || (a.cpu ?? 0) - (b.cpu ?? 0))
    .map((t) => {
      const pages = t.rssPages.file + t.rssPages.anon + t.rssPages.shmem;
      const mem = list.totalRamPages ? ((Math.max(0, pages) * 100) / list.totalRamPages).toFixed(1) : '-';
      return [
        `${active.has(t.address) ? '>' : ' '}${String(t.pid).padStart(8)}`,
        String(t.ppid ?? '-').padStart(7),
        String(t.cpu ?? '-').padStart(4),
        ` ${h(t.address).padStart(w, '0')}`,
        ` ${CRASH_STATES[t.state] ?? t.state}`,
        ` ${mem.padStart(4)}`,
        String(t.vszKiB).padStart(8),
        String(t.rssKiB).padStart(8),
        ` ${t.kernelThread ? `[${t.comm}]` : t.comm}`,
      ].join(' ');
    });
  return [
    `      PID    PPID  CPU  ${'TASK'.padStart(w / 2 + 2).padEnd(w)}  ST  %MEM      VSZ      RSS  COMM`,
    ...rows,
    `(${list.note})`,
  ].join('\n');
}

/** Pages as crash's kmem -i sizes them: "297.2 MB", "57 MB", "0". */
function pagesToSize(pages: number, pageSize: number): string {
  const bytes = pages * pageSize;
  const units: [number, string][] = [
    [2 ** 40, 'TB'],
    [2 ** 30, 'GB'],
    [2 ** 20, 'MB'],
    [2 ** 10, 'KB'],
  ];
  for (const [unit, name] of units)
    if (bytes >= unit) return `${(bytes / unit).toFixed(1).replace(/\.0$/, '')} ${name}`;
  return String(bytes);
}

/**
 * crash's `kmem -i` table. SHMEM and SLAB are /proc/meminfo's (the kernel's counters), where crash
 * prints SHARED (pages mapped more than once, from a walk of every struct page) and the slab pages
 * its own walk of the caches finds; the note under the table says so.
 */
export function formatMemoryInfo(m: MemoryInfo): string {
  const row = (label: string, pages: number | undefined, of?: [string, number | undefined]) => {
    if (pages === undefined) return `${label.padStart(13)}  (not readable)`;
    const pct =
      of === undefined
        ? '         ----'
        : of[1]
          ? `${`${Math.floor((pages * 100) / of[1])}%`.padStart(6)} of ${of[0]}`
          : `${'0%'.padStart(6)} of ${of[0]}`;
    return `${label.padStart(13)}${String(pages).padStart(9)}${pagesToSize(pages, m.pageSize).padStart(13)}${pct}`;
  };
  const mem: [string, number | undefined] = ['TOTAL MEM', m.totalRam];
  const huge: [string, number | undefined] = ['TOTAL HUGE', m.totalHuge];
  const swap: [string, number | undefined] = ['TOTAL SWAP', m.totalSwap];
  return [
    '                 PAGES        TOTAL      PERCENTAGE',
    row('TOTAL MEM', m.totalRam),
    row('FREE', m.free, mem),
    row('USED', m.used, mem),
    row('SHMEM', m.shared, mem),
    row('BUFFERS', m.buffers, mem),
    row('CACHED', m.cached, mem),
    row('SLAB', m.slab, mem),
    '',
    row('TOTAL HUGE', m.totalHuge),
    row('HUGE FREE', m.hugeFree, huge),
    '',
    row('TOTAL SWAP', m.totalSwap),
    row('SWAP USED', m.swapUsed, swap),
    row('SWAP FREE', m.swapFree, swap),
    '',
    row('COMMIT LIMIT', m.commitLimit),
    row('COMMITTED', m.committed, ['TOTAL LIMIT', m.commitLimit]),
    '',
    "(SHMEM and SLAB as /proc/meminfo counts them: the kernel's NR_SHMEM, and reclaimable plus unreclaimable slab)",
    ...m.problems.map((p) => `(${p})`),
  ].join('\n');
}
