/**
 * Every task, as `ps` lists them, on every real dump: each thread against drgn's task list (pid,
 * tgid, comm, state, CPU, task_struct), and each row crash's `ps` printed (idle tasks, the CPUs'
 * current tasks with `>`, VSZ and RSS). Then the state letters and a damaged task list.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/adapter/commands';
import { KernelDump } from '../../src/kernel/kernelDump';
import { readTasks, stateLetter, type TaskList } from '../../src/kernel/tasks';
import { type CorpusDump, corpus, type DrgnTask, refFile, systemMapFor } from '../support/corpus';
import { patchedMemory, u64le } from '../support/patchedMemory';

const dumps = corpus();

describe.each(dumps.map((d) => [d.name, d] as const))('%s', (_name, d: CorpusDump) => {
  const drgn = (d.truth.drgn?.tasks ?? []) as DrgnTask[];
  const systemMap = d.truth.arch === 'aarch64' ? systemMapFor(d) : undefined;
  const readable = d.truth.arch === 'x86_64' || systemMap !== undefined;
  let k: KernelDump;
  let list: TaskList;
  beforeAll(async () => {
    k = await KernelDump.open(d.path, { systemMap });
    list = await k.tasks();
  });
  afterAll(async () => {
    await k?.close();
  });

  it.runIf(readable && drgn.length > 0)(
    "every thread equals drgn's task list: pid, tgid, comm, state, CPU, task",
    () => {
      expect(list.note).toMatch(/^\d+ tasks from init_task's task list with offsets from .*BTF/);
      const key = (t: { pid: number; task: string }) => `${t.pid} ${t.task}`;
      const ours = list.tasks
        .filter((t) => t.pid !== 0) // drgn's for_each_task leaves out the idle tasks
        .map((t) => ({
          pid: t.pid,
          tgid: t.tgid,
          comm: t.comm,
          state: t.state,
          cpu: t.cpu,
          task: `0x${t.address.toString(16)}`,
        }))
        .sort((a, b) => key(a).localeCompare(key(b)));
      expect(ours).toEqual([...drgn].sort((a, b) => key(a).localeCompare(key(b))));
      // one idle task per CPU with saved registers, CPU 0's being init_task
      const idle = list.tasks.filter((t) => t.pid === 0);
      expect(idle.map((t) => t.cpu).sort()).toEqual(k.cpus.map((c) => c.cpu).sort());
      expect(idle.find((t) => t.cpu === 0)?.address).toBe(k.symbols!.lookup('init_task')!.address);
    },
  );

  it.runIf(readable && drgn.length > 0)(
    "every task's stack: a CPU's current task as its CPU's; every other from switch_to's saved registers, in the scheduler, down to where the task began",
    async () => {
      const arm64 = d.truth.arch === 'aarch64';
      let sleeping = 0;
      for (const t of list.tasks) {
        const bt = await k.taskBacktrace(t.address);
        const cpu = k.cpus.findIndex((c) => c.task?.address === t.address);
        if (cpu >= 0) {
          expect(bt).toBe(await k.backtrace(cpu));
          continue;
        }
        sleeping++;
        const names = bt.frames.map((f) => f.name);
        const what = `${t.pid} ${t.comm}: ${names.join(' < ')}`;
        expect(bt.stopReason, what).toBeUndefined();
        expect(
          bt.frames.every((f) => f.reliable),
          what,
        ).toBe(true);
        // switch_to saved them in the scheduler ...
        expect(names[0], what).toMatch(arm64 ? /^__switch_to\+0x[0-9a-f]+$/ : /^__schedule\+0x[0-9a-f]+$/);
        expect(
          names.some((n) => /^(schedule|schedule_idle)\+/.test(n)),
          what,
        ).toBe(true);
        // ... and the stack goes down to where the task began: user space for a process, the fork
        // trampoline for a kernel thread, the boot path for an idle task
        const last = bt.frames[bt.frames.length - 1]!;
        if (t.pid === 0)
          expect(last.name, what).toMatch(
            arm64 ? /^__(primary|secondary)_switched\+/ : /^secondary_startup_64/,
          );
        else if (t.kernelThread) expect(last.name, what).toMatch(/^ret_from_fork\+/);
        // (arm64 stacks end at the EL0 exception entry, as the panicking CPU's does in drgn's reference)
        else if (arm64) expect(last.name, what).toMatch(/^el0t_64_sync\+/);
        else expect(last.userMode, what).toBe(true);
      }
      expect(sleeping).toBeGreaterThan(40);
    },
  );

  it.runIf(readable && drgn.length > 0)(
    "`bt PID` and `bt TASK` in the Debug Console: crash's header for that task, its stack",
    async () => {
      const init = drgn.find((t) => t.pid === 1)!;
      const ctx = { kernel: k, cpuIndex: 0 };
      const byPid = await runCommand('bt 1', ctx);
      expect(byPid.split('\n')[0]).toBe(
        `PID: 1        TASK: ${init.task.slice(2)}  CPU: ${String(init.cpu).padEnd(3)}  COMMAND: "init"`,
      );
      expect(await runCommand(`bt ${init.task}`, ctx)).toBe(byPid);
      // pid 0: one idle task per CPU
      expect((await runCommand('bt 0', ctx)).match(/^PID: 0 /gm)).toHaveLength(k.cpus.length);
      await expect(runCommand('bt 4000000', ctx)).rejects.toThrow('no task has pid 4000000 (ps lists them)');
      await expect(runCommand('bt init', ctx)).rejects.toThrow(/neither a pid nor a task address/);
    },
  );

  const crashPs = refFile(d, 'crash-ps.txt');
  it.runIf(readable && crashPs !== undefined)(
    "`ps` gives each row crash's ps printed: PID, PPID, CPU, TASK, ST, VSZ, COMM, the > marks; RSS",
    async () => {
      const row = /^(>?)\s*(\d+)\s+(-?\d+)\s+(\d+)\s+([0-9a-f]+)\s+(\S+)\s+([\d.]+)\s+(\d+)\s+(\d+)\s+(.+)$/;
      const parse = (text: string) =>
        text
          .split('\n')
          .map((l) => row.exec(l))
          .filter((m): m is RegExpExecArray => m !== null)
          .map((m) => ({
            active: m[1] === '>',
            pid: Number(m[2]),
            ppid: Number(m[3]),
            cpu: Number(m[4]),
            task: m[5]!,
            st: m[6]!,
            vsz: Number(m[8]),
            rss: Number(m[9]),
            comm: m[10]!,
          }));
      const expected = parse(crashPs!);
      expect(expected.length).toBeGreaterThan(0);
      const ours = parse(await runCommand('ps', { kernel: k, cpuIndex: 0 }));
      expect(ours).toHaveLength(list.tasks.length);
      const pageKiB = (d.truth.kernel?.pagesize ?? 4096) / 1024;
      for (const want of expected) {
        const got = ours.find((r) => r.task === want.task);
        expect(got, want.task).toBeDefined();
        const { ppid, rss, ...same } = want;
        expect({ ...got!, ppid: undefined, rss: undefined }).toEqual({
          ...same,
          ppid: undefined,
          rss: undefined,
        });
        if (ppid >= 0) expect(got!.ppid, `${want.task} PPID`).toBe(ppid); // crash prints -1 where it could not read it
        // crash's RSS counts file and anonymous pages; ours adds shmem, as the kernel's get_mm_rss does
        const t = list.tasks.find((x) => `${x.address.toString(16)}` === want.task)!;
        expect((t.rssPages.file + t.rssPages.anon) * pageKiB, `${want.task} RSS without shmem`).toBe(rss);
        expect(got!.rss).toBe((t.rssPages.file + t.rssPages.anon + t.rssPages.shmem) * pageKiB);
      }
      // exactly the CPUs' current tasks are marked
      expect(
        ours
          .filter((r) => r.active)
          .map((r) => r.task)
          .sort(),
      ).toEqual(k.cpus.flatMap((c) => (c.task ? [c.task.address.toString(16)] : [])).sort());
    },
  );
});

describe('state letters as /proc gives them (include/linux/sched.h, fs/proc/array.c)', () => {
  it.each([
    [0, 0, 'R'],
    [0x1, 0, 'S'],
    [0x2, 0, 'D'],
    [0x4, 0, 'T'],
    [0x8, 0, 't'],
    [0x80, 0x10, 'X'],
    [0x80, 0x20, 'Z'],
    [0x40, 0, 'P'],
    [0x402, 0, 'I'],
    [0x1000, 0, 'D'],
    [0x101, 0, 'S'],
  ])('state 0x%s, exit_state 0x%s: %s', (state, exit, letter) => {
    expect(stateLetter(state, exit)).toBe(letter);
  });
});

describe.runIf(dumps.some((d) => d.name === 'kdump-sysrq/vmcore.elf-d31'))('a damaged task list', () => {
  let k: KernelDump;
  beforeAll(async () => {
    k = await KernelDump.open(dumps.find((d) => d.name === 'kdump-sysrq/vmcore.elf-d31')!.path);
  });
  afterAll(async () => {
    await k?.close();
  });
  const options = () => ({ cpus: [0, 1], pageSize: 4096 });

  it('a list that loops ends the walk with the tasks read so far, and says so', async () => {
    const good = await k.tasks();
    const tasksOffset = BigInt(k.btf!.memberOffset('task_struct', 'tasks'));
    // init (pid 1)'s tasks.next points back at itself
    const init = good.tasks.find((t) => t.pid === 1)!;
    const mem = patchedMemory(
      k.space,
      new Map([[init.address + tasksOffset, u64le(init.address + tasksOffset)]]),
    );
    const r = await readTasks(mem, k.symbols, k.btf, options());
    expect(r.tasks.map((t) => t.pid)).toEqual([0, 0, 1]);
    expect(r.note).toMatch(/; the task list breaks after 3 tasks: the task list loops$/);
  });

  it('a pointer to something that is not a task stops there, naming it', async () => {
    const tasksOffset = BigInt(k.btf!.memberOffset('task_struct', 'tasks'));
    const initTask = k.symbols!.lookup('init_task')!.address;
    // init_task.tasks.next → the page of zeroes before init_task's pid: pid 0 tgid 0 reads fine, so
    // point it at kernel text instead, whose bytes are no pid
    const text = k.symbols!.lookup('_stext')!.address;
    const mem = patchedMemory(k.space, new Map([[initTask + tasksOffset, u64le(text + tasksOffset)]]));
    const r = await readTasks(mem, k.symbols, k.btf, options());
    expect(r.tasks.map((t) => t.pid)).toEqual([0, 0]);
    expect(r.note).toMatch(
      new RegExp(`the task list breaks after 2 tasks: task at 0x${text.toString(16)} does not hold a task`),
    );
  });

  it('stops when cancelled', async () => {
    const err = await readTasks(k.space, k.symbols, k.btf, {
      ...options(),
      signal: AbortSignal.abort(),
    }).catch((e) => e);
    expect(err.name).toBe('AbortError');
  });

  it('without BTF or init_task there is no list, and the note says which', async () => {
    expect((await readTasks(k.space, k.symbols, undefined, options())).note).toBe(
      "the task list needs the kernel's BTF, and none was found",
    );
    expect((await readTasks(k.space, undefined, k.btf, options())).note).toMatch(
      /^the task list needs the symbol "init_task", which is not in any symbol table/,
    );
  });
});
