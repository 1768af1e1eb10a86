import type { ArchInfo } from '../arch/types';
import { openDump } from '../dump/open';
import type { Dump } from '../dump/types';
import type { Btf } from '../symbols/btf';
import { loadKallsyms } from '../symbols/kallsyms';
import { readKernelBtf, readVmlinuxBtf } from '../symbols/kernelBtf';
import { DwarfLineTable, type SourceLine } from '../symbols/lineTable';
import { toLinkTime } from '../symbols/relocate';
import {
  formatLocation,
  type KernelSymbol,
  type SymbolLocation,
  type SymbolTable,
} from '../symbols/symbolTable';
import { loadSystemMap } from '../symbols/systemMap';
import { loadVmlinux } from '../symbols/vmlinux';
import { KernelAddressSpace } from '../translate/addressSpace';
import { unwind } from '../unwind';
import { type Frame, parseKernelVersion } from '../unwind/types';
import { mapNotesToCpus, readPanicCpu } from './cpus';
import { type CurrentTask, readCurrentTasks } from './currentTask';
import { findPanicMessage, formatKernelLog, type KernelLog, readKernelLog, recordText } from './dmesg';
import { type MemoryInfo, readMemoryInfo } from './memoryInfo';
import { type KernelModule, ModuleSymbols, readModules } from './modules';
import { readTasks, savedRegisters, type TaskList } from './tasks';

export interface OpenOptions {
  /** vmlinux ELF (with or without DWARF) for symbols. */
  vmlinux?: string;
  /** System.map for symbols. */
  systemMap?: string;
  signal?: AbortSignal;
  /** Progress messages for long steps (decoding symbols, reading the log). */
  progress?: (message: string) => void;
  /** Blocking file reads (see FileSourceOptions.blocking): for processes of their own. */
  blockingReads?: boolean;
}

/** One CPU that saved registers, in the order threads are shown. */
export interface CpuInfo {
  /** Real CPU number when the dump allows finding it; otherwise undefined (see cpuMappingNote). */
  cpu: number | undefined;
  noteIndex: number;
  /** The pid in the NT_PRSTATUS note (see notePidIsTask). */
  pid: number;
  /**
   * Whether `pid` is the pid of the task that was running: a crashing kernel writes current->pid;
   * QEMU and s390 write CPU + 1 instead.
   */
  notePidIsTask: boolean;
  /** Name of the running task: task.comm when the task was read, else from the panic header in the log. */
  comm?: string;
  /** The task running on this CPU (rq->curr), read with offsets from the kernel's BTF. */
  task?: CurrentTask;
  /** Why `task` is missing. */
  taskProblem?: string;
  /** A disagreement between the sources of `task` (rq->curr, the arch's current pointer, the note). */
  taskNote?: string;
  registers: Map<string, bigint>;
  userMode: boolean;
  panicked: boolean;
}

export interface BacktraceFrame extends Frame {
  /** `function+0xoffset`, or the hex address when no symbol covers it. */
  name: string;
  location?: SymbolLocation;
  /** Source file and line from the vmlinux's DWARF line table (of pc − 1 for a return address). */
  line?: SourceLine;
  /** Why a kernel frame has no `line` when a line table was loaded. */
  lineProblem?: string;
}

export interface Backtrace {
  frames: BacktraceFrame[];
  stopReason?: string;
}

/**
 * A crash dump seen as a kernel: the container, kernel virtual memory, symbols, the CPUs with their
 * registers, the panic and stacks. The one model the debug adapter and the CLI both use.
 */
