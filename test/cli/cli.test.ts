/**
 * The built `vmcore` CLI (dist/cli.js) run as a child process against every real dump: registers,
 * bytes and VMCOREINFO must equal what crash, drgn and readelf found (ground-truth.json and crash's
 * own output); bad input must give one line on stderr and exit status 2, never a stack trace.
 */
import { execFile, execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matchRate } from '../support/backtrace';
import {
  type CorpusDump,
  corpus,
  type DrgnTask,
  PROJECT_ROOT,
  refFile,
  systemMapFor,
  tasksFromKallsyms,
  VMCORES,
} from '../support/corpus';
import { vmlinuxPath } from '../support/debianKernel';
import { ByteWriter, buildElfCore, EM, NT_PRSTATUS, pattern } from '../support/elfBuilder';

const CLI = join(PROJECT_ROOT, 'dist', 'cli.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function vmcore(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The way a bad-input failure must look: exit 2, nothing on stdout, one line on stderr, no stack. */
function expectOneLineError(r: Run, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(/^vmcore: /);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at |Error:|\.ts:\d+/);
}

function expectUsageError(r: Run, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).toMatch(/^usage: vmcore /m);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

let tmp: string;
beforeAll(() => {
  // The global setup builds dist/; build here too when the file was run on its own.
  if (!existsSync(CLI)) execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: PROJECT_ROOT });
  tmp = mkdtempSync(join(tmpdir(), 'vmcore-cli-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Sample {
  vaddr: string;
  region: string;
  what: string;
  bytes: string | null;
  paddr_pagewalk?: string;
  bytes_via_phys?: string;
  page_in_dump?: string;
}

/** The kernel's CPU number of note `i`, as crash and drgn found it. */
function cpuOf(d: CorpusDump, i: number): number {
  const pid = d.truth.prstatus[i].pid;
  const per = (d.truth.summary_per_cpu ?? []) as { cpu: number; prstatus_pid: number }[];
  return per.find((c) => c.prstatus_pid === pid)?.cpu ?? i;
}

interface PerCpuTruth {
  cpu: number;
  prstatus_pid: number;
  current_pid: number;
  current_comm: string;
  current_task: string;
}

/** The task on CPU `cpu` as the ground truth has it (crash's bt -a and drgn agree on every dump). */
function taskOn(d: CorpusDump, cpu: number): { address: string; pid: number; comm: string } {
  const c = (d.truth.summary_per_cpu as PerCpuTruth[]).find((x) => x.cpu === cpu)!;
  return { address: `0x${BigInt(c.current_task).toString(16)}`, pid: c.current_pid, comm: c.current_comm };
}

/** What a CPU without a readable task says when only kallsyms without data symbols is at hand. */
const NO_BTF_PROBLEM =
  /^task names need the kernel's BTF, and none was found: __start_BTF and __stop_BTF are not in the symbol table/;

const unavailable = (s: Sample) => s.bytes === null || /filtered/.test(s.page_in_dump ?? '');

/**
 * Samples per dump (each is a process start, so a few): kernel text, and on the dumps that stand for
 * their format also the direct map, a vmalloc stack and one that is not in the dump.
 */
function pickSamples(d: CorpusDump, all: boolean): Sample[] {
  const samples: Sample[] = (d.truth.drgn?.memory_samples ?? []).filter((s: Sample) => s.region !== 'user');
  const picks = [
    samples.find((s) => s.region === 'kernel-image' && !unavailable(s)),
    ...(all
      ? [
          samples.find((s) => /direct-map|linear-map/.test(s.region) && !unavailable(s)),
          samples.find((s) => s.region === 'vmalloc' && !unavailable(s)),
          samples.find(unavailable),
        ]
      : []),
  ];
  return picks.filter((s): s is Sample => s !== undefined);
}

/** The dumps every check runs on (one per format and arch); the others get the essential ones. */
const THOROUGH = new Set([
  'kdump-sysrq/vmcore.elf-d31',
  'kdump-sysrq/vmcore.kdump-zstd',
  'kdump-sysrq/vmcore.flat-zlib',
  'arm64-sysrq/vmcore.elf-d31',
  'qemu-live/vmcore.qemu-elf',
]);

/** crash's `rd` output per address, from the dump's crash-rd-NN.txt files. */
function crashRd(d: CorpusDump): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(d.refDir)) return out;
  for (const f of readdirSync(d.refDir).filter((x) => /^crash-rd-\d+\.txt$/.test(x))) {
    const text = readFileSync(join(d.refDir, f), 'utf8').trim();
    const m = /^([0-9a-f]{16}):/.exec(text) ?? /address: ([0-9a-f]{16})/.exec(text);
    if (m) out.set(m[1]!, text);
  }
  return out;
}

