/**
 * Every task in the dump, as crash's `ps` lists them: the idle task of each CPU, then every thread of
 * every process, from `init_task.tasks` (the process leaders) and each leader's thread list
 * (`signal->thread_head`, or `thread_group` on kernels before it). Per task: pid, tgid, parent, CPU,
 * state letter, name, and for user tasks the address-space size and resident memory.
 *
 * Offsets come from the kernel's BTF. Read on demand (not when the dump opens); bounded in count and
 * cancellable, and a damaged list ends the walk with the tasks read so far and the reason.
 */
import type { Btf } from '../symbols/btf';
import type { SymbolTable } from '../symbols/symbolTable';
import { readFully, readPointer, readU32, type VirtualMemory } from '../translate/types';
import { perCpuAddress } from './currentTask';

export interface TaskInfo {
  /** Address of the task_struct. */
  address: bigint;
  pid: number;
  tgid: number;
  /** The real parent's tgid (as ps's PPID); undefined when it cannot be read. */
  ppid: number | undefined;
  comm: string;
  /** One letter as /proc and ps give it: R S D T t X Z P I. */
  state: string;
  cpu: number | undefined;
  /** No address space: a kernel thread. */
  kernelThread: boolean;
  /** Address-space size in KiB (0 for kernel threads). */
  vszKiB: number;
  /**
   * Resident pages by kind (the mm's counters plus what each thread still holds back): RSS is their
   * sum, as the kernel's get_mm_rss() and /proc's VmRSS count it. (crash's RSS leaves out shmem.)
   */
  rssPages: { file: number; anon: number; shmem: number };
  /** Resident memory in KiB: all three kinds. */
  rssKiB: number;
}

export interface TaskList {
  tasks: TaskInfo[];
  /** Where the list came from, and what could not be read. */
  note: string;
  /** All RAM in pages (`_totalram_pages`), for %MEM; undefined when unknown. */
  totalRamPages: number | undefined;
}

/** pid_max can be 4 Mi: more tasks than that is a loop in a damaged list. */
const MAX_TASKS = 4 * 1024 * 1024;
const PID_MAX_LIMIT = 4 * 1024 * 1024;

// include/linux/sched.h (v4.14+): the state bits /proc reports, and TASK_IDLE.
const TASK_REPORT = 0x7f;
const TASK_IDLE = 0x402;
const TASK_RTLOCK_WAIT = 0x1000;
const TASK_REPORT_IDLE = 0x80;
const STATE_LETTERS = 'RSDTtXZPI';
/** mm_rss_stat counters that make up RSS: MM_FILEPAGES, MM_ANONPAGES, MM_SHMEMPAGES. */
const RSS_COUNTERS = { file: 0, anon: 1, shmem: 3 } as const;
type RssKind = keyof typeof RSS_COUNTERS;
const RSS_KINDS = Object.keys(RSS_COUNTERS) as RssKind[];

/** The state letter of a task (fs/proc/array.c task_state_index). */
export function stateLetter(state: number, exitState: number): string {
  let s = (state | exitState) & TASK_REPORT;
  if ((state & TASK_IDLE) === TASK_IDLE) s = TASK_REPORT_IDLE;
  if (state & TASK_RTLOCK_WAIT) s = 2;
  const index = s === 0 ? 0 : 32 - Math.clz32(s);
  return STATE_LETTERS[index] ?? '?';
}

interface Layout {
  tasks: number;
  pid: number;
  tgid: number;
  comm: number;
  commLength: number;
  state: { offset: number; size: number };
  exitState: number;
  realParent: number;
  mm: number;
  cpu: number | undefined;
  /** Thread list: signal->thread_head with task.thread_node, or task.thread_group (older). */
  threads: { signal: number; head: number; node: number } | { group: number };
  totalVm: number;
  /** mm->rss_stat.count[] (atomic_long_t, v6.1) and task->rss_stat.count[] (int, SPLIT_RSS_COUNTING). */
  mmRss: number | undefined;
  taskRss: number | undefined;
  rqIdle: number;
}