export class KernelDump {
  symbols: SymbolTable | undefined;
  /** Why symbols are missing or where they came from. */
  symbolsNote: string;
  /** DWARF line tables of the vmlinux, when it has them. */
  lines: DwarfLineTable | undefined;
  /** Where source lines come from, or why there are none. */
  linesNote: string;
  cpus: CpuInfo[] = [];
  cpuMappingNote: string | undefined;
  panicCpu: number | undefined;
  panicCpuNote: string | undefined;
  panicMessage: string | undefined;
  /** The kernel's type information (BTF), from the vmlinux's .BTF section or the dump's memory. */
  btf: Btf | undefined;
  /** Where the BTF came from, or why there is none. */
  btfNote = 'BTF not read yet';
  /** Where the tasks on the CPUs came from, or why they could not be read. */
  tasksNote: string | undefined;
  /** The loaded modules, with their own symbols. */
  modules: KernelModule[] = [];
  /** Where the module list came from, or why there is none. */
  modulesNote = 'modules not read yet';
  private moduleSymbols: ModuleSymbols | undefined;
  private log: KernelLog | undefined;
  private logProblem: string | undefined;
  private logLines: string[] | undefined;
  private panicRecord: number | undefined;
  private readonly backtraces = new Map<number, Promise<Backtrace>>();
  private taskList: Promise<TaskList> | undefined;

  private constructor(
    readonly dump: Dump,
    readonly space: KernelAddressSpace,
  ) {
    this.symbolsNote = 'no symbols: give a System.map or vmlinux';
    this.linesNote = 'no source lines: they need a vmlinux with DWARF';
  }

  get arch(): ArchInfo {
    return this.dump.arch;
  }

  get osRelease(): string | undefined {
    return this.dump.vmcoreinfo?.osRelease;
  }

  get crashTime(): Date | undefined {
    const t = this.dump.vmcoreinfo?.crashTime;
    return t === undefined ? undefined : new Date(t * 1000);
  }

  static async open(path: string, options: OpenOptions = {}): Promise<KernelDump> {
    const dump = await openDump(path, { blocking: options.blockingReads });
    try {
      const space = await KernelAddressSpace.create(dump);
      const k = new KernelDump(dump, space);
      await k.load(options);
      return k;
    } catch (err) {
      await dump.close();
      throw err;
    }
  }

  private async load(options: OpenOptions): Promise<void> {
    await this.loadSymbols(options);
    // A crashing kernel writes current->pid into its notes; QEMU (no CRASHTIME) and s390 write CPU + 1
    // (the same test mapNotesToCpus makes).
    const notePidIsTask = this.dump.vmcoreinfo?.crashTime !== undefined && this.arch.name !== 's390x';
    this.cpus = this.dump.prstatus.map((p) => ({
      cpu: undefined,
      noteIndex: p.noteIndex,
      pid: p.pid,
      notePidIsTask,
      registers: p.registers,
      userMode: this.arch.isUserMode(p.registers),
      panicked: false,
    }));
    options.progress?.('reading the kernel log');
    await this.loadLog(options.signal);
    await this.findCpus();
    options.progress?.('reading the kernel BTF and the task on each CPU');
    const btfProblem = await this.loadBtf(options.vmlinux);
    await this.findTasks(btfProblem);
    options.progress?.('reading the loaded modules and their symbols');
    await this.findModules(btfProblem, options.signal);
  }

  private async findModules(btfProblem: string | undefined, signal?: AbortSignal): Promise<void> {
    const r = await readModules(this.space, this.symbols, this.btf, btfProblem, signal);
    this.modules = r.modules;
    this.modulesNote = r.note;
    this.moduleSymbols = r.modules.length > 0 ? new ModuleSymbols(r.modules) : undefined;
  }