const dumps = corpus();

it('the corpus has dumps of every format for the CLI to read', () => {
  expect(dumps.length).toBeGreaterThanOrEqual(8);
});

describe.each(dumps.map((d) => [d.name, d] as const))('%s', (_name, d) => {
  const thorough = THOROUGH.has(d.name);
  it('info --json: format, arch, release, page size, every CPU register and VMCOREINFO key', async () => {
    const r = await vmcore('info', d.path, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    const format = d.truth.format as string;
    expect(info.format).toBe(format.endsWith('kdump') ? 'kdump' : 'elf');
    expect(info.container).toBe(format.startsWith('flattened') ? 'flattened' : 'plain');
    expect(info.arch).toBe(d.truth.arch);
    expect(info.osrelease).toBe(d.truth.kernel.osrelease);
    expect(info.pageSize).toBe(d.truth.kernel.pagesize);
    // The panic as crash and drgn found it (panic_cpu is -1 in a live QEMU snapshot: no panic).
    const panicCpu = d.truth.crash_summary.panic_cpu as number;
    expect(info.panicCpu).toBe(panicCpu >= 0 ? panicCpu : null);
    expect(info.panicMessage).toBe(d.truth.crash_summary.panic_message ?? null);
    // Every note mapped to its real CPU, every register exact.
    expect(info.cpuNumbering).toBe('kernel');
    // The task on every CPU where the dump's own kallsyms find the BTF and run queues; the reason
    // where they cannot (the panicking CPU's comm then comes from the panic header in the log).
    const tasks = tasksFromKallsyms(d);
    expect(tasks, 'the corpus has the kernel config').toBeDefined();
    expect(info.cpus).toEqual(
      d.truth.prstatus.map((p: { pid: number; regs: Record<string, string> }, i: number) => {
        const cpu = cpuOf(d, i);
        const panicked = cpu === panicCpu;
        const task = taskOn(d, cpu);
        return {
          cpu,
          noteIndex: i,
          pid: p.pid,
          panicked,
          ...(tasks
            ? { comm: task.comm, task }
            : {
                ...(panicked ? { comm: d.truth.crash_summary.crashed_comm } : {}),
                task: null,
                taskProblem: expect.stringMatching(NO_BTF_PROBLEM),
              }),
          registers: p.regs,
        };
      }),
    );
    expect(info.tasksNote).toMatch(tasks ? /^current tasks from the per-CPU run queues/ : NO_BTF_PROBLEM);
    expect(info.vmcoreinfo).toEqual(d.truth.vmcoreinfo);
    expect(Array.isArray(info.missing)).toBe(true);
    if (/\.(elf-d31|kdump-|flat-)/.test(d.name)) {
      expect(info.missing.map((m: { kind: string }) => m.kind)).toContain('excluded-pages');
    }
  });

  it.runIf(thorough)('info: the text summary names the dump, release and each CPU', async () => {
    const r = await vmcore('info', d.path);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`RELEASE: ${d.truth.kernel.osrelease}\\n`));
    expect(r.stdout).toMatch(new RegExp(`ARCH: ${d.truth.arch}\\n`));
    if (d.truth.crash_summary.panic_message) {
      expect(r.stdout).toContain(`PANIC: "${d.truth.crash_summary.panic_message}"\n`);
      expect(r.stdout).toContain(`PANIC CPU: ${d.truth.crash_summary.panic_cpu}\n`);
    }
    // CPU, the task's pid and address (the note's pid and "-" when the task cannot be read), PC, SP.
    const tasks = tasksFromKallsyms(d);
    d.truth.prstatus.forEach((p: { pid: number }, i: number) => {
      const task = taskOn(d, cpuOf(d, i));
      const who = tasks ? `${task.pid} +${task.address.slice(2).padStart(16, '0')}` : `${p.pid} +-`;
      const comm = tasks ? `  "${task.comm}"` : '';
      expect(r.stdout).toMatch(
        new RegExp(`\\n +${cpuOf(d, i)} +${who} +[0-9a-f]{16} +[0-9a-f]{16} +(user|kernel)${comm}( .*)?\\n`),
      );
    });
  });

  it('regs: crash’s register block, value for value', async () => {
    const r = await vmcore('regs', d.path);
    expect(r.code).toBe(0);
    const crash = refFile(d, 'crash-help-r.txt');
    if (crash?.includes('    RIP: ')) {
      // crash 8.0.2's `help -r` on the same dump: every line of its block appears in ours, in order.
      for (const block of crash.trim().split(/\n\s*\n/)) {
        const [head, ...lines] = block.split('\n');
        const cpu = /^CPU (\d+):/.exec(head!)![1];
        const ours = r.stdout.split(/\n\s*\n/).find((b) => b.startsWith(`CPU ${cpu}:`))!;
        expect(ours.split('\n').slice(1, 1 + lines.length)).toEqual(lines);
      }
    }
    // Every register of every CPU, whatever the arch, as `NAME: value`.
    d.truth.prstatus.forEach((p: { regs: Record<string, string> }, i: number) => {
      const block = r.stdout.split(/\n\s*\n/).find((b) => b.startsWith(`CPU ${cpuOf(d, i)}:`))!;
      const shown = new Map([...block.matchAll(/([A-Z0-9_]+): ([0-9a-f]+)/g)].map((m) => [m[1]!, m[2]!]));
      for (const [name, value] of Object.entries(p.regs)) {
        const label = name === 'eflags' && d.truth.arch === 'x86_64' ? 'RFLAGS' : name.toUpperCase();
        expect(BigInt(`0x${shown.get(label)}`), `${name} of CPU ${i}`).toBe(BigInt(value));
      }
    });
  });

  it.runIf(thorough)('regs --cpu 1 --json: only that CPU', async () => {
    const r = await vmcore('regs', d.path, '--cpu', '1', '--json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const note = d.truth.prstatus.findIndex((_p: unknown, i: number) => cpuOf(d, i) === 1);
    expect(out.cpuNumbering).toBe('kernel');
    expect(out.cpus).toHaveLength(1);
    expect(out.cpus[0]).toMatchObject({
      cpu: 1,
      noteIndex: note,
      pid: d.truth.prstatus[note].pid,
      registers: d.truth.prstatus[note].regs,
    });
  });

  it('rd: kernel virtual addresses byte-exact (text as crash prints it), unavailable bytes reported', async () => {
    const samples = pickSamples(d, thorough);
    expect(samples.length).toBeGreaterThanOrEqual(thorough ? 2 : 1);
    const crash = crashRd(d);
    const runs = await Promise.all(
      samples.map((s) =>
        Promise.all([
          vmcore('rd', d.path, s.vaddr, '16', '--json'),
          vmcore('rd', d.path, s.vaddr.replace(/^0x/, ''), '16'),
        ]),
      ),
    );
    for (const [i, s] of samples.entries()) {
      const addr = s.vaddr.replace(/^0x/, '');
      const [json, text] = runs[i]!;
      const out = JSON.parse(json.stdout);
      if (unavailable(s)) {
        expect(json.code, s.what).toBe(1);
        expect(out.unavailable.length, s.what).toBeGreaterThan(0);
        expect(text.code).toBe(1);
        expect(text.stdout, s.what).toMatch(new RegExp(`^${addr}:  \\?\\? \\?\\?`));
        expect(text.stdout).toMatch(/\(16 bytes\): (not in the dump|excluded|not mapped)/);
      } else {
        expect(json.code, s.what).toBe(0);
        expect(out).toEqual({
          address: s.vaddr,
          physical: false,
          length: 16,
          bytes: s.bytes,
          unavailable: [],
        });
        expect(text.code).toBe(0);
        const c = crash.get(addr.padStart(16, '0'));
        if (c) expect(text.stdout.trimEnd(), s.what).toBe(c);
        else expect(text.stdout).toMatch(new RegExp(`^${addr}:  ${s.bytes!.match(/../g)!.join(' ')}   `));
      }
    }
  });

  it('rd --phys: physical addresses byte-exact', async () => {
    const s = (d.truth.drgn?.memory_samples ?? []).find(
      (x: Sample) => x.paddr_pagewalk && x.bytes !== null && !/filtered/.test(x.page_in_dump ?? ''),
    ) as Sample;
    const r = await vmcore('rd', '--phys', d.path, s.paddr_pagewalk!, '16', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).bytes).toBe(s.bytes_via_phys ?? s.bytes);
  });
});

