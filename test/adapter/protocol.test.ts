/**
 * The standalone debug adapter over stdio against every real dump: the handshake, one thread per
 * CPU, registers, memory, disassembly, hovers and console commands must agree with the references.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, mkdtempSync, openSync, readSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpus, logFile, PROJECT_ROOT, refFile, tasksFromKallsyms } from '../support/corpus';
import { ADAPTER, launchDump, startAdapter, VSCODE_CLIENT } from '../support/dapClient';

const hex16 = (v: string) => '0x' + BigInt(v).toString(16).padStart(16, '0');

describe.each(corpus().map((d) => [d.name, d] as const))('%s', (_name, ref) => {
  let dc: DebugClient;
  let stopped: DebugProtocol.StoppedEvent;
  let threads: DebugProtocol.Thread[];

  beforeAll(async () => {
    dc = await startAdapter();
    stopped = await launchDump(dc, { vmcore: ref.path });
    threads = (await dc.threadsRequest()).body.threads;
  });
  afterAll(async () => {
    await dc?.stop();
  });

  it('stops once, on the panicking CPU with the panic message', () => {
    expect(stopped.body.allThreadsStopped).toBe(true);
    const panic = ref.truth.crash_summary.panic_message;
    if (panic) {
      expect(stopped.body.reason).toBe('exception');
      expect(stopped.body.description).toBe(panic);
      const thread = threads.find((t) => t.id === stopped.body.threadId)!;
      expect(thread.name).toBe(
        `CPU ${ref.truth.crash_summary.panic_cpu} · pid ${ref.truth.crash_summary.crashed_pid} · ${ref.truth.crash_summary.crashed_comm}`,
      );
    } else {
      expect(stopped.body.reason).toBe('pause');
    }
  });

  it('exceptionInfo gives the panic message, the CPU and where it stopped', async () => {
    const panic = ref.truth.crash_summary.panic_message;
    if (!panic) return;
    const r = await dc.send('exceptionInfo', { threadId: stopped.body.threadId });
    expect(r.body.exceptionId).toBe('panic');
    expect(r.body.details.message).toBe(panic);
    const top = ref.truth.drgn.crashing_cpu_stack_trace[0];
    expect(r.body.description).toContain(`CPU ${ref.truth.crash_summary.panic_cpu}`);
    expect(r.body.description).toContain(`${top.symbol}+${top.symbol_offset}`);
  });

  it('log in the Debug Console is the kernel log, line for line', async () => {
    const r = await dc.evaluateRequest({ expression: 'log', context: 'repl' });
    // makedumpfile --dump-dmesg where the scenario has it, else crash's `log` of the same dump.
    const reference = logFile(ref, 'dmesg.txt') ?? refFile(ref, 'crash-log.txt')!;
    expect(r.body.result + '\n').toBe(reference);
    const tail = await dc.evaluateRequest({ expression: 'log -n 3', context: 'repl' });
    expect(tail.body.result).toBe(reference.trimEnd().split('\n').slice(-3).join('\n'));
  });

  it('bt in the Debug Console agrees with the reference backtrace', async () => {
    const trace = ref.truth.drgn?.crashing_cpu_stack_trace ?? [];
    if (trace.length === 0) return;
    const r = await dc.evaluateRequest({
      expression: 'bt',
      context: 'repl',
      frameId: ((stopped.body.threadId ?? 1) << 10) | 0,
    });
    for (const f of trace.filter(
      (x: { inline: boolean; symbol?: string }) =>
        !x.inline && x.symbol && !x.symbol.startsWith('entry_SYSCALL'),
    )) {
      expect(r.body.result).toContain(`${f.symbol}+${f.symbol_offset}`);
    }
  });

  it('has one thread per CPU that saved registers, in order, named by CPU, pid and task name', () => {
    expect(threads.map((t) => t.id)).toEqual(ref.truth.prstatus.map((_: unknown, i: number) => i + 1));
    const perCpu = ref.truth.summary_per_cpu as {
      cpu: number;
      prstatus_pid: number;
      current_pid: number;
      current_comm: string;
    }[];
    const named = tasksFromKallsyms(ref);
    expect(named, 'the corpus has the kernel config').toBeDefined();
    threads.forEach((t, i) => {
      const c = perCpu[i]!;
      expect(c.prstatus_pid).toBe(ref.truth.prstatus[i].pid); // notes are in CPU order here
      if (named) {
        // The task on the CPU, read from its run queue: "CPU 1 · pid 0 · swapper/1" for an idle CPU.
        expect(t.name).toBe(`CPU ${c.cpu} · pid ${c.current_pid} · ${c.current_comm}`);
      } else {
        // Without data symbols, the note's pid; the panicking CPU's name from the log's panic header.
        const panicked = c.cpu === ref.truth.crash_summary.panic_cpu;
        expect(t.name).toBe(`CPU ${c.cpu} · pid ${c.prstatus_pid}${panicked ? ` · ${c.current_comm}` : ''}`);
      }
    });
  });

  it('shows every register of every CPU, equal to the dump', async () => {
    for (const [i, t] of threads.entries()) {
      const frames = (await dc.stackTraceRequest({ threadId: t.id, startFrame: 0, levels: 1 })).body
        .stackFrames;
      const scopes = (await dc.scopesRequest({ frameId: frames[0]!.id })).body.scopes;
      expect(scopes[0]!.name).toBe('Registers');
      expect(scopes[0]!.expensive).toBe(false);
      const vars = (await dc.variablesRequest({ variablesReference: scopes[0]!.variablesReference })).body
        .variables;
      const got = Object.fromEntries(vars.map((v) => [v.name, v.value.split(' ')[0]]));
      expect(got).toEqual(ref.truth.prstatus[i].regs);
    }
  });

  it('hovering a register gives its value in the selected frame', async () => {
    const t = threads[0]!;
    const frames = (await dc.stackTraceRequest({ threadId: t.id, startFrame: 0, levels: 1 })).body
      .stackFrames;
    const pcName = ref.truth.arch === 'x86_64' ? 'rip' : 'pc';
    for (const expr of [pcName, `$${pcName}`, ref.truth.arch === 'x86_64' ? '%rip' : 'PC', 'pc']) {
      const r = await dc.evaluateRequest({ expression: expr, frameId: frames[0]!.id, context: 'hover' });
      expect(r.body.result.split(' ')[0]).toBe(hex16(ref.truth.prstatus[0].regs[pcName]));
    }
    const bad = await dc
      .evaluateRequest({ expression: 'not_a_register_or_symbol', frameId: frames[0]!.id, context: 'hover' })
      .catch((e) => e);
    expect(bad).toBeInstanceOf(Error);
  });

  it('ps, mod and kmem -i in the Debug Console answer from the dump', async () => {
    if (ref.truth.arch !== 'x86_64') return; // arm64's kallsyms has no init_task: a System.map is needed
    const ps = (await dc.evaluateRequest({ expression: 'ps', context: 'repl' })).body.result;
    for (const c of ref.truth.summary_per_cpu as { current_task: string; current_pid: number }[])
      expect(ps).toMatch(
        new RegExp(
          `^>\\s+${c.current_pid}\\s+\\S+\\s+\\d+\\s+${BigInt(c.current_task).toString(16)}\\s`,
          'm',
        ),
      );
    const mod = (await dc.evaluateRequest({ expression: 'mod', context: 'repl' })).body.result;
    for (const m of (ref.truth.drgn?.modules ?? []) as { name: string; core_base: string }[])
      expect(mod).toMatch(new RegExp(`\\s${m.name}\\s+${m.core_base.slice(2)}\\s`));
    const kmem = (await dc.evaluateRequest({ expression: 'kmem -i', context: 'repl' })).body.result;
    const crash = refFile(ref, 'crash-kmem-i.txt');
    if (crash) expect(kmem.split('\n')[1]).toBe(crash.split('\n')[1]); // TOTAL MEM
  });

  it("hovering a module's function gives its address and module; disassembly there names it", async () => {
    // kallsyms has the symbol "modules" on x86_64; qemu_fw_cfg's first function starts its memory
    const base = (ref.truth.drgn?.modules ?? []).find(
      (m: { name: string }) => m.name === 'qemu_fw_cfg',
    )?.core_base;
    if (ref.truth.arch !== 'x86_64' || !base) return;
    const r = await dc.evaluateRequest({ expression: 'fw_cfg_sysfs_attr_show', context: 'hover' });
    expect(r.body).toMatchObject({
      result: `${hex16(base)} <fw_cfg_sysfs_attr_show [qemu_fw_cfg]>`,
      type: 'symbol (t)',
      memoryReference: base,
    });
    const d = await dc.send('disassemble', {
      memoryReference: base,
      instructionCount: 4,
      resolveSymbols: true,
    });
    expect(d.body.instructions[0]).toMatchObject({ address: base, symbol: 'fw_cfg_sysfs_attr_show' });
  });

  it('readMemory returns the reference bytes and marks what the dump lacks as unreadable', async () => {
    const samples = (ref.truth.drgn?.memory_samples ?? []).filter(
      (s: { region: string }) => s.region !== 'user',
    );
    for (const s of samples) {
      const r = await dc.send('readMemory', { memoryReference: s.vaddr, count: 16 });
      const data = Buffer.from(r.body.data ?? '', 'base64').toString('hex');
      if (s.bytes === null || (s.page_in_dump && /filtered/.test(s.page_in_dump))) {
        expect(data.length, s.what).toBe(0);
        expect(r.body.unreadableBytes, s.what).toBeGreaterThan(0);
      } else {
        expect(data, s.what).toBe(s.bytes);
      }
    }
  });

  it('disassemble returns exactly the requested count around the instruction pointer', async () => {
    const pcName = ref.truth.arch === 'x86_64' ? 'rip' : 'pc';
    const pc = BigInt(ref.truth.prstatus[0].regs[pcName]);
    const r = await dc.send('disassemble', {
      memoryReference: '0x' + pc.toString(16),
      instructionOffset: -8,
      instructionCount: 20,
      resolveSymbols: true,
    });
    const list: DebugProtocol.DisassembledInstruction[] = r.body.instructions;
    expect(list).toHaveLength(20);
    if (ref.truth.arch === 'x86_64' && (BigInt(ref.truth.prstatus[0].regs.cs) & 3n) === 0n) {
      expect(BigInt(list[8]!.address)).toBe(pc);
      expect(list[8]!.presentationHint).toBeUndefined();
      // Addresses strictly increase and each instruction ends where the next begins.
      for (let i = 1; i < list.length; i++) {
        if (list[i]!.presentationHint === 'invalid' || list[i - 1]!.presentationHint === 'invalid') continue;
        const prevLen = list[i - 1]!.instructionBytes!.split(' ').length;
        expect(BigInt(list[i]!.address)).toBe(BigInt(list[i - 1]!.address) + BigInt(prevLen));
      }
    }
    if (ref.truth.arch === 'aarch64' && pc >> 63n === 1n) {
      // Fixed 4-byte instructions: 8 before pc, pc, 11 after; all decoded (the kernel text is in the dump).
      list.forEach((insn, i) => {
        expect(BigInt(insn.address)).toBe(pc + BigInt((i - 8) * 4));
        expect(insn.presentationHint).toBeUndefined();
        expect(insn.instructionBytes!.split(' ')).toHaveLength(4);
      });
      expect(list[8]!.instruction).not.toMatch(/no aarch64 disassembler|\(bad\)/);
    }
  });

  it('dis in the Debug Console decodes at the crashing pc, labelled with the reference symbol', async () => {
    const top = ref.truth.drgn?.crashing_cpu_stack_trace?.[0];
    if (!top) return;
    const r = await dc.evaluateRequest({ expression: `dis ${top.pc} 3`, context: 'repl' });
    const lines = r.body.result.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(new RegExp(`^${top.pc}\\s+<${top.symbol}\\+${top.symbol_offset}>\\s+\\S`));
    expect(lines[0]).not.toMatch(/\(bad\)/);
  });

  it('vtop in the Debug Console agrees with the page walk of the reference', async () => {
    const s = (ref.truth.drgn?.memory_samples ?? []).find(
      (x: { pagewalk_entries?: string[] }) => x.pagewalk_entries?.length,
    );
    const r = await dc.evaluateRequest({ expression: `vtop ${s.vaddr}`, context: 'repl' });
    expect(r.body.result).toContain(BigInt(s.paddr_pagewalk).toString(16));
    for (const e of s.pagewalk_entries) expect(r.body.result).toContain(BigInt(e).toString(16));
  });

  it('an unknown console command says what is available', async () => {
    const r = await dc.evaluateRequest({ expression: 'frobnicate', context: 'repl' });
    expect(r.body.result).toMatch(/unknown command "frobnicate".*bt.*log/);
  });

  it('refuses to run or step', async () => {
    await expect(dc.continueRequest({ threadId: 1 })).rejects.toThrow(/crash dump/);
  });
});

describe('bad launch input', () => {
  let dc: DebugClient;
  beforeAll(async () => {
    dc = await startAdapter();
    await dc.initializeRequest(VSCODE_CLIENT);
  });
  afterAll(async () => {
    await dc?.stop();
  });

  const dir = mkdtempSync(join(tmpdir(), 'kdump-bad-'));
  const truncated = join(dir, 'vmcore-truncated');
  const src = corpus().find((d) => d.truth.format === 'elf');
  if (src) {
    const fd = openSync(src.path, 'r');
    const buf = Buffer.alloc(100);
    readSync(fd, buf, 0, 100, 0);
    closeSync(fd);
    writeFileSync(truncated, buf);
  }
  const notDump = join(dir, 'package.json');
  copyFileSync(join(PROJECT_ROOT, 'package.json'), notDump);

  it.each([
    ['a missing vmcore attribute', {}, /"vmcore" is required/],
    ['a missing file', { vmcore: join(dir, 'nope') }, /vmcore: cannot open .*nope: ENOENT/],
    ['a file that is not a dump', { vmcore: notDump }, /vmcore: .*not a crash dump/],
    ['a truncated dump', { vmcore: truncated }, /vmcore: .*(ends before|truncated)/],
  ])('%s gives an error response and the adapter stays alive', async (_what, args, message) => {
    await expect(dc.launchRequest(args as DebugProtocol.LaunchRequestArguments)).rejects.toThrow(message);
    // Still answering.
    const t = await dc.threadsRequest();
    expect(t.body.threads).toEqual([]);
  });
});

describe('--server=PORT', () => {
  let server: ChildProcess;
  let port: number;
  beforeAll(async () => {
    server = spawn(process.execPath, [ADAPTER, '--server=0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    port = await new Promise<number>((resolve, reject) => {
      let text = '';
      server.stderr!.on('data', (d: Buffer) => {
        text += d.toString();
        const m = /waiting for debug protocol on 127\.0\.0\.1:(\d+)/.exec(text);
        if (m) resolve(Number(m[1]));
      });
      server.on('exit', (code) => reject(new Error(`adapter server exited (${code}): ${text}`)));
    });
  });
  afterAll(() => {
    server?.kill();
  });

  const ref = corpus()[0];
  it.runIf(ref)('serves one session per connection on loopback and outlives each', async () => {
    for (let i = 0; i < 2; i++) {
      const dc = new DebugClient(process.execPath, ADAPTER, 'vmcore');
      dc.defaultTimeout = 20_000;
      await dc.start(port);
      const stopped = await launchDump(dc, { vmcore: ref!.path });
      const threads = (await dc.threadsRequest()).body.threads;
      expect(threads).toHaveLength(ref!.truth.prstatus.length);
      expect(threads.map((t) => t.id)).toContain(stopped.body.threadId);
      await dc.disconnectRequest({});
      await dc.stop();
    }
    expect(server.exitCode).toBeNull();
  });

  it('refuses a malformed --server argument with a clear message', () => {
    const r = spawnSync(process.execPath, [ADAPTER, '--server=http'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/expected --server=PORT/);
  });
});