  /** The BTF: the vmlinux's .BTF section when a vmlinux was given and has one, else the dump's own. */
  private async loadBtf(vmlinux: string | undefined): Promise<string | undefined> {
    let fromVmlinux: string | undefined;
    if (vmlinux) {
      try {
        this.btf = await readVmlinuxBtf(vmlinux);
        if (this.btf) {
          this.btfNote = `${this.btf.count} types from ${this.btf.name}`;
          return undefined;
        }
        fromVmlinux = `${vmlinux} has no .BTF section`;
      } catch (err) {
        fromVmlinux = `the .BTF section of ${vmlinux} cannot be read: ${(err as Error).message}`;
      }
    }
    try {
      this.btf = await readKernelBtf(this.space, this.symbols);
      this.btfNote = `${this.btf.count} types from ${this.btf.name}`;
      return undefined;
    } catch (err) {
      const inDump = (err as Error).message;
      this.btfNote = `no BTF: ${fromVmlinux ? `${fromVmlinux}; ` : ''}${inDump}`;
      return vmlinux
        ? `${fromVmlinux}; in the dump, ${inDump}`
        : `${inDump}. Give a System.map (to find the BTF in the dump) or a vmlinux with a .BTF section`;
    }
  }

  /** The task running on each CPU, from the run queues, with task_struct offsets from BTF. */
  private async findTasks(btfProblem: string | undefined): Promise<void> {
    const result = await readCurrentTasks(
      {
        arch: this.arch.name,
        cpus: this.cpus.map((c) => c.cpu),
        notePids: this.cpus.map((c) => (c.notePidIsTask ? c.pid : undefined)),
      },
      this.space,
      this.symbols,
      this.btf,
      btfProblem && `task names need the kernel's BTF, and none was found: ${btfProblem}`,
    );
    this.tasksNote = result.note;
    result.tasks.forEach((r, i) => {
      const cpu = this.cpus[i];
      if (!cpu) return;
      if (r.task) {
        cpu.task = r.task;
        cpu.comm = r.task.comm;
      } else cpu.taskProblem = r.problem;
      if (r.note) cpu.taskNote = r.note;
    });
  }

  private async loadLog(signal?: AbortSignal): Promise<void> {
    try {
      this.log = await readKernelLog(this.space, this.dump.vmcoreinfo, { signal });
    } catch (err) {
      this.logProblem = `the kernel log cannot be read: ${(err as Error).message}`;
      return;
    }
    const panic = findPanicMessage(this.log);
    this.panicMessage = panic?.message;
    this.panicRecord = panic?.record;
  }

  /** Real CPU numbers, the panicking CPU, and the panicking task's name from the log. */
  private async findCpus(): Promise<void> {
    const mapping = await mapNotesToCpus(
      { arch: this.arch.name, vmcoreinfo: this.dump.vmcoreinfo, prstatus: this.dump.prstatus },
      this.space,
      this.symbols,
    );
    mapping.cpus.forEach((cpu, i) => {
      if (this.cpus[i]) this.cpus[i].cpu = cpu;
    });
    this.cpuMappingNote = mapping.note;
    const online = this.log ? onlineCpusFromLog(this.log) : undefined;
    if (mapping.method === 'unknown' && online !== undefined && online === this.cpus.length) {
      // Notes come in CPU order, skipping only CPUs that were offline or did not answer: when the
      // log says exactly as many CPUs came up as there are notes, note i is CPU i.
      this.cpus.forEach((c, i) => {
        c.cpu = i;
      });
      this.cpuMappingNote = `CPU numbers from the kernel log: ${online} CPUs were brought up and every one saved registers (${mapping.note})`;
    }
    const fromVariable = await readPanicCpu(this.space, this.symbols);
    // The dump_stack() header after the panic line: "CPU: 0 PID: 136 Comm: sh ...".
    const header =
      this.log && this.panicRecord !== undefined ? panicHeader(this.log, this.panicRecord) : undefined;
    if (fromVariable.cpu !== undefined && fromVariable.cpu >= 0) this.panicCpu = fromVariable.cpu;
    else if (fromVariable.cpu === undefined && header) this.panicCpu = header.cpu;
    this.panicCpuNote =
      fromVariable.cpu === undefined && header
        ? `from the kernel log (${fromVariable.note})`
        : fromVariable.note;
    let panicked = this.panicCpu !== undefined ? this.cpus.find((c) => c.cpu === this.panicCpu) : undefined;
    if (!panicked && header) {
      // CPU numbers unknown: the note whose pid is the panicking task's is the panicking CPU.
      const byPid = this.cpus.filter((c) => c.pid === header.pid);
      if (byPid.length === 1) {
        panicked = byPid[0]!;
        panicked.cpu ??= header.cpu;
      }
    }
    if (panicked && this.panicMessage) {
      panicked.panicked = true;
      if (header && header.pid === panicked.pid) panicked.comm = header.comm;
    }
  }