function layoutFrom(btf: Btf): Layout {
  const at = (s: string, m: string) => btf.memberOffset(s, m);
  const has = (s: string, m: string) => btf.findMember(s, m) !== undefined;
  const stateName = has('task_struct', '__state') ? '__state' : 'state';
  const stateMember = btf.findMember('task_struct', stateName)!;
  const comm = btf.findMember('task_struct', 'comm');
  if (!comm) throw new Error('task_struct has no comm');
  const cpuPath = has('task_struct', 'cpu')
    ? 'cpu'
    : has('task_struct', 'thread_info.cpu')
      ? 'thread_info.cpu'
      : undefined;
  const mmRss = btf.findMember('mm_struct', 'rss_stat.count');
  const mmRssArray = mmRss && btf.sizeOf(mmRss.type) >= 32;
  return {
    tasks: at('task_struct', 'tasks'),
    pid: at('task_struct', 'pid'),
    tgid: at('task_struct', 'tgid'),
    comm: at('task_struct', 'comm'),
    commLength: btf.sizeOf(comm.type),
    state: { offset: at('task_struct', stateName), size: btf.sizeOf(stateMember.type) },
    exitState: at('task_struct', 'exit_state'),
    realParent: at('task_struct', 'real_parent'),
    mm: at('task_struct', 'mm'),
    cpu: cpuPath ? at('task_struct', cpuPath) : undefined,
    threads:
      has('task_struct', 'thread_node') && has('signal_struct', 'thread_head')
        ? {
            signal: at('task_struct', 'signal'),
            head: at('signal_struct', 'thread_head'),
            node: at('task_struct', 'thread_node'),
          }
        : { group: at('task_struct', 'thread_group') },
    totalVm: at('mm_struct', 'total_vm'),
    mmRss: mmRssArray ? at('mm_struct', 'rss_stat.count') : undefined,
    taskRss: has('task_struct', 'rss_stat.count') ? at('task_struct', 'rss_stat.count') : undefined,
    rqIdle: at('rq', 'idle'),
  };
}

export interface ReadTasksOptions {
  /** CPU numbers whose idle task (rq->idle) to list besides init_task. */
  cpus: readonly number[];
  pageSize: number;
  signal?: AbortSignal;
}

