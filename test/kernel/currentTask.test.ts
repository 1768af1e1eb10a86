/**
 * The task running on each CPU: every real dump, every CPU, against every reference that names it —
 * the ground truth's per-CPU summary, drgn's per-CPU `curr`, crash's `bt -a` headers and the active
 * (`>`) lines of crash's `ps`. Then test-built kernels for what the real dumps do not show: a CPU in
 * the middle of a context switch, damaged pointers and tasks, missing symbols and BTF.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { threadName } from '../../src/adapter/session';
import { backtraceHeader } from '../../src/kernel/crashFormat';
import { type CurrentTaskInput, readCurrentTasks } from '../../src/kernel/currentTask';
import { KernelDump } from '../../src/kernel/kernelDump';
import { Btf } from '../../src/symbols/btf';
import { type KernelSymbol, SymbolTable } from '../../src/symbols/symbolTable';
import { BtfBuilder } from '../support/btfBuilder';
import { type CorpusDump, corpus, refFile, systemMapFor } from '../support/corpus';
import { vmlinuxPath } from '../support/debianKernel';
import { Bytes, TestVirtualMemory } from '../support/virtualMemory';

interface ExpectedTask {
  cpu: number;
  pid: number;
  comm: string;
  task: bigint;
}

/** Per reference, the task on each CPU it names. */
function references(d: CorpusDump): Record<string, ExpectedTask[]> {
  const out: Record<string, ExpectedTask[]> = {};
  out['ground truth per-CPU summary'] = (
    d.truth.summary_per_cpu as {
      cpu: number;
      current_pid: number;
      current_comm: string;
      current_task: string;
    }[]
  ).map((c) => ({ cpu: c.cpu, pid: c.current_pid, comm: c.current_comm, task: BigInt(c.current_task) }));
  const drgn = d.truth.drgn?.per_cpu as
    | { cpu: number; curr_pid: number; curr_comm: string; curr_task: string }[]
    | undefined;
  if (drgn)
    out["drgn's per-CPU rq->curr"] = drgn.map((c) => ({
      cpu: c.cpu,
      pid: c.curr_pid,
      comm: c.curr_comm,
      task: BigInt(c.curr_task),
    }));
  const bt = refFile(d, 'crash-bt-a.txt');
  if (bt) {
    out["crash's bt -a headers"] = [
      ...bt.matchAll(/^PID: (\d+)\s+TASK: ([0-9a-f]+)\s+CPU: (\d+)\s+COMMAND: "(.*)"$/gm),
    ].map((m) => ({ cpu: Number(m[3]), pid: Number(m[1]), comm: m[4]!, task: BigInt(`0x${m[2]}`) }));
  }
  const ps = refFile(d, 'crash-ps.txt');
  if (ps) {
    // `>` marks the task active on a CPU: PID PPID CPU TASK ST %MEM VSZ RSS COMM ([kernel thread]).
    out["crash's ps active tasks"] = [
      ...ps.matchAll(/^>\s+(\d+)\s+-?\d+\s+(\d+)\s+([0-9a-f]+)\s+\S+\s+[\d.]+\s+\d+\s+\d+\s+(.+)$/gm),
    ].map((m) => ({
      cpu: Number(m[2]),
      pid: Number(m[1]),
      comm: m[4]!.replace(/^\[(.*)\]$/, '$1'),
      task: BigInt(`0x${m[3]}`),
    }));
  }
  return out;
}

const dumps = corpus();
const tally: string[] = [];
afterAll(() => {
  if (tally.length > 0)
    console.log(`current task per CPU, matched against the references:\n${tally.join('\n')}`);
});

