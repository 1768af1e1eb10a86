import type { ArchInfo } from '../arch/types';
import { openDump } from '../dump/open';
import type { Dump } from '../dump/types';
import { loadKallsyms } from '../symbols/kallsyms';
import { formatLocation, type SymbolLocation, type SymbolTable } from '../symbols/symbolTable';
import { loadSystemMap } from '../symbols/systemMap';
import { loadVmlinux } from '../symbols/vmlinux';
import { KernelAddressSpace } from '../translate/addressSpace';
import { unwind } from '../unwind';
import { type Frame, parseKernelVersion } from '../unwind/types';

export interface OpenOptions {
  /** vmlinux ELF (with or without DWARF) for symbols. */
  vmlinux?: string;
  /** System.map for symbols. */
  systemMap?: string;
  signal?: AbortSignal;
  /** Progress messages for long steps (decoding symbols, reading the log). */
  progress?: (message: string) => void;
}

/** One CPU that saved registers, in the order threads are shown. */
export interface CpuInfo {
  /** Real CPU number when the dump allows finding it; otherwise undefined (see cpuMappingNote). */
  cpu: number | undefined;
  noteIndex: number;
  pid: number;
  comm?: string;
  registers: Map<string, bigint>;
  userMode: boolean;
  panicked: boolean;
}

export interface BacktraceFrame extends Frame {
  /** `function+0xoffset`, or the hex address when no symbol covers it. */
  name: string;
  location?: SymbolLocation;
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
  cpus: CpuInfo[] = [];
  cpuMappingNote: string | undefined;
  panicCpu: number | undefined;
  panicMessage: string | undefined;
  private readonly backtraces = new Map<number, Promise<Backtrace>>();

  private constructor(
    readonly dump: Dump,
    readonly space: KernelAddressSpace,
  ) {
    this.symbolsNote = 'no symbols: give a System.map or vmlinux';
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
    const dump = await openDump(path);
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
    this.cpus = this.dump.prstatus.map((p) => ({
      cpu: undefined,
      noteIndex: p.noteIndex,
      pid: p.pid,
      registers: p.registers,
      userMode: this.arch.isUserMode(p.registers),
      panicked: false,
    }));
    this.cpuMappingNote = 'CPU numbers are the order of the NT_PRSTATUS notes';
  }

  private async loadSymbols(options: OpenOptions): Promise<void> {
    const ctx = { arch: this.arch.name, vmcoreinfo: this.dump.vmcoreinfo, memory: this.space };
    // Files the user named must be right: a wrong one is an error naming the attribute, never ignored.
    if (options.vmlinux) {
      options.progress?.(`reading symbols from ${options.vmlinux}`);
      this.symbols = await withAttribute('vmlinux', () => loadVmlinux(options.vmlinux!, ctx));
      this.symbolsNote = `${this.symbols.size} symbols from vmlinux ${options.vmlinux}`;
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

  /** `function+0xoffset` for an address (the return-address rule is the caller's business). */
  symbolize(address: bigint): SymbolLocation | undefined {
    return this.symbols?.symbolize(address);
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
    const result = await unwind(
      {
        arch: this.arch,
        memory: this.space,
        symbols: this.symbols,
        kernelVersion: parseKernelVersion(this.osRelease),
        signal,
      },
      cpu.registers,
      this.dump.vmcoreinfo?.numberU64('KERNELPACMASK') ?? 0n,
    );
    const frames = result.frames.map((f) => {
      const location = f.userMode ? undefined : this.symbolize(f.isReturnAddress ? f.pc - 1n : f.pc);
      const fixed = location
        ? { symbol: location.symbol, offset: f.pc - location.symbol.address }
        : undefined;
      return { ...f, location: fixed, name: formatLocation(fixed, f.pc) };
    });
    return { frames, stopReason: result.stopReason };
  }

  /** The kernel log, one line per record line. */
  async kernelLog(_signal?: AbortSignal): Promise<string[]> {
    throw new Error('the kernel log is not available for this dump');
  }

  /** Facts for `sys` and the Crash scope. */
  async systemInfo(): Promise<Record<string, string>> {
    const info: Record<string, string> = {
      DUMPFILE: this.dump.path,
      FORMAT: `${this.dump.format}${this.dump.container === 'flattened' ? ' (flattened)' : ''}`,
      CPUS: String(this.cpus.length),
    };
    if (this.crashTime) info.DATE = this.crashTime.toUTCString();
    if (this.osRelease) info.RELEASE = this.osRelease;
    info.MACHINE = this.arch.name;
    info.SYMBOLS = this.symbolsNote;
    if (this.panicMessage) info.PANIC = `"${this.panicMessage}"`;
    if (this.panicCpu !== undefined) info['PANIC CPU'] = String(this.panicCpu);
    return info;
  }

  async close(): Promise<void> {
    await this.dump.close();
  }
}

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