describe.each(dumps.map((d) => [d.name, d] as const))('%s: vtop, ptov, dmesg, bt', (_name, d) => {
  const samples: Sample[] = (d.truth.drgn?.memory_samples ?? []).filter(
    (s: Sample & { pagewalk_entries?: string[] }) => s.region !== 'user' && s.pagewalk_entries,
  );

  it('vtop --json: the physical address and every page-table entry drgn found; text as crash prints it', async () => {
    const picks = [
      samples.find((s) => s.region === 'kernel-image'),
      samples.find((s) => s.region === 'vmalloc'),
    ].filter((s): s is Sample & { pagewalk_entries: string[] } => s !== undefined);
    expect(picks.length).toBeGreaterThan(0);
    for (const s of picks) {
      const r = await vmcore('vtop', d.path, s.vaddr, '--json');
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.virtual).toBe(s.vaddr);
      expect(out.physical, s.what).toBe(s.paddr_pagewalk);
      expect(out.via).toBe('page-table');
      expect(
        out.entries.map((e: { value: string }) => `0x${e.value.slice(2).padStart(16, '0')}`),
        s.what,
      ).toEqual(s.pagewalk_entries);
    }
    // crash's own vtop of the same address: the same physical address and the same entries.
    const crashVtop = existsSync(d.refDir)
      ? readdirSync(d.refDir).filter((f) => /^crash-vtop-\d+\.txt$/.test(f))
      : [];
    for (const f of crashVtop.slice(0, 3)) {
      const ref = readFileSync(join(d.refDir, f), 'utf8');
      const m = /^([0-9a-f]+)\s+([0-9a-f]+)\s*$/m.exec(ref.split('\n')[1] ?? '');
      if (!m) continue;
      const r = await vmcore('vtop', d.path, m[1]!);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.split('\n')[1]!.trim().split(/\s+/)).toEqual([m[1], m[2]]);
      for (const [, table, value] of ref.matchAll(/^\s+(?:PUD|PMD|PTE|P4D): ([0-9a-f]+) => ([0-9a-f]+)/gm))
        expect(r.stdout).toContain(`${table} => ${value}`);
    }
  });

  it('vtop of an unmapped address: exit 1 and the reason', async () => {
    const r = await vmcore('vtop', d.path, '0x1234', '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ virtual: '0x1234', physical: null });
    expect(JSON.parse(r.stdout).error).toMatch(/./);
  });

  it('ptov --json: the direct-map alias of a physical address, at page_offset_base + PADDR', async () => {
    const s = samples.find((x) => x.paddr_pagewalk && x.bytes !== null)!;
    const r = await vmcore('ptov', d.path, s.paddr_pagewalk!, '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.physical).toBe(s.paddr_pagewalk);
    const direct = out.aliases.find((a: { region: string }) => a.region === 'direct-map');
    const base = d.truth.drgn?.kaslr_regions?.page_offset_base;
    if (base) expect(direct.address).toBe(`0x${(BigInt(base) + BigInt(s.paddr_pagewalk!)).toString(16)}`);
    else expect(direct).toBeDefined();
  });

  it('dmesg: identical to makedumpfile --dump-dmesg (or crash log) line for line', async () => {
    const refs = [join(VMCORES, d.scenario, 'logs', 'dmesg.txt'), join(d.refDir, 'crash-log.txt')].filter(
      existsSync,
    );
    expect(refs.length).toBeGreaterThan(0);
    const r = await vmcore('dmesg', d.path);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const want = readFileSync(refs[0]!, 'utf8').replace(/\n+$/, '').split('\n');
    const got = r.stdout.replace(/\n+$/, '').split('\n');
    expect(got.length).toBe(want.length);
    for (let i = 0; i < got.length; i++)
      if (got[i] !== want[i]) expect(got[i], `line ${i + 1}`).toBe(want[i]);
  });

  it('bt --json: the panicking CPU, its frames matching drgn’s reference stack (≥ 95%)', async () => {
    const r = await vmcore('bt', d.path, '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.cpus).toHaveLength(1);
    const cpu = out.cpus[0];
    if (d.truth.crash_summary.panic_message === null) {
      // A live dump (QEMU dump-guest-memory): no CPU panicked; the first CPU is shown and stderr says so.
      expect(cpu.panicked).toBe(false);
      expect(r.stderr).toMatch(
        /the panicking CPU is not known \(panic_cpu is -1: no CPU panicked\); showing CPU 0/,
      );
      expect(cpu.frames[0].function).toMatch(/./);
      return;
    }
    expect(r.stderr).toBe('');
    expect(cpu.panicked).toBe(true);
    expect(cpu.cpu).toBe(d.truth.crash_summary.panic_cpu);
    expect(cpu.pid).toBe(d.truth.crash_summary.crashed_pid);
    expect(cpu.comm).toBe(d.truth.crash_summary.crashed_comm);
    if (tasksFromKallsyms(d)) expect(cpu.task).toEqual(taskOn(d, cpu.cpu));
    else expect(cpu).toMatchObject({ task: null, taskProblem: expect.stringMatching(NO_BTF_PROBLEM) });
    const ours = cpu.frames.map((f: { name: string; pc: string }) => ({ name: f.name, pc: BigInt(f.pc) }));
    const ref = d.truth.drgn?.crashing_cpu_stack_trace ?? [];
    expect(ref.length).toBeGreaterThan(0);
    const { matched, total } = matchRate(ref, ours);
    expect(
      matched / total,
      JSON.stringify({ matched, total, ours: cpu.frames.map((f: { name: string }) => f.name) }),
    ).toBeGreaterThanOrEqual(0.95);
    expect(cpu.frames[0].unwinder).toMatch(/./);
  });

  it('bt --all: one stack per CPU; --cpu N one of them; a CPU that is not there is a usage error', async () => {
    const all = await vmcore('bt', d.path, '--all');
    expect(all.code, all.stderr).toBe(0);
    const headers = all.stdout.split('\n').filter((l) => l.startsWith('PID: '));
    expect(headers).toHaveLength(d.truth.prstatus.length);
    // crash's header, line for line, where crash wrote `bt -a` for this dump.
    const crash = refFile(d, 'crash-bt-a.txt');
    if (crash && tasksFromKallsyms(d)) {
      const want = crash.split('\n').filter((l) => l.startsWith('PID: '));
      expect(headers.map((h) => h.replace(/ {2}\(panic\)$/, ''))).toEqual(want);
    }
    const cpu = cpuOf(d, 0);
    const one = await vmcore('bt', d.path, '--cpu', String(cpu));
    expect(one.code, one.stderr).toBe(0);
    const task = taskOn(d, cpu);
    expect(one.stdout).toMatch(
      tasksFromKallsyms(d)
        ? new RegExp(
            `^PID: ${task.pid}\\s+TASK: ${task.address.slice(2)}\\s+CPU: ${cpu}\\s+COMMAND: "${task.comm}"`,
          )
        : new RegExp(`^PID: ${d.truth.prstatus[0].pid}\\s+CPU: ${cpu}\\s`),
    );
    expectUsageError(await vmcore('bt', d.path, '--cpu', '999'), /has no registers for CPU 999/);
  });

  it("ps --json: every thread as drgn's task list has it, the idle tasks, the CPUs' current tasks active", async () => {
    const drgn = (d.truth.drgn?.tasks ?? []) as DrgnTask[];
    const map = tasksFromKallsyms(d) ? undefined : systemMapFor(d);
    if (!tasksFromKallsyms(d)) {
      const bare = await vmcore('ps', d.path);
      expect(bare.code).toBe(1);
      expect(bare.stderr).toMatch(/needs the kernel's BTF|needs the symbol "init_task"/);
      if (!map) return;
    }
    const r = await vmcore('ps', d.path, ...(map ? ['--system-map', map] : []), '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { tasks: (DrgnTask & { active: boolean })[] };
    const key = (t: { task: string }) => t.task;
    expect(
      out.tasks
        .filter((t) => t.pid !== 0)
        .map(({ pid, tgid, comm, state, cpu, task }) => ({ pid, tgid, comm, state, cpu, task }))
        .sort((a, b) => key(a).localeCompare(key(b))),
    ).toEqual([...drgn].sort((a, b) => key(a).localeCompare(key(b))));
    expect(out.tasks.filter((t) => t.pid === 0)).toHaveLength(d.truth.prstatus.length);
    expect(
      out.tasks
        .filter((t) => t.active)
        .map((t) => t.task)
        .sort(),
    ).toEqual(
      (d.truth.summary_per_cpu as { current_task: string }[])
        .map((c) => `0x${BigInt(c.current_task).toString(16)}`)
        .sort(),
    );
  });

  it.runIf(refFile(d, 'crash-kmem-i.txt') !== undefined)("kmem --json: crash's kmem -i pages", async () => {
    const crash = refFile(d, 'crash-kmem-i.txt')!;
    const pages = (label: string) => Number(new RegExp(`^\\s*${label}\\s+(\\d+)`, 'm').exec(crash)![1]);
    const r = await vmcore('kmem', d.path, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      pageSize: d.truth.kernel.pagesize,
      totalRam: pages('TOTAL MEM'),
      free: pages('FREE'),
      used: pages('USED'),
      cached: pages('CACHED'),
      totalSwap: pages('TOTAL SWAP'),
      commitLimit: pages('COMMIT LIMIT'),
      committed: pages('COMMITTED'),
      problems: [],
    });
  });

  it.runIf(tasksFromKallsyms(d))('bt --pid 1: init, as drgn lists it, stopped in the scheduler', async () => {
    const init = (d.truth.drgn?.tasks ?? []).find((t: { pid: number }) => t.pid === 1);
    if (!init) return;
    const r = await vmcore('bt', d.path, '--pid', '1', '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.tasks).toHaveLength(1);
    expect(out.tasks[0]).toMatchObject({
      pid: 1,
      comm: init.comm,
      cpu: init.cpu,
      task: init.task,
      stopReason: null,
    });
    expect(out.tasks[0].frames[0].function).toBe('__schedule');
    expectUsageError(await vmcore('bt', d.path, '--pid', '4000000'), /has no task with pid 4000000/);
    expectUsageError(
      await vmcore('bt', d.path, '--pid', '1', '--all'),
      /give one of --cpu N, --all or --pid PID/,
    );
  });

  it('mod --json: the module list as drgn has it; without the symbol "modules", exit 1 and why', async () => {
    const drgn = (d.truth.drgn?.modules ?? []) as { name: string; core_base: string; core_size: number }[];
    let r = await vmcore('mod', d.path, '--json');
    if (!tasksFromKallsyms(d)) {
      // arm64's kallsyms has no data symbols: the list needs a System.map, and says so
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout)).toMatchObject({
        modules: [],
        note: expect.stringMatching(/BTF|"modules"/),
      });
      const map = systemMapFor(d);
      if (!map) return;
      r = await vmcore('mod', d.path, '--system-map', map, '--json');
    }
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      modules: { name: string; base: string; size: number; symbolCount: number }[];
    };
    expect(out.modules.map((m) => ({ name: m.name, core_base: m.base, core_size: m.size }))).toEqual(drgn);
    expect(out.modules.every((m) => m.symbolCount > 0)).toBe(true);
  });
});