describe.each(dumps.map((d) => [d.name, d] as const))('%s', (_name, ref) => {
  let k: KernelDump;
  // The arm64 kernel's kallsyms has no data symbols (no CONFIG_KALLSYMS_ALL): its System.map has them.
  const systemMap = systemMapFor(ref);
  beforeAll(async () => {
    k = await KernelDump.open(ref.path, systemMap ? { systemMap } : {});
  });
  afterAll(async () => {
    await k?.close();
  });

  it('reads the task on every CPU as every reference names it: address, pid and comm', () => {
    const refs = references(ref);
    expect(Object.keys(refs).length).toBeGreaterThanOrEqual(2);
    expect(k.cpus.length).toBe(ref.truth.prstatus.length);
    const counts: string[] = [];
    for (const [source, expected] of Object.entries(refs)) {
      expect(expected.length, source).toBe(k.cpus.length);
      let matched = 0;
      for (const e of expected) {
        const cpu = k.cpus.find((c) => c.cpu === e.cpu);
        expect(cpu, `${source}: CPU ${e.cpu}`).toBeDefined();
        expect(cpu!.taskProblem, `${source}: CPU ${e.cpu}`).toBeUndefined();
        expect(cpu!.task, `${source}: CPU ${e.cpu}`).toEqual({ address: e.task, pid: e.pid, comm: e.comm });
        matched++;
      }
      counts.push(`${source} ${matched}/${expected.length}`);
    }
    tally.push(`  ${ref.name}: ${counts.join(', ')}`);
    // The sources agree (rq->curr, the arch's current pointer, a crashing kernel's note pid).
    for (const c of k.cpus) expect(c.taskNote, `CPU ${c.cpu}`).toBeUndefined();
    expect(k.tasksNote).toMatch(/^current tasks from the per-CPU run queues \(rq->curr, checked against /);
    expect(k.btfNote).toMatch(/^\d+ types from the kernel BTF at 0x/);
  });

  it("names threads `CPU n · pid P · comm` and prints crash's bt header", () => {
    const bt = refFile(ref, 'crash-bt-a.txt');
    for (const c of k.cpus) {
      expect(threadName(c)).toBe(`CPU ${c.cpu} · pid ${c.task!.pid} · ${c.task!.comm}`);
      const header = backtraceHeader(c);
      // crash prints the same header line; ours marks the panicking CPU after it.
      if (bt) expect(bt.split('\n')).toContain(header.replace(/ {2}\(panic\)$/, ''));
      expect(header).toMatch(
        new RegExp(`^PID: ${c.task!.pid} +TASK: ${c.task!.address.toString(16)}  CPU: ${c.cpu} `),
      );
    }
  });

  it('sys lists the task on each CPU and where it came from', async () => {
    const info = await k.systemInfo();
    for (const c of k.cpus)
      expect(info[`CPU ${c.cpu}`]).toBe(
        `PID: ${c.task!.pid}  TASK: ${c.task!.address.toString(16)}  COMMAND: "${c.task!.comm}"${c.panicked ? '  (panic)' : ''}`,
      );
    expect(info['CURRENT TASKS']).toBe(k.tasksNote);
    expect(info.BTF).toBe(k.btfNote);
  });
});

describe('the arm64 dump with only its own kallsyms', () => {
  const arm64 = dumps.find((d) => d.truth.arch === 'aarch64');
  it.runIf(arm64)('says plainly that task names need a System.map or a vmlinux with BTF', async () => {
    const k = await KernelDump.open(arm64!.path);
    try {
      expect(k.symbols?.lookup('__start_BTF')).toBeUndefined();
      for (const c of k.cpus) {
        expect(c.task).toBeUndefined();
        expect(c.taskProblem).toMatch(
          /^task names need the kernel's BTF, and none was found: __start_BTF and __stop_BTF are not in the symbol table \(kallsyms in the dump: .*\): kallsyms without CONFIG_KALLSYMS_ALL lists only functions.*Give a System\.map \(to find the BTF in the dump\) or a vmlinux with a \.BTF section$/,
        );
      }
      expect(k.tasksNote).toBe(k.cpus[0]!.taskProblem);
      // The panicking CPU still has its task's name from the panic header in the log.
      const panicked = k.cpus.find((c) => c.panicked)!;
      expect(threadName(panicked)).toBe(
        `CPU ${arm64!.truth.crash_summary.panic_cpu} · pid ${arm64!.truth.crash_summary.crashed_pid} · ${arm64!.truth.crash_summary.crashed_comm}`,
      );
      const other = k.cpus.find((c) => !c.panicked)!;
      expect(threadName(other)).toBe(`CPU ${other.cpu} · pid ${other.pid}`);
      const info = await k.systemInfo();
      expect(info['CURRENT TASKS']).toBe(k.tasksNote);
      expect(info['CPU 0']).toBeUndefined(); // the shared problem is said once, not per CPU
    } finally {
      await k.close();
    }
  });
});

describe('with the debug vmlinux', () => {
  const d = dumps.find((x) => x.truth.arch === 'x86_64' && x.name.endsWith('elf-d31'));
  it.runIf(d)("uses the vmlinux's .BTF section, and finds the same tasks", async () => {
    const vmlinux = vmlinuxPath(d!.truth.kernel.osrelease);
    const k = await KernelDump.open(d!.path, { vmlinux });
    try {
      expect(k.btfNote).toBe(`${k.btf!.count} types from the .BTF section of ${vmlinux}`);
      const expected = references(d!)['ground truth per-CPU summary']!;
      for (const e of expected) {
        expect(k.cpus.find((c) => c.cpu === e.cpu)!.task).toEqual({
          address: e.task,
          pid: e.pid,
          comm: e.comm,
        });
      }
    } finally {
      await k.close();
    }
  });
});

// ---- Test-built kernels ----

const PER_CPU_OFFSET = 0xffff_ffff_8200_0000n;
const RUNQUEUES = 0x3_0000n; // an x86_64 per-CPU offset, as in System.map
const CURRENT_TASK = 0x1_f000n;
const PERCPU_BASE = [0xffff_8880_1000_0000n, 0xffff_8880_2000_0000n];
const TASKS = [0xffff_8880_0100_0000n, 0xffff_8880_0100_4000n, 0xffff_8880_0100_8000n];

/** BTF with task_struct { ...; pid at 16; comm at 40 } and rq { curr at 8 }. */
function layoutBtf(options: { withRq?: boolean; commLength?: number; pcpuHot?: boolean } = {}): Btf {
  const b = new BtfBuilder();
  const int = b.int('int', 4, { signed: true });
  const pidT = b.typedef('pid_t', int);
  const char = b.int('char', 1, { signed: true });
  const task = b.struct('task_struct', 64, [
    { name: 'pid', type: pidT, bitOffset: 16 * 8 },
    { name: 'comm', type: b.array(char, options.commLength ?? 16), bitOffset: 40 * 8 },
  ]);
  if (options.withRq !== false)
    b.struct('rq', 16, [
      { name: 'nr_running', type: int, bitOffset: 0 },
      { name: 'curr', type: b.ptr(task), bitOffset: 64 },
    ]);
  // v6.2+ x86_64: struct pcpu_hot { ...; struct task_struct *current_task; ... }.
  if (options.pcpuHot)
    b.struct('pcpu_hot', 64, [
      { name: 'preempt_count', type: int, bitOffset: 0 },
      { name: 'current_task', type: b.ptr(task), bitOffset: 64 },
    ]);
  return new Btf(b.build());
}

function task(pid: number, comm: string): Uint8Array {
  return new Bytes(64).s32(16, pid).ascii(40, comm).bytes;
}

/** Two CPUs: rq->curr and current_task per CPU, three tasks. */
function kernel(options: { curr: bigint[]; current?: bigint[]; tasks?: Uint8Array[]; symbols?: string[] }) {
  const mem = new TestVirtualMemory();
  const offsets = new Bytes(16);
  PERCPU_BASE.forEach((base, cpu) => {
    offsets.u64(cpu * 8, base);
    mem.map(base + RUNQUEUES, new Bytes(16).u64(8, options.curr[cpu]!).bytes);
    if (options.current) mem.map(base + CURRENT_TASK, new Bytes(8).u64(0, options.current[cpu]!).bytes);
  });
  mem.map(PER_CPU_OFFSET, offsets.bytes);
  const tasks = options.tasks ?? [task(136, 'sh'), task(0, 'swapper/1'), task(99, 'kworker/1:2')];
  for (const [i, t] of tasks.entries()) mem.map(TASKS[i]!, t);
  const all: KernelSymbol[] = [
    { name: '__per_cpu_offset', address: PER_CPU_OFFSET, type: 'D' },
    { name: 'runqueues', address: RUNQUEUES, type: 'D' },
    { name: 'current_task', address: CURRENT_TASK, type: 'D' },
    { name: 'pcpu_hot', address: CURRENT_TASK - 8n, type: 'D' },
  ];
  const names = options.symbols ?? ['__per_cpu_offset', 'runqueues', 'current_task'];
  return {
    mem,
    symbols: new SymbolTable(
      all.filter((s) => names.includes(s.name)),
      'System.map',
      'a test System.map',
    ),
  };
}

const twoCpus: CurrentTaskInput = { arch: 'x86_64', cpus: [0, 1], notePids: [136, 0] };

describe('test-built kernels', () => {
  it('rq->curr and current_task agree: the task, no note', async () => {
    const { mem, symbols } = kernel({ curr: [TASKS[0]!, TASKS[1]!], current: [TASKS[0]!, TASKS[1]!] });
    const r = await readCurrentTasks(twoCpus, mem, symbols, layoutBtf());
    expect(r.tasks).toEqual([
      { task: { address: TASKS[0], pid: 136, comm: 'sh' } },
      { task: { address: TASKS[1], pid: 0, comm: 'swapper/1' } },
    ]);
    expect(r.note).toBe(
      'current tasks from the per-CPU run queues (rq->curr, checked against current_task) with task_struct offsets from BTF',
    );
  });

  it('a CPU switching tasks: the current pointer (whose stack the registers are on) wins, and it is said', async () => {
    const { mem, symbols } = kernel({ curr: [TASKS[0]!, TASKS[2]!], current: [TASKS[0]!, TASKS[1]!] });
    const r = await readCurrentTasks(twoCpus, mem, symbols, layoutBtf());
    expect(r.tasks[1]!.task).toEqual({ address: TASKS[1], pid: 0, comm: 'swapper/1' });
    expect(r.tasks[1]!.note).toBe(
      `current_task is pid 0 "swapper/1" at 0x${TASKS[1]!.toString(16)} but rq->curr is pid 99 "kworker/1:2" at 0x${TASKS[2]!.toString(16)}: the CPU was switching tasks; the registers belong to current_task`,
    );
  });

  it('v6.2+ x86_64: pcpu_hot.current_task, located through BTF, is the current pointer', async () => {
    const { mem, symbols } = kernel({
      curr: [TASKS[0]!, TASKS[2]!],
      current: [TASKS[0]!, TASKS[1]!],
      symbols: ['__per_cpu_offset', 'runqueues', 'pcpu_hot'],
    });
    const r = await readCurrentTasks(twoCpus, mem, symbols, layoutBtf({ pcpuHot: true }));
    expect(r.tasks.map((t) => t.task?.pid)).toEqual([136, 0]);
    expect(r.tasks[1]!.note).toMatch(/^pcpu_hot\.current_task is pid 0 "swapper\/1"/);
    expect(r.note).toMatch(/checked against pcpu_hot\.current_task\)/);
  });

  it('a note pid that disagrees with the task is said; QEMU-style pids are not compared', async () => {
    const { mem, symbols } = kernel({ curr: [TASKS[0]!, TASKS[1]!] });
    const r = await readCurrentTasks({ ...twoCpus, notePids: [135, undefined] }, mem, symbols, layoutBtf());
    expect(r.tasks[0]!.note).toBe('the NT_PRSTATUS note says pid 135, the task reads pid 136');
    expect(r.tasks[1]).toEqual({ task: { address: TASKS[1], pid: 0, comm: 'swapper/1' } });
    // current_task is named but not in the dump: rq->curr stands alone, and the note does not claim a check.
    expect(r.note).toMatch(/\(rq->curr\) with/);
  });

  it('NULL, unreadable and garbage tasks, and unknown CPUs, are problems naming the CPU', async () => {
    const garbage = new Bytes(64).s32(16, -7).bytes;
    garbage.fill(0x41, 40, 64); // comm without a NUL
    const { mem, symbols } = kernel({ curr: [0n, 0xffff_8880_dead_0000n], tasks: [garbage] });
    const r = await readCurrentTasks(
      { arch: 'x86_64', cpus: [0, 1, undefined, 9000], notePids: [] },
      mem,
      symbols,
      layoutBtf(),
    );
    expect(r.tasks.map((t) => t.problem)).toEqual([
      "the current task of CPU 0 cannot be read: CPU 0's rq->curr is NULL",
      expect.stringMatching(
        /^the current task of CPU 1 cannot be read: cannot read CPU 1's rq->curr->pid at 0xffff8880dead0010: not-mapped/,
      ),
      'the CPU number of this register note is unknown, so its run queue cannot be chosen',
      'CPU 9000 is not a CPU number',
    ]);
    expect(r.note).toMatch(/\(4 of 4 CPUs could not be read\)$/);
    const bad = kernel({ curr: [TASKS[0]!, TASKS[0]!], tasks: [garbage] });
    const g = await readCurrentTasks(twoCpus, bad.mem, bad.symbols, layoutBtf());
    expect(g.tasks[0]!.problem).toBe(
      `the current task of CPU 0 cannot be read: CPU 0's rq->curr (0x${TASKS[0]!.toString(16)}) does not hold a task: pid -7, comm not NUL-terminated`,
    );
  });

  it('missing symbols, BTF or layout: one plain reason for every CPU', async () => {
    const { mem, symbols } = kernel({ curr: [TASKS[0]!, TASKS[1]!], symbols: ['__per_cpu_offset'] });
    const noRunqueues = await readCurrentTasks(twoCpus, mem, symbols, layoutBtf());
    expect(noRunqueues.tasks.map((t) => t.problem)).toEqual([noRunqueues.note, noRunqueues.note]);
    expect(noRunqueues.note).toBe(
      'runqueues is not in the symbol table (a test System.map; kallsyms without CONFIG_KALLSYMS_ALL has only functions): a System.map or vmlinux has them',
    );
    const full = kernel({ curr: [TASKS[0]!, TASKS[1]!] });
    const noBtf = await readCurrentTasks(twoCpus, full.mem, full.symbols, undefined, 'no BTF here');
    expect(noBtf).toEqual({
      tasks: [{ problem: 'no BTF here' }, { problem: 'no BTF here' }],
      note: 'no BTF here',
    });
    const noRq = await readCurrentTasks(twoCpus, full.mem, full.symbols, layoutBtf({ withRq: false }));
    expect(noRq.note).toBe('the task layout cannot be read from BTF: BTF has no struct rq');
    const oddComm = await readCurrentTasks(twoCpus, full.mem, full.symbols, layoutBtf({ commLength: 0 }));
    expect(oddComm.note).toBe(
      'the task layout cannot be read from BTF: task_struct.comm is 0 bytes in BTF, not a task name',
    );
    const noSymbols = await readCurrentTasks(twoCpus, full.mem, undefined, layoutBtf());
    expect(noSymbols.note).toMatch(/^no symbols to find the run queues/);
  });
});
