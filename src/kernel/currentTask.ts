/**
 * The task running on each CPU when the dump was taken.
 *
 * The general method, on every architecture: the per-CPU run queue `runqueues` (struct rq) at
 * `&runqueues + __per_cpu_offset[cpu]`, whose `curr` is the running task. Where the architecture
 * also keeps a per-CPU "current" pointer — x86_64 `pcpu_hot.current_task` (v6.2+) or `current_task`
 * (before), aarch64 `__entry_task` — it is read too: during a context switch `rq->curr` already names
 * the next task while the CPU still runs on the previous one's stack, and the registers belong to the
 * one the current pointer names, so that one wins and the difference is said.
 *
 * `task_struct.pid` and `task_struct.comm` (and `rq.curr`) are located with the kernel's BTF; nothing
 * is read at a guessed offset. Every CPU whose task cannot be read gets the reason instead.
 */
import type { ArchName } from '../arch/types';
import type { Btf } from '../symbols/btf';
import type { SymbolTable } from '../symbols/symbolTable';
import { readFully, readPointer, type VirtualMemory } from '../translate/types';

export interface CurrentTask {
  /** Address of the task_struct. */
  address: bigint;
  pid: number;
  /** task_struct.comm: the task's name (at most 15 bytes). */
  comm: string;
}

export interface CpuTaskResult {
  task?: CurrentTask;
  /** Why there is no task. */
  problem?: string;
  /** Something worth saying about a task that was found (a disagreement between sources). */
  note?: string;
}

export interface CurrentTaskInput {
  arch: ArchName;
  /** Kernel CPU number per register note; undefined where it is not known. */
  cpus: readonly (number | undefined)[];
  /**
   * The pid each note's NT_PRSTATUS carries, where it is a task's pid (a crashing kernel writes
   * current->pid); undefined where it is not (QEMU and s390 write CPU + 1).
   */
  notePids: readonly (number | undefined)[];
}

export interface CurrentTasks {
  tasks: CpuTaskResult[];
  /** Where the tasks came from, or why none could be read, said once for all CPUs. */
  note: string;
}

/** Where `&symbol` lies for CPU `cpu`: its address plus `__per_cpu_offset[cpu]`, wrapped to the word. */
export async function perCpuAddress(
  mem: VirtualMemory,
  perCpuOffset: bigint,
  symbol: bigint,
  cpu: number,
): Promise<bigint> {
  const offset = await readPointer(
    mem,
    perCpuOffset + BigInt(cpu * mem.wordSize),
    `__per_cpu_offset[${cpu}]`,
  );
  return BigInt.asUintN(mem.wordSize * 8, symbol + offset);
}

/** PID_MAX_LIMIT on 64-bit kernels (4 Mi): a larger pid means the pointer is not to a task_struct. */
const PID_MAX_LIMIT = 4 * 1024 * 1024;
const NR_CPUS_LIMIT = 8192;

interface Layout {
  pid: number;
  comm: number;
  commLength: number;
  rqCurr: number;
}

/** Offsets of task_struct.pid, task_struct.comm and rq.curr, from BTF. */
function layoutFrom(btf: Btf): Layout {
  const comm = btf.memberOffset('task_struct', 'comm');
  const commLength = btf.sizeOf(btf.findMember('task_struct', 'comm')!.type);
  if (commLength <= 0 || commLength > 256)
    throw new Error(`task_struct.comm is ${commLength} bytes in ${btf.name}, not a task name`);
  const pid = btf.memberOffset('task_struct', 'pid');
  const pidSize = btf.sizeOf(btf.findMember('task_struct', 'pid')!.type);
  if (pidSize !== 4) throw new Error(`task_struct.pid is ${pidSize} bytes in ${btf.name}, not a pid_t`);
  return {
    pid,
    comm,
    commLength,
    rqCurr: btf.memberOffset('rq', 'curr'),
  };
}

/** The arch's per-CPU pointer to the running task: symbol and offset of the pointer inside it. */
function currentPointer(
  arch: ArchName,
  symbols: SymbolTable,
  btf: Btf,
): { name: string; address: bigint; offset: number } | undefined {
  if (arch === 'x86_64') {
    const hot = symbols.lookup('pcpu_hot');
    if (hot) {
      const m = btf.findMember('pcpu_hot', 'current_task');
      if (m && m.bitSize === 0 && m.bitOffset % 8 === 0)
        return { name: 'pcpu_hot.current_task', address: hot.address, offset: m.bitOffset / 8 };
    }
    const old = symbols.lookup('current_task');
    if (old) return { name: 'current_task', address: old.address, offset: 0 };
  }
  if (arch === 'aarch64') {
    const entry = symbols.lookup('__entry_task');
    if (entry) return { name: '__entry_task', address: entry.address, offset: 0 };
  }
  return undefined;
}

/**
 * The current task of every CPU with saved registers. `btf` is undefined when no BTF could be
 * found; `btfProblem` then says why, and becomes every CPU's problem.
 */