describe('bt with a vmlinux that has DWARF: source file and line per frame', () => {
  const d = corpus().find((x) => x.name === 'kdump-sysrq/vmcore.kdump-zstd');

  it.runIf(d)(
    "--json gives each kernel frame drgn's file name and line; without a vmlinux, null",
    async () => {
      const vmlinux = vmlinuxPath(d!.truth.kernel.osrelease);
      const r = await vmcore('bt', d!.path, '--vmlinux', vmlinux, '--json');
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.sourceLines).toMatch(/^DWARF line tables/);
      // drgn's first entry at a pc is the innermost location (an inlined callee when there is one).
      const want = new Map<string, string>();
      for (const f of d!.truth.drgn.crashing_cpu_stack_trace as { pc: string; source?: string }[]) {
        const pc = `0x${BigInt(f.pc).toString(16)}`;
        if (f.source && !want.has(pc)) want.set(pc, f.source);
      }
      const frames = out.cpus[0].frames as { pc: string; source: { file: string; line: number } | null }[];
      const compared = frames.filter((f) => want.has(f.pc));
      expect(compared).toHaveLength(want.size);
      for (const f of compared)
        expect(`${f.source!.file.split('/').pop()}:${f.source!.line}`).toBe(want.get(f.pc));
      expect(frames.find((f) => f.pc === '0xffffffffbb601ded')!.source).toEqual({
        file: 'debian/build/build_amd64_none_amd64/kernel/panic.c',
        line: 358,
        column: 3,
      });
      const text = await vmcore('bt', d!.path, '--vmlinux', vmlinux);
      expect(text.stdout).toContain(
        'panic+0x13d at ffffffffbb601ded\n    debian/build/build_amd64_none_amd64/kernel/panic.c: 358\n',
      );
      const bare = JSON.parse((await vmcore('bt', d!.path, '--json')).stdout);
      for (const f of bare.cpus[0].frames) expect(f.source).toBeNull();
    },
  );
});