  private async loadSymbols(options: OpenOptions): Promise<void> {
    const ctx = { arch: this.arch.name, vmcoreinfo: this.dump.vmcoreinfo, memory: this.space };
    // Files the user named must be right: a wrong one is an error naming the attribute, never ignored.
    if (options.vmlinux) {
      options.progress?.(`reading symbols from ${options.vmlinux}`);
      this.symbols = await withAttribute('vmlinux', () => loadVmlinux(options.vmlinux!, ctx));
      this.symbolsNote = `${this.symbols.size} symbols from vmlinux ${options.vmlinux}`;
      await this.loadLines(options.vmlinux);
      return;
    }
    if (options.systemMap) {
      options.progress?.(`reading symbols from ${options.systemMap}`);
      this.symbols = await withAttribute('systemMap', () => loadSystemMap(options.systemMap!, ctx));
      this.symbolsNote = `${this.symbols.size} symbols from System.map ${options.systemMap}`;
      return;
    }
    options.progress?.('decoding the kernel symbols in the dump (kallsyms)');
    try {
      this.symbols = await loadKallsyms(this.space, this.dump.vmcoreinfo, { signal: options.signal });
      this.symbolsNote = `${this.symbols.size} symbols from the kernel's own kallsyms in the dump`;
    } catch (err) {
      this.symbolsNote = `no symbols: the dump's kallsyms could not be read (${(err as Error).message}); give a System.map or vmlinux`;
    }
  }

  /** A vmlinux without DWARF still gives symbols: missing line tables are a note, not an error. */
  private async loadLines(vmlinux: string): Promise<void> {
    try {
      this.lines = await DwarfLineTable.open(vmlinux);
      this.linesNote = this.lines.description;
    } catch (err) {
      this.linesNote = `no source lines: ${(err as Error).message}`;
    }
  }

  /** The source line of a runtime address in the kernel image, or why there is none. */
  async sourceLine(address: bigint): Promise<{ line?: SourceLine; problem?: string }> {
    const relocation = this.symbols?.relocation;
    if (!this.lines || !relocation) return { problem: this.linesNote };
    const link = toLinkTime(relocation, address);
    if (link === undefined)
      return { problem: 'the address is outside the kernel image the vmlinux describes' };
    const r = await this.lines.lookup(link);
    return r.found ? { line: r.line } : { problem: `no line info: ${r.reason}` };
  }

  /**
   * `function+0xoffset` for an address, in a loaded module or the core kernel (the return-address
   * rule is the caller's business).
   */
  symbolize(address: bigint): SymbolLocation | undefined {
    return this.moduleSymbols?.symbolize(address) ?? this.symbols?.symbolize(address);
  }

  /** A symbol by name: the core kernel's, else a loaded module's. */
  lookupSymbol(name: string): KernelSymbol | undefined {
    return this.symbols?.lookup(name) ?? this.moduleSymbols?.lookup(name);
  }

  /** The stack of one CPU (index into `cpus`), unwound once and cached. */
  backtrace(index: number, signal?: AbortSignal): Promise<Backtrace> {
    let bt = this.backtraces.get(index);
    if (!bt) {
      bt = this.unwindCpu(index, signal);
      this.backtraces.set(index, bt);
      bt.catch(() => this.backtraces.delete(index));
    }
    return bt;
  }

  private async unwindCpu(index: number, signal?: AbortSignal): Promise<Backtrace> {
    const cpu = this.cpus[index];
    if (!cpu) throw new RangeError(`no CPU #${index}`);
    return this.unwindRegisters(cpu.registers, signal);
  }