export async function readCurrentTasks(
  input: CurrentTaskInput,
  mem: VirtualMemory,
  symbols: SymbolTable | undefined,
  btf: Btf | undefined,
  btfProblem?: string,
): Promise<CurrentTasks> {
  const everyCpu = (problem: string): CurrentTasks => ({
    tasks: input.cpus.map(() => ({ problem })),
    note: problem,
  });
  if (!btf) return everyCpu(btfProblem ?? 'task names need the kernel BTF, and none was found');
  if (!symbols) return everyCpu('no symbols to find the run queues: give a System.map or vmlinux');
  let layout: Layout;
  try {
    layout = layoutFrom(btf);
  } catch (err) {
    return everyCpu(`the task layout cannot be read from ${btf.name}: ${(err as Error).message}`);
  }
  const runqueues = symbols.lookup('runqueues');
  const perCpuOffset = symbols.lookup('__per_cpu_offset');
  if (!runqueues || !perCpuOffset) {
    const missing = [!runqueues && 'runqueues', !perCpuOffset && '__per_cpu_offset']
      .filter(Boolean)
      .join(' and ');
    return everyCpu(
      `${missing} ${missing.includes(' and ') ? 'are' : 'is'} not in the symbol table (${symbols.description}; kallsyms without CONFIG_KALLSYMS_ALL has only functions): a System.map or vmlinux has them`,
    );
  }
  const current = currentPointer(input.arch, symbols, btf);

  const readTask = async (address: bigint, what: string): Promise<CurrentTask> => {
    if (address === 0n) throw new Error(`${what} is NULL`);
    const pidBytes = await readFully(mem, address + BigInt(layout.pid), 4, `${what}->pid`);
    const pid = new DataView(pidBytes.buffer, pidBytes.byteOffset, 4).getInt32(0, mem.littleEndian);
    const commBytes = await readFully(mem, address + BigInt(layout.comm), layout.commLength, `${what}->comm`);
    const end = commBytes.indexOf(0);
    if (pid < 0 || pid > PID_MAX_LIMIT || end < 0)
      throw new Error(
        `${what} (0x${address.toString(16)}) does not hold a task: pid ${pid}${end < 0 ? ', comm not NUL-terminated' : ''}`,
      );
    return { address, pid, comm: Buffer.from(commBytes.subarray(0, end)).toString('utf8') };
  };
  const describe = (t: CurrentTask) => `pid ${t.pid} "${t.comm}" at 0x${t.address.toString(16)}`;

  const tasks: CpuTaskResult[] = [];
  let checked = 0;
  for (const [i, cpu] of input.cpus.entries()) {
    if (cpu === undefined) {
      tasks.push({
        problem: 'the CPU number of this register note is unknown, so its run queue cannot be chosen',
      });
      continue;
    }
    if (cpu < 0 || cpu >= NR_CPUS_LIMIT) {
      tasks.push({ problem: `CPU ${cpu} is not a CPU number` });
      continue;
    }
    try {
      const rq = await perCpuAddress(mem, perCpuOffset.address, runqueues.address, cpu);
      const curr = await readPointer(mem, rq + BigInt(layout.rqCurr), `CPU ${cpu}'s rq->curr`);
      const fromRq = await readTask(curr, `CPU ${cpu}'s rq->curr`);
      let task = fromRq;
      const notes: string[] = [];
      if (current) {
        const what = `CPU ${cpu}'s ${current.name}`;
        // Only a cross-check: when it cannot be read, rq->curr stands alone.
        const pointer = await perCpuAddress(mem, perCpuOffset.address, current.address, cpu)
          .then((at) => readPointer(mem, at + BigInt(current.offset), what))
          .catch(() => undefined);
        if (pointer !== undefined) checked++;
        if (pointer !== undefined && pointer !== 0n && pointer !== curr) {
          const fromPointer = await readTask(pointer, what).catch(() => undefined);
          if (fromPointer) {
            task = fromPointer;
            notes.push(
              `${current.name} is ${describe(fromPointer)} but rq->curr is ${describe(fromRq)}: the CPU was switching tasks; the registers belong to ${current.name}`,
            );
          }
        }
      }
      const notePid = input.notePids[i];
      if (notePid !== undefined && notePid !== task.pid)
        notes.push(`the NT_PRSTATUS note says pid ${notePid}, the task reads pid ${task.pid}`);
      tasks.push(notes.length > 0 ? { task, note: notes.join('; ') } : { task });
    } catch (err) {
      tasks.push({ problem: `the current task of CPU ${cpu} cannot be read: ${(err as Error).message}` });
    }
  }
  const found = tasks.filter((t) => t.task).length;
  const check =
    !current || checked === 0
      ? ''
      : checked >= found
        ? `, checked against ${current.name}`
        : `, checked against ${current.name} on ${checked} of ${found} CPUs`;
  return {
    tasks,
    note: `current tasks from the per-CPU run queues (rq->curr${check}) with task_struct offsets from ${btf.name}${
      found < tasks.length ? ` (${tasks.length - found} of ${tasks.length} CPUs could not be read)` : ''
    }`,
  };
}