describe('bad input: one line on stderr, exit 2', () => {
  const real = dumps.find((d) => d.name === 'kdump-sysrq/vmcore.elf-d31')!;

  it('a file that does not exist', async () => {
    expectOneLineError(await vmcore('info', join(tmp, 'nope')), /cannot open .*nope: ENOENT \(no such file/);
  });

  it('a directory', async () => {
    expectOneLineError(await vmcore('regs', tmp), /is a directory/);
  });

  it.skipIf(process.getuid?.() === 0)('a file it may not read', async () => {
    const p = join(tmp, 'secret');
    writeFileSync(p, 'x');
    chmodSync(p, 0);
    expectOneLineError(await vmcore('info', p), /EACCES \(permission denied\)/);
  });

  it('a .zst or .xz of a dump', async () => {
    expectOneLineError(
      await vmcore('info', join(VMCORES, 'kdump-sysrq', 'vmcore.elf-d31.zst')),
      /is a zstd-compressed file, not a dump; decompress it first: zstd -d/,
    );
    const xz = join(tmp, 'vmcore.xz');
    writeFileSync(xz, Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04, 0xe6, 0xd6, 0xb4, 0x46]));
    expectOneLineError(
      await vmcore('rd', xz, '0'),
      /is a xz-compressed file, not a dump; decompress it first: xz -dk/,
    );
  });

  it('not a dump at all', async () => {
    const p = join(tmp, 'notes.txt');
    writeFileSync(p, 'just some text, long enough to have a header\n');
    expectOneLineError(await vmcore('info', p), /notes\.txt is not a crash dump/);
    const empty = join(tmp, 'empty');
    writeFileSync(empty, '');
    expectOneLineError(await vmcore('info', empty), /empty is empty/);
  });

  it('a real dump cut inside its headers: says what is missing and where', async () => {
    const p = join(tmp, 'cut-header');
    writeFileSync(p, readFileSync(real.path).subarray(0, 40));
    expectOneLineError(
      await vmcore('info', p),
      /ends before the ELF header \(64 bytes needed, 40 present\) \(at file offset 0x0\)/,
    );
    const q = join(tmp, 'cut-phdrs');
    writeFileSync(q, readFileSync(real.path).subarray(0, 200));
    expectOneLineError(
      await vmcore('regs', q),
      /21 program headers at offset 64 need 1176 bytes, but the file is 200 bytes \(at file offset 0x40\)/,
    );
  });

  it('a corrupt header: names the field and its offset', async () => {
    const bytes = Buffer.from(readFileSync(real.path).subarray(0, 4096));
    bytes[4] = 9;
    const p = join(tmp, 'corrupt');
    writeFileSync(p, bytes);
    expectOneLineError(
      await vmcore('info', p),
      /ELF class byte is 9, expected 1 \(ELF32\) or 2 \(ELF64\) \(at file offset 0x4\)/,
    );
  });

  it('a dump cut inside its memory still opens: the loss is reported, the missing bytes are "??"', async () => {
    const p = join(tmp, 'vmcore-cut');
    writeFileSync(p, readFileSync(real.path).subarray(0, 1 << 20));
    const info = await vmcore('info', p, '--json');
    expect(info.code).toBe(0);
    const parsed = JSON.parse(info.stdout);
    expect(parsed.cpus.map((c: { pid: number }) => c.pid)).toEqual([136, 133]);
    expect(parsed.missing.map((m: { kind: string }) => m.kind)).toContain('truncated');
    const rd = await vmcore('rd', p, 'ffffffffbb601cb0', '16');
    expect(rd.code).toBe(1);
    expect(rd.stdout).toMatch(/^ffffffffbb601cb0: {2}(\?\? ){15}\?\? {3}\?{16}\n/);
    expect(rd.stdout).toMatch(/\(16 bytes\): lost: the dump file is cut short/);
  });
});