/** Read every task. Without BTF or the needed symbols the list is empty and the note says why. */
export async function readTasks(
  mem: VirtualMemory,
  symbols: SymbolTable | undefined,
  btf: Btf | undefined,
  options: ReadTasksOptions,
): Promise<TaskList> {
  const none = (note: string): TaskList => ({ tasks: [], note, totalRamPages: undefined });
  if (!btf) return none("the task list needs the kernel's BTF, and none was found");
  const init = symbols?.lookup('init_task');
  if (!symbols || !init)
    return none(
      `the task list needs the symbol "init_task", which is not in ${symbols ? symbols.description : 'any symbol table'} (kallsyms without CONFIG_KALLSYMS_ALL has only functions): give a System.map or vmlinux`,
    );
  let layout: Layout;
  try {
    layout = layoutFrom(btf);
  } catch (err) {
    return none(`the task layout cannot be read from ${btf.name}: ${(err as Error).message}`);
  }
  const u32 = (a: bigint, what: string) => readU32(mem, a, what);
  const i32 = async (a: bigint, what: string) => (await readU32(mem, a, what)) | 0;

  const pageKiB = options.pageSize / 1024;
  const readOne = async (address: bigint): Promise<TaskInfo> => {
    const what = `task at 0x${address.toString(16)}`;
    const field = (offset: number) => address + BigInt(offset);
    const pid = await i32(field(layout.pid), `${what}: pid`);
    const tgid = await i32(field(layout.tgid), `${what}: tgid`);
    if (pid < 0 || pid > PID_MAX_LIMIT || tgid < 0 || tgid > PID_MAX_LIMIT)
      throw new Error(`${what} does not hold a task (pid ${pid}, tgid ${tgid})`);
    const commBytes = await readFully(mem, field(layout.comm), layout.commLength, `${what}: comm`);
    const end = commBytes.indexOf(0);
    const comm = Buffer.from(commBytes.subarray(0, end < 0 ? commBytes.length : end)).toString('utf8');
    const state =
      layout.state.size === 8
        ? Number((await readPointer(mem, field(layout.state.offset), `${what}: state`)) & 0xffffffffn)
        : await u32(field(layout.state.offset), `${what}: state`);
    const exitState = await u32(field(layout.exitState), `${what}: exit_state`);
    const cpu = layout.cpu === undefined ? undefined : await u32(field(layout.cpu), `${what}: cpu`);
    // The idle tasks' parent is no process (crash shows 0 too).
    let ppid: number | undefined = pid === 0 ? 0 : undefined;
    const parent = await readPointer(mem, field(layout.realParent), `${what}: real_parent`).catch(() => 0n);
    if (pid !== 0 && parent !== 0n)
      ppid = await i32(parent + BigInt(layout.tgid), `${what}: parent's tgid`).catch(() => undefined);
    const mm = await readPointer(mem, field(layout.mm), `${what}: mm`);
    let vszKiB = 0;
    const rssPages = { file: 0, anon: 0, shmem: 0 };
    if (mm !== 0n) {
      vszKiB = Number(await readPointer(mem, mm + BigInt(layout.totalVm), `${what}: mm->total_vm`)) * pageKiB;
      if (layout.mmRss !== undefined)
        for (const kind of RSS_KINDS) {
          const at = mm + BigInt(layout.mmRss + RSS_COUNTERS[kind] * 8);
          rssPages[kind] = Number(BigInt.asIntN(64, await readPointer(mem, at, `${what}: mm->rss_stat`)));
        }
    }
    return {
      address,
      pid,
      tgid,
      ppid,
      comm,
      state: stateLetter(state, exitState),
      cpu,
      kernelThread: mm === 0n,
      vszKiB,
      rssKiB: 0, // once the threads' held-back counts are added, below
      rssPages,
    };
  };

  const tasks: TaskInfo[] = [];
  const problems: string[] = [];
  const seen = new Set<bigint>();
  const add = async (address: bigint) => {
    if (seen.has(address)) return false;
    if (seen.size >= MAX_TASKS) throw new Error(`more than ${MAX_TASKS} tasks`);
    seen.add(address);
    tasks.push(await readOne(address));
    return true;
  };

  // The idle tasks: init_task is CPU 0's; the others are each run queue's rq->idle.
  await add(init.address);
  const runqueues = symbols.lookup('runqueues');
  const perCpuOffset = symbols.lookup('__per_cpu_offset');
  if (runqueues && perCpuOffset)
    for (const cpu of options.cpus) {
      try {
        const rq = await perCpuAddress(mem, perCpuOffset.address, runqueues.address, cpu);
        const idle = await readPointer(mem, rq + BigInt(layout.rqIdle), `CPU ${cpu}'s rq->idle`);
        if (idle !== 0n) await add(idle);
      } catch (err) {
        problems.push(`the idle task of CPU ${cpu}: ${(err as Error).message}`);
      }
    }

  /** Walk a circular list from `head`, giving each entry's address minus `offset`. */
  const walk = async (
    head: bigint,
    offset: number,
    visit: (entry: bigint) => Promise<void>,
    what: string,
  ) => {
    const ring = new Set<bigint>();
    let next = await readPointer(mem, head, `${what}: next`);
    while (next !== head) {
      options.signal?.throwIfAborted();
      if (ring.has(next) || ring.size >= MAX_TASKS) throw new Error(`${what} loops`);
      ring.add(next);
      await visit(next - BigInt(offset));
      next = await readPointer(mem, next, `${what}: next`);
    }
  };
  try {
    await walk(
      init.address + BigInt(layout.tasks),
      layout.tasks,
      async (leader) => {
        await add(leader);
        try {
          const t = layout.threads;
          if ('group' in t)
            await walk(
              leader + BigInt(t.group),
              t.group,
              async (x) => void (await add(x)),
              `the threads of 0x${leader.toString(16)}`,
            );
          else {
            const sig = await readPointer(
              mem,
              leader + BigInt(t.signal),
              `task 0x${leader.toString(16)}: signal`,
            );
            await walk(
              sig + BigInt(t.head),
              t.node,
              async (x) => void (await add(x)),
              `the threads of 0x${leader.toString(16)}`,
            );
          }
        } catch (err) {
          if ((err as Error).name === 'AbortError') throw err;
          problems.push((err as Error).message);
        }
      },
      'the task list',
    );
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    problems.push(`the task list breaks after ${tasks.length} tasks: ${(err as Error).message}`);
  }

  // Each thread holds back up to a few dozen pages of counts (SPLIT_RSS_COUNTING, before v6.2):
  // the process's RSS is the mm's counters plus every thread's, as crash adds them.
  if (layout.taskRss !== undefined) {
    const held = new Map<number, { file: number; anon: number; shmem: number }>();
    for (const t of tasks) {
      if (t.kernelThread) continue;
      const sum = held.get(t.tgid) ?? { file: 0, anon: 0, shmem: 0 };
      for (const kind of RSS_KINDS)
        sum[kind] += await i32(t.address + BigInt(layout.taskRss + RSS_COUNTERS[kind] * 4), 'rss_stat').catch(
          () => 0,
        );
      held.set(t.tgid, sum);
    }
    for (const t of tasks) {
      const h = held.get(t.tgid);
      if (!t.kernelThread && h) for (const kind of RSS_KINDS) t.rssPages[kind] += h[kind];
    }
  }
  for (const t of tasks)
    t.rssKiB = Math.max(0, t.rssPages.file + t.rssPages.anon + t.rssPages.shmem) * pageKiB;

  const totalram = symbols.lookup('_totalram_pages') ?? symbols.lookup('totalram_pages');
  const totalRamPages = totalram
    ? Number(await readPointer(mem, totalram.address, 'totalram_pages').catch(() => 0n)) || undefined
    : undefined;
  return {
    tasks,
    totalRamPages,
    note: `${tasks.length} tasks from init_task's task list with offsets from ${btf.name}${problems.length ? `; ${problems.join('; ')}` : ''}`,
  };
}