  /**
   * The stack of any task: a CPU's current task unwinds from the registers its CPU saved; any other
   * from the registers switch_to saved when it last stopped running.
   */
  async taskBacktrace(task: bigint, signal?: AbortSignal): Promise<Backtrace> {
    const onCpu = this.cpus.findIndex((c) => c.task?.address === task);
    if (onCpu >= 0) return this.backtrace(onCpu, signal);
    if (!this.btf)
      throw new Error(`the stack of a task that was not running needs the kernel's BTF (${this.btfNote})`);
    return this.unwindRegisters(await savedRegisters(this.space, this.btf, this.arch.name, task), signal);
  }

  private async unwindRegisters(
    registers: ReadonlyMap<string, bigint>,
    signal?: AbortSignal,
  ): Promise<Backtrace> {
    const result = await unwind(
      {
        arch: this.arch,
        memory: this.space,
        symbols: this.symbols,
        modules: this.modules.map((m) => m.code),
        symbolizer: this,
        kernelVersion: parseKernelVersion(this.osRelease),
        signal,
      },
      registers,
      this.dump.vmcoreinfo?.numberU64('KERNELPACMASK') ?? 0n,
    );
    const frames: BacktraceFrame[] = [];
    for (const f of result.frames) {
      // A return address belongs to the call before it: look up pc − 1, as debuggers do.
      const lookupPc = f.isReturnAddress ? f.pc - 1n : f.pc;
      const location = f.userMode ? undefined : this.symbolize(lookupPc);
      const fixed = location
        ? { symbol: location.symbol, offset: f.pc - location.symbol.address }
        : undefined;
      const frame: BacktraceFrame = { ...f, location: fixed, name: formatLocation(fixed, f.pc) };
      if (this.lines && !f.userMode) {
        const { line, problem } = await this.sourceLine(lookupPc);
        if (line) frame.line = line;
        else if (problem) frame.lineProblem = problem;
      }
      frames.push(frame);
    }
    return { frames, stopReason: result.stopReason };
  }

  /** How memory was used (crash's `kmem -i`, /proc/meminfo's counters). */
  memoryInfo(): Promise<MemoryInfo> {
    return readMemoryInfo(this.space, this.symbols, this.btf, this.pageSize);
  }

  /** The kernel's page size (VMCOREINFO's PAGESIZE, else the dump's). */
  get pageSize(): number {
    return this.dump.vmcoreinfo?.pageSize ?? this.dump.memory.pageSize;
  }

  /** Every task (crash's `ps`), read once on first use. */
  tasks(signal?: AbortSignal): Promise<TaskList> {
    if (!this.taskList) {
      this.taskList = readTasks(this.space, this.symbols, this.btf, {
        cpus: this.cpus.flatMap((c) => (c.cpu === undefined ? [] : [c.cpu])),
        pageSize: this.pageSize,
        signal,
      });
      this.taskList.catch(() => {
        this.taskList = undefined;
      });
    }
    return this.taskList;
  }

  /** The kernel log as makedumpfile --dump-dmesg prints it. */
  async kernelLog(_signal?: AbortSignal): Promise<string[]> {
    if (!this.log) throw new Error(this.logProblem ?? 'the kernel log is not available for this dump');
    this.logLines ??= formatKernelLog(this.log, { style: 'makedumpfile' });
    return this.logLines;
  }

  /** Time since boot of the last log record: the uptime when the kernel stopped. */
  get uptimeNs(): bigint | undefined {
    const records = this.log?.records ?? [];
    for (let i = records.length - 1; i >= 0; i--) {
      const t = records[i]!.timestampNs;
      if (t !== undefined) return t;
    }
    return undefined;
  }