describe('symbol files', () => {
  const arm64 = dumps.find((d) => d.name === 'arm64-sysrq/vmcore.elf-d31');
  const map = arm64 && systemMapFor(arm64);

  it.runIf(map !== undefined)(
    '--system-map: panic_cpu and crash_notes from the map, not from the log',
    async () => {
      const r = await vmcore('info', arm64!.path, '--system-map', map!, '--json');
      expect(r.code, r.stderr).toBe(0);
      const info = JSON.parse(r.stdout);
      expect(info.symbols).toMatch(/symbols from System\.map /);
      expect(info.panicCpu).toBe(arm64!.truth.crash_summary.panic_cpu);
      expect(info.panicCpuNote).toMatch(/^panic_cpu at 0x/);
      expect(info.cpuNumbering).toBe('kernel');
      expect(info.cpuNumberingNote).toMatch(/crash_notes/);
      expect(info.cpus.map((c: { cpu: number; pid: number }) => [c.cpu, c.pid])).toEqual(
        arm64!.truth.summary_per_cpu.map((c: { cpu: number; prstatus_pid: number }) => [
          c.cpu,
          c.prstatus_pid,
        ]),
      );
      // With the map's data symbols the kernel BTF and run queues are found: every CPU's task.
      expect(info.tasksNote).toMatch(
        /^current tasks from the per-CPU run queues \(rq->curr, checked against __entry_task\)/,
      );
      for (const c of info.cpus) expect(c.task).toEqual(taskOn(arm64!, c.cpu));
      const bt = await vmcore('bt', arm64!.path, '--system-map', map!, '--all');
      const t1 = taskOn(arm64!, 1);
      expect(bt.stdout).toContain(
        `PID: ${String(t1.pid).padEnd(7)}  TASK: ${t1.address.slice(2)}  CPU: 1    COMMAND: "${t1.comm}"\n`,
      );
    },
  );

  it('a --system-map that is not one, or missing: one line naming the option, exit 2', async () => {
    const d = dumps[0]!;
    const p = join(tmp, 'System.map-wrong');
    writeFileSync(p, 'this is not a System.map\n');
    expectOneLineError(
      await vmcore('info', d.path, '--system-map', p),
      /^vmcore: --system-map: .*System\.map-wrong/,
    );
    expectOneLineError(
      await vmcore('regs', d.path, '--system-map', join(tmp, 'missing.map')),
      /^vmcore: --system-map: .*ENOENT \(no such file or directory\)/,
    );
  });
});