/**
 * Where a task that is not running stopped: the registers `switch_to` saved, from which its stack
 * unwinds. x86_64: `thread.sp` points at the `inactive_task_frame` (r15 … bp, then the return
 * address into `__schedule`) that `__switch_to_asm` pushed. aarch64: `thread.cpu_context` (x19–x28,
 * fp, sp, pc). Offsets from BTF.
 */
export async function savedRegisters(
  mem: VirtualMemory,
  btf: Btf,
  arch: string,
  task: bigint,
): Promise<Map<string, bigint>> {
  const regs = new Map<string, bigint>();
  const what = `task at 0x${task.toString(16)}`;
  if (arch === 'x86_64') {
    const sp = await readPointer(
      mem,
      task + BigInt(btf.memberOffset('task_struct', 'thread.sp')),
      `${what}: thread.sp`,
    );
    const frame = (name: string) => btf.memberOffset('inactive_task_frame', name);
    for (const r of ['r15', 'r14', 'r13', 'r12', 'bp', 'bx'])
      regs.set(
        r === 'bp' ? 'rbp' : r === 'bx' ? 'rbx' : r,
        await readPointer(mem, sp + BigInt(frame(r)), `${what}: saved ${r}`),
      );
    regs.set('rip', await readPointer(mem, sp + BigInt(frame('ret_addr')), `${what}: saved return address`));
    regs.set('rsp', sp + BigInt(btf.structSize('inactive_task_frame')));
    regs.set('cs', 0x10n); // kernel mode
    return regs;
  }
  if (arch === 'aarch64') {
    const context = task + BigInt(btf.memberOffset('task_struct', 'thread.cpu_context'));
    const at = (name: string) => context + BigInt(btf.memberOffset('cpu_context', name));
    for (let i = 19; i <= 28; i++)
      regs.set(`x${i}`, await readPointer(mem, at(`x${i}`), `${what}: saved x${i}`));
    regs.set('x29', await readPointer(mem, at('fp'), `${what}: saved fp`));
    regs.set('sp', await readPointer(mem, at('sp'), `${what}: saved sp`));
    regs.set('pc', await readPointer(mem, at('pc'), `${what}: saved pc`));
    regs.set('pstate', 0x5n); // EL1h: kernel mode
    return regs;
  }
  throw new Error(`the saved registers of a sleeping task are not known for ${arch} yet`);
}