  /** Facts for `sys` and the Crash scope. */
  async systemInfo(): Promise<Record<string, string>> {
    const info: Record<string, string> = {
      DUMPFILE: this.dump.path,
      FORMAT: `${this.dump.format}${this.dump.container === 'flattened' ? ' (flattened)' : ''}`,
      CPUS: String(this.cpus.length),
    };
    if (this.crashTime) info.DATE = this.crashTime.toUTCString();
    const up = this.uptimeNs;
    if (up !== undefined) info.UPTIME = `${formatDuration(up)} (at the last kernel log record)`;
    if (this.osRelease) info.RELEASE = this.osRelease;
    info.MACHINE = this.arch.name;
    info.SYMBOLS = this.symbolsNote;
    if (this.symbols?.source === 'vmlinux') info['SOURCE LINES'] = this.linesNote;
    if (this.panicMessage) info.PANIC = `"${this.panicMessage}"`;
    if (this.panicCpu !== undefined) info['PANIC CPU'] = String(this.panicCpu);
    if (this.cpuMappingNote) info['CPU NUMBERS'] = this.cpuMappingNote;
    // The task on each CPU, as crash's `bt` header names it; a problem shared by all CPUs is said once.
    for (const c of this.cpus.slice(0, MAX_CPU_ROWS)) {
      const key = `CPU ${c.cpu ?? `? (note ${c.noteIndex})`}`;
      if (c.task) {
        info[key] =
          `PID: ${c.task.pid}  TASK: ${c.task.address.toString(16)}  COMMAND: "${c.task.comm}"${c.panicked ? '  (panic)' : ''}${c.taskNote ? ` (${c.taskNote})` : ''}`;
      } else if (c.taskProblem && c.taskProblem !== this.tasksNote)
        info[key] = `task unknown: ${c.taskProblem}`;
    }
    if (this.cpus.length > MAX_CPU_ROWS)
      info['CPU …'] = `${this.cpus.length - MAX_CPU_ROWS} more (bt -a lists them)`;
    if (this.tasksNote) info['CURRENT TASKS'] = this.tasksNote;
    info.MODULES =
      this.modules.length > 0 ? `${this.modules.length} loaded (mod lists them)` : this.modulesNote;
    info.BTF = this.btfNote;
    return info;
  }

  async close(): Promise<void> {
    await this.lines?.close().catch(() => undefined);
    await this.dump.close();
  }
}

/** CPUs listed one per row by `sys` (bigger machines get a count). */
const MAX_CPU_ROWS = 64;

/** An error about a file the user gave, tagged with the launch attribute that named it. */
export class AttributeError extends Error {
  override readonly name = 'AttributeError';
  constructor(
    readonly attribute: 'vmcore' | 'vmlinux' | 'systemMap',
    message: string,
  ) {
    super(message);
  }
}

async function withAttribute<T>(attribute: AttributeError['attribute'], fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new AttributeError(attribute, (err as Error).message);
  }
}

/** The `CPU: N PID: P Comm: C` line dump_stack() prints right after a panic or oops line. */
function panicHeader(log: KernelLog, from: number): { cpu: number; pid: number; comm: string } | undefined {
  for (let i = from; i < Math.min(log.records.length, from + 40); i++) {
    const m = /CPU: (\d+) (?:UID: \d+ )?PID: (\d+) Comm: (\S+)/.exec(recordText(log.records[i]!));
    if (m) return { cpu: Number(m[1]), pid: Number(m[2]), comm: m[3]! };
  }
  return undefined;
}

/** `smp: Brought up 1 node, 2 CPUs`: how many CPUs came online at boot. */
function onlineCpusFromLog(log: KernelLog): number | undefined {
  for (const r of log.records) {
    const m = /smp: Brought up \d+ nodes?, (\d+) CPUs?/.exec(recordText(r));
    if (m) return Number(m[1]);
  }
  return undefined;
}

function formatDuration(ns: bigint): string {
  const total = Number(ns / 1_000_000_000n);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  return [h, m, sec].map((v) => String(v).padStart(2, '0')).join(':');
}