describe('usage', () => {
  const real = () => dumps[0]!.path;

  it('no arguments, an unknown command, an unknown option, a missing FILE', async () => {
    expectUsageError(await vmcore(), /^usage: vmcore COMMAND/);
    expectUsageError(await vmcore('frobnicate', 'x'), /vmcore: unknown command "frobnicate"/);
    expectUsageError(
      await vmcore('info', real(), '--bogus'),
      /vmcore: unknown option --bogus\nusage: vmcore info FILE \[--system-map FILE\] \[--vmlinux FILE\] \[--json\]\n/,
    );
    expectUsageError(
      await vmcore('regs'),
      /vmcore: missing FILE\nusage: vmcore regs FILE \[--cpu N\] \[--system-map FILE\] \[--vmlinux FILE\] \[--json\]\n/,
    );
    expectUsageError(await vmcore('info', real(), 'extra'), /unexpected argument "extra"/);
  });

  it('bad values', async () => {
    expectUsageError(await vmcore('rd', real(), 'xyz'), /ADDRESS must be a hexadecimal address, not "xyz"/);
    expectUsageError(await vmcore('rd', real(), '0x1000', '0'), /LENGTH must be a number of bytes from 1 to/);
    expectUsageError(await vmcore('rd', real(), '0x1000', '99999999999'), /LENGTH must be/);
    expectUsageError(await vmcore('regs', real(), '--cpu', 'two'), /--cpu must be a number, not "two"/);
    expectUsageError(
      await vmcore('regs', real(), '--cpu', '5'),
      /has no registers for CPU 5 \(CPUs with saved registers: 0, 1\)/,
    );
  });

  it('--help lists every command; COMMAND --help shows its arguments', async () => {
    const all = await vmcore('--help');
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^usage: vmcore COMMAND FILE/);
    for (const c of ['info', 'regs', 'rd']) expect(all.stdout).toMatch(new RegExp(`\\n  ${c} +\\S`));
    const rd = await vmcore('rd', '--help');
    expect(rd.code).toBe(0);
    expect(rd.stdout).toMatch(/^usage: vmcore rd FILE ADDRESS \[LENGTH\] \[--phys\] \[--json\]/);
    expect(rd.stdout).toMatch(/-p, --phys +ADDRESS is physical/);
    expect((await vmcore('help', 'regs')).stdout).toMatch(/^usage: vmcore regs FILE \[--cpu N\] /);
    expect((await vmcore('--version')).stdout).toMatch(/^vmcore \d+\.\d+\.\d+\n$/);
  });
});

