import { DumpError } from '../../dump/errors';
import { openDump } from '../../dump/open';
import type { Dump, PrStatus } from '../../dump/types';
import type { CurrentTask } from '../../kernel/currentTask';
import { KernelDump } from '../../kernel/kernelDump';
import type { OptionSpec, ParsedArgs, PositionalSpec } from '../args';
import { CPU_NUMBERING_NOTE } from '../output';

export const FILE: PositionalSpec = {
  name: 'FILE',
  description: 'the dump (ELF, kdump-compressed or flattened)',
};
export const JSON_OPTION: OptionSpec = {
  name: 'json',
  type: 'flag',
  description: 'print JSON instead of text',
};
/** Symbol sources: without them the kernel's own kallsyms in the dump are used. */
export const SYMBOL_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'system-map',
    type: 'string',
    value: 'FILE',
    description:
      'System.map of the crashed kernel (finds panic_cpu and crash_notes when kallsyms lacks them)',
  },
  {
    name: 'vmlinux',
    type: 'string',
    value: 'FILE',
    description: 'vmlinux of the crashed kernel, for symbols',
  },
];

/** Open the dump, run `fn`, close the dump whatever happens. Open errors propagate as DumpError. */
export async function withDump<T>(path: string, fn: (dump: Dump) => Promise<T>): Promise<T> {
  // The CLI is a process of its own: blocking reads are the fast ones (see FileSourceOptions).
  const dump = await openDump(path, { blocking: true });
  try {
    return await fn(dump);
  } finally {
    await dump.close().catch(() => undefined);
  }
}

/** The dump, and the kernel seen through it when that could be read. */
export interface KernelView {
  dump: Dump;
  /** Panic, CPU numbers, symbols: undefined when the kernel layer failed on this dump. */
  kernel: KernelDump | undefined;
  /** Why `kernel` is undefined. */
  kernelProblem: string | undefined;
}

/**
 * Open the dump with the kernel layer (src/kernel: panic CPU and message, CPU numbers). A dump the
 * container layer rejects is a DumpError as always; a wrong --system-map/--vmlinux is an
 * AttributeError; if the kernel layer itself fails on a dump that opens, the container's facts are
 * still shown, with the reason.
 */
export async function withKernel<T>(args: ParsedArgs, fn: (view: KernelView) => Promise<T>): Promise<T> {
  const path = args.positionals.FILE!;
  let kernel: KernelDump | undefined;
  let kernelProblem: string | undefined;
  try {
    kernel = await KernelDump.open(path, {
      systemMap: args.values['system-map'],
      vmlinux: args.values.vmlinux,
      blockingReads: true,
    });
  } catch (err) {
    if (err instanceof DumpError || (err instanceof Error && err.name === 'AttributeError')) throw err;
    kernelProblem = `the kernel in the dump could not be read: ${(err as Error).message}`;
  }
  if (kernel) {
    try {
      return await fn({ dump: kernel.dump, kernel, kernelProblem });
    } finally {
      await kernel.close().catch(() => undefined);
    }
  }
  return withDump(path, (dump) => fn({ dump, kernel: undefined, kernelProblem }));
}

export interface CpuEntry {
  prstatus: PrStatus;
  /** Kernel CPU number when known (numbering "kernel"), else the note index. */
  cpu: number;
  comm?: string;
  panicked: boolean;
  /** The task running on the CPU, when the kernel layer could read it. */
  task?: CurrentTask;
  /** Why `task` is missing. */
  taskProblem?: string;
  /** Whether the note's pid is a task's pid (QEMU writes CPU + 1). */
  notePidIsTask: boolean;
}

/** The CPUs with saved registers, numbered by the kernel when the kernel layer could tell. */
export function cpuList(view: KernelView): {
  numbering: 'kernel' | 'note-order';
  note: string;
  cpus: CpuEntry[];
} {
  const infos = view.kernel?.cpus ?? [];
  const known = infos.length === view.dump.prstatus.length && infos.every((c) => c.cpu !== undefined);
  const cpus = view.dump.prstatus.map((p, i) => {
    const info = infos[i];
    const entry: CpuEntry = {
      prstatus: p,
      cpu: known ? info!.cpu! : p.noteIndex,
      panicked: info?.panicked ?? false,
      notePidIsTask: info?.notePidIsTask ?? true,
    };
    if (info?.comm !== undefined) entry.comm = info.comm;
    if (info?.task) entry.task = info.task;
    else entry.taskProblem = info?.taskProblem ?? view.kernelProblem;
    return entry;
  });
  const why = view.kernel?.cpuMappingNote ?? view.kernelProblem;
  return known
    ? { numbering: 'kernel', note: view.kernel!.cpuMappingNote ?? 'CPU numbers from the kernel', cpus }
    : { numbering: 'note-order', note: why ? `${CPU_NUMBERING_NOTE}: ${why}` : CPU_NUMBERING_NOTE, cpus };
}