describe('synthetic dumps of other architectures', () => {
  it('regs of a big-endian s390x core: the program counter and general registers', async () => {
    // struct elf_prstatus on s390x: pr_pid at 32, pr_reg at 112: psw.mask, psw.addr, gprs[16]…
    const w = new ByteWriter(false);
    w.reserve(336);
    w.u32(32, 3); // s390 kdump writes pr_pid = CPU number + 1: not a pid, so not shown as one
    w.u64(112, 0x0705_0001_8000_0000n); // PSW with the problem-state (user) bit 0x0001000000000000
    w.u64(120, 0x0000_0000_0012_3456n);
    for (let i = 0; i < 16; i++) w.u64(128 + i * 8, 0x1000n + BigInt(i));
    const elf = buildElfCore({
      class: 64,
      littleEndian: false,
      machine: EM.s390,
      segments: [
        { kind: 'note', notes: [{ name: 'CORE', type: NT_PRSTATUS, desc: w.result() }] },
        { kind: 'load', paddr: 0n, data: pattern(64, 5) },
      ],
    });
    const p = join(tmp, 's390x.vmcore');
    writeFileSync(p, elf.bytes);
    const r = await vmcore('regs', p);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^CPU 2: {2}\(user mode\)\n {4}PSW_ADDR: 0000000000123456 +R14: 000000000000100e +R15: 000000000000100f\n/,
    );
    expect(r.stdout).toMatch(/PSW_MASK: 0705000180000000/);
    const rd = await vmcore('rd', '--phys', p, '0', '64', '--json');
    expect(JSON.parse(rd.stdout).bytes).toBe(Buffer.from(pattern(64, 5)).toString('hex'));
    const info = JSON.parse((await vmcore('info', p, '--json')).stdout);
    expect(info).toMatchObject({ arch: 's390x', osrelease: null, pageSize: 4096 });
    expect(info.missing.map((m: { kind: string }) => m.kind)).toEqual(['no-vmcoreinfo']);
  });
});
