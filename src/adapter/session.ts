import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import {
  Handles,
  InitializedEvent,
  LoggingDebugSession,
  OutputEvent,
  ProgressEndEvent,
  ProgressStartEvent,
  Response,
  Scope,
  StoppedEvent,
  Thread,
} from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { decodeFlags } from '../arch/types';
import { disassemblerFor } from '../disasm';
import { disassembleWindow } from '../disasm/window';
import { DumpError } from '../dump/errors';
import { type BacktraceFrame, KernelDump } from '../kernel/kernelDump';
import { formatLocation } from '../symbols/symbolTable';
import { CommandError, helpText, runCommand } from './commands';
import { formatRegisterValue, hexWord, isPointerRegister, resolveRegisterName } from './registers';
import { SourceLocator } from './sourceFiles';

/** Attributes of a `vmcore` launch configuration. */
export interface VmcoreLaunchArguments extends DebugProtocol.LaunchRequestArguments {
  /** The crash dump. */
  vmcore: string;
  /** vmlinux (ELF, with or without DWARF) for symbols. */
  vmlinux?: string;
  /** System.map for symbols. */
  systemMap?: string;
  /** A kernel source tree: the files the vmlinux's line tables name are looked for in it. */
  kernelSource?: string;
}

type VariableRef =
  | { kind: 'registers'; cpu: number; frame: number }
  | { kind: 'flags'; cpu: number; frame: number; register: string }
  | { kind: 'frame'; cpu: number; frame: number }
  | { kind: 'crash' };

/** Frame ids pack the CPU index and the frame index. */
const FRAME_BITS = 10;
const frameId = (cpu: number, frame: number) => ((cpu + 1) << FRAME_BITS) | frame;
const decodeFrameId = (id: number) => ({ cpu: (id >> FRAME_BITS) - 1, frame: id & ((1 << FRAME_BITS) - 1) });
const threadId = (cpu: number) => cpu + 1;

const NOT_RUNNING = 'this is a crash dump: the kernel cannot run, step or change';

/**
 * A crash dump as a debug session: one thread per CPU that saved registers, stopped on the
 * panicking CPU; registers, unwound stacks, memory, disassembly and crash-style commands.
 * Free of `vscode` imports: it runs inline in the extension, over stdio, or as a TCP server.
 */
export class VmcoreDebugSession extends LoggingDebugSession {
  private kernel: KernelDump | undefined;
  private clientCaps: DebugProtocol.InitializeRequestArguments = { adapterID: 'vmcore' };
  private readonly variables = new Handles<VariableRef>();
  private configurationDone!: () => void;
  private readonly configured = new Promise<void>((resolve) => {
    this.configurationDone = resolve;
  });
  private readonly inflight = new Map<number, AbortController>();
  private sources = new SourceLocator();
  /** Source references of files that are not on this machine (a placeholder document explains). */
  private readonly missingSources = new Map<string, number>();
  private readonly missingSourceFiles: string[] = [];

  /**
   * `blockingReads` for an adapter in a process of its own (stdio, TCP): fast blocking reads of the dump.
   * Inline in the extension host it stays off, so a slow disk cannot freeze the host.
   */
  constructor(private readonly options: { blockingReads?: boolean } = {}) {
    super();
    this.setDebuggerLinesStartAt1(true);
    this.setDebuggerColumnsStartAt1(true);
  }

  /** Requests may come without arguments, and no handler may take the adapter down. */
  protected override dispatchRequest(request: DebugProtocol.Request): void {
    request.arguments ??= {};
    try {
      super.dispatchRequest(request);
    } catch (err) {
      this.fail(
        new Response(request),
        `internal error in ${request.command}: ${(err as Error).message}`,
        false,
      );
    }
  }

  protected override initializeRequest(
    response: DebugProtocol.InitializeResponse,
    args: DebugProtocol.InitializeRequestArguments,
  ): void {
    this.clientCaps = args;
    response.body = {
      supportsConfigurationDoneRequest: true,
      supportsEvaluateForHovers: true,
      supportsReadMemoryRequest: true,
      supportsDisassembleRequest: true,
      supportsExceptionInfoRequest: true,
      supportsDelayedStackTraceLoading: true,
      supportsCancelRequest: true,
      supportsTerminateRequest: false,
      supportTerminateDebuggee: false,
      supportsSteppingGranularity: false,
      supportsInstructionBreakpoints: false,
      supportsWriteMemoryRequest: false,
      supportsSetVariable: false,
      supportsStepBack: false,
      supportsRestartRequest: false,
      supportsFunctionBreakpoints: false,
      supportsConditionalBreakpoints: false,
      supportsDataBreakpoints: false,
      exceptionBreakpointFilters: [],
    };
    this.sendResponse(response);
    this.sendEvent(new InitializedEvent());
  }

  protected override configurationDoneRequest(response: DebugProtocol.ConfigurationDoneResponse): void {
    this.sendResponse(response);
    this.configurationDone();
  }

  protected override async launchRequest(
    response: DebugProtocol.LaunchResponse,
    args: VmcoreLaunchArguments,
  ): Promise<void> {
    if (typeof args.vmcore !== 'string' || args.vmcore.length === 0) {
      return this.fail(response, 'launch attribute "vmcore" is required: the path of the crash dump to open');
    }
    if (args.kernelSource !== undefined && args.kernelSource !== '') {
      const problem = await directoryProblem(args.kernelSource);
      if (problem) return this.fail(response, `kernelSource: ${problem}`);
      this.sources = new SourceLocator(args.kernelSource);
    }
    const progressId = `open-${Date.now()}`;
    const progress = this.clientCaps.supportsProgressReporting;
    if (progress) this.sendEvent(new ProgressStartEvent(progressId, 'Opening crash dump', args.vmcore));
    try {
      this.kernel = await KernelDump.open(args.vmcore, {
        vmlinux: args.vmlinux,
        systemMap: args.systemMap,
        blockingReads: this.options.blockingReads,
      });
    } catch (err) {
      if (progress) this.sendEvent(new ProgressEndEvent(progressId));
      return this.fail(response, launchErrorMessage(err, args));
    }
    if (progress) this.sendEvent(new ProgressEndEvent(progressId));
    this.sendResponse(response);
    await this.configured;
    try {
      this.announceStop();
    } catch (err) {
      this.sendEvent(new OutputEvent(`error: ${(err as Error).message}\n`, 'stderr'));
    }
  }

  private announceStop(): void {
    const k = this.kernel!;
    const panicIndex = Math.max(
      0,
      k.cpus.findIndex((c) => c.panicked),
    );
    const reason = k.panicMessage ? 'exception' : 'pause';
    const description = k.panicMessage ?? 'dump taken without a panic';
    const stopped = new StoppedEvent(reason, threadId(panicIndex)) as DebugProtocol.StoppedEvent;
    stopped.body.description = description;
    stopped.body.text = description;
    stopped.body.allThreadsStopped = true;
    this.sendEvent(stopped);
    const lines = [
      `Crash dump ${k.dump.path}: ${k.osRelease ?? 'unknown kernel'} on ${k.arch.name}, ${k.cpus.length} CPU(s) with saved registers.`,
      k.panicMessage
        ? `Panic on CPU ${k.cpus[panicIndex]?.cpu ?? '?'}: ${k.panicMessage}`
        : 'No panic recorded (live or hypervisor snapshot).',
      `Symbols: ${k.symbolsNote}.`,
      ...(k.tasksNote ? [`Thread names: ${k.tasksNote}.`] : []),
      ...(k.symbols?.source === 'vmlinux' ? [`Source lines: ${k.linesNote}.`] : []),
      ...k.dump.problems.map((p) => `Note: ${p.message}`),
      'Type "help" for crash-style commands (bt, log, sys, rd, vtop, ptov, dis, sym).',
    ];
    this.sendEvent(new OutputEvent(lines.join('\n') + '\n', 'console'));
  }

  protected override threadsRequest(response: DebugProtocol.ThreadsResponse): void {
    const k = this.kernel;
    response.body = { threads: k ? k.cpus.map((c, i) => new Thread(threadId(i), threadName(c))) : [] };
    this.sendResponse(response);
  }

  protected override async stackTraceRequest(
    response: DebugProtocol.StackTraceResponse,
    args: DebugProtocol.StackTraceArguments,
    request?: DebugProtocol.Request,
  ): Promise<void> {
    const k = this.requireKernel(response);
    if (!k) return;
    const cpu = args.threadId - 1;
    if (!k.cpus[cpu]) return this.fail(response, `no thread ${args.threadId}`, false);
    const signal = this.track(request);
    try {
      const bt = await k.backtrace(cpu, signal);
      const start = args.startFrame ?? 0;
      const levels = args.levels && args.levels > 0 ? args.levels : bt.frames.length;
      const frames = await Promise.all(
        bt.frames.slice(start, start + levels).map((f, i) => this.toStackFrame(cpu, start + i, f)),
      );
      response.body = { stackFrames: frames, totalFrames: bt.frames.length };
      this.sendResponse(response);
    } catch (err) {
      this.fail(response, `cannot unwind CPU thread ${args.threadId}: ${(err as Error).message}`, false);
    } finally {
      this.untrack(request);
    }
  }

  private async toStackFrame(
    cpu: number,
    index: number,
    f: BacktraceFrame,
  ): Promise<DebugProtocol.StackFrame> {
    const name = f.userMode ? `0x${f.pc.toString(16)} (user space)` : f.reliable ? f.name : `? ${f.name}`;
    const frame: DebugProtocol.StackFrame = {
      id: frameId(cpu, index),
      name,
      line: 0,
      column: 0,
      instructionPointerReference: '0x' + f.pc.toString(16),
    };
    if (!f.reliable || f.userMode || !f.location) frame.presentationHint = 'subtle';
    if (f.line) {
      frame.source = await this.sourceFor(f.line.file);
      frame.line = f.line.line;
      frame.column = f.line.column ?? 0;
    }
    return frame;
  }

  /**
   * A file on this machine is a plain `path`, which VS Code opens. One that is not gets a placeholder
   * document (a source reference) marked `deemphasize`: CALL STACK still shows `panic.c 358`, VS Code
   * does not pick it as the frame to show on the stop (so the Disassembly view opens instead), and
   * clicking it explains where the file was and how to point `kernelSource` at a tree, instead of
   * VS Code's "could not load source" error for a source it cannot resolve.
   */
  private async sourceFor(file: string): Promise<DebugProtocol.Source> {
    const local = await this.sources.locate(file);
    if (local) return { name: basename(local), path: local };
    let ref = this.missingSources.get(file);
    if (ref === undefined) {
      this.missingSourceFiles.push(file);
      ref = this.missingSourceFiles.length;
      this.missingSources.set(file, ref);
    }
    return {
      name: basename(file),
      sourceReference: ref,
      presentationHint: 'deemphasize',
      origin: `not on this machine: ${file}`,
    };
  }

  protected override sourceRequest(
    response: DebugProtocol.SourceResponse,
    args: DebugProtocol.SourceArguments,
  ): void {
    const ref = args.source?.sourceReference ?? args.sourceReference;
    const file = ref > 0 ? this.missingSourceFiles[ref - 1] : undefined;
    if (!file) {
      this.fail(response, `no source with reference ${ref}`, false);
      return;
    }
    const tree = this.sources.kernelSource;
    const lines = [
      `${file}`,
      '',
      'This file of the kernel source is not on this machine, so its text cannot be shown.',
      tree
        ? `It is not under "kernelSource" (${tree}) either: that folder should hold the source tree of the crashed kernel${this.kernel?.osRelease ? ` (${this.kernel.osRelease})` : ''}.`
        : `To see it, set "kernelSource" in the launch configuration to a source tree of the crashed kernel${this.kernel?.osRelease ? ` (${this.kernel.osRelease})` : ''}; the path above is looked for in it by its trailing directories (for example kernel/panic.c).`,
      '',
      'The Disassembly view (right-click a frame in CALL STACK → Open Disassembly View) shows the instructions.',
    ];
    response.body = { content: lines.join('\n') + '\n', mimeType: 'text/plain' };
    this.sendResponse(response);
  }

  protected override scopesRequest(
    response: DebugProtocol.ScopesResponse,
    args: DebugProtocol.ScopesArguments,
  ): void {
    const { cpu, frame } = decodeFrameId(args.frameId);
    const registers = new Scope('Registers', this.variables.create({ kind: 'registers', cpu, frame }), false);
    (registers as DebugProtocol.Scope).presentationHint = 'registers';
    response.body = {
      scopes: [
        registers,
        new Scope('Frame', this.variables.create({ kind: 'frame', cpu, frame }), false),
        new Scope('Crash', this.variables.create({ kind: 'crash' }), false),
      ],
    };
    this.sendResponse(response);
  }

  protected override async variablesRequest(
    response: DebugProtocol.VariablesResponse,
    args: DebugProtocol.VariablesArguments,
  ): Promise<void> {
    const k = this.requireKernel(response);
    if (!k) return;
    const ref = this.variables.get(args.variablesReference);
    if (!ref) return this.fail(response, 'unknown variables reference', false);
    try {
      response.body = { variables: await this.variablesOf(k, ref) };
      this.sendResponse(response);
    } catch (err) {
      this.fail(response, (err as Error).message, false);
    }
  }

  private async frameAt(k: KernelDump, cpu: number, frame: number): Promise<BacktraceFrame> {
    const bt = await k.backtrace(cpu);
    const f = bt.frames[frame];
    if (!f) throw new Error(`no frame ${frame} on this CPU`);
    return f;
  }

  private async variablesOf(k: KernelDump, ref: VariableRef): Promise<DebugProtocol.Variable[]> {
    const symbolize = (a: bigint) => k.symbolize(a);
    if (ref.kind === 'registers') {
      const f = await this.frameAt(k, ref.cpu, ref.frame);
      return [...f.registers].map(([name, value]) => {
        const v: DebugProtocol.Variable = {
          name,
          value: formatRegisterValue(k.arch, name, value, symbolize),
          evaluateName: `$${name}`,
          variablesReference: k.arch.flagRegisters?.[name]
            ? this.variables.create({ kind: 'flags', cpu: ref.cpu, frame: ref.frame, register: name })
            : 0,
          presentationHint: { attributes: ['readOnly'] },
          type: `${value} (decimal)`,
        };
        if (isPointerRegister(k.arch, name)) v.memoryReference = '0x' + value.toString(16);
        return v;
      });
    }
    if (ref.kind === 'flags') {
      const f = await this.frameAt(k, ref.cpu, ref.frame);
      const value = f.registers.get(ref.register) ?? 0n;
      const fields = k.arch.flagRegisters?.[ref.register] ?? [];
      const set = new Set(decodeFlags(value, fields).map((d) => d.field.name));
      return fields.map((field) => {
        const bits = (value >> BigInt(field.bit)) & ((1n << BigInt(field.width ?? 1)) - 1n);
        return {
          name: field.name,
          value: (field.width ?? 1) > 1 ? String(bits) : set.has(field.name) ? '1' : '0',
          type: field.description,
          variablesReference: 0,
          presentationHint: { attributes: ['readOnly'] },
        };
      });
    }
    if (ref.kind === 'frame') {
      const f = await this.frameAt(k, ref.cpu, ref.frame);
      const rows: [string, string][] = [
        ['function', f.userMode ? '(user space)' : f.name],
        ['pc', hexWord(f.pc, k.arch.wordSize)],
        ['stack pointer', hexWord(f.sp, k.arch.wordSize)],
      ];
      if (f.cfa !== undefined) rows.push(['frame address (CFA)', hexWord(f.cfa, k.arch.wordSize)]);
      if (f.line)
        rows.push(['source', `${f.line.file}:${f.line.line}${f.line.column ? `:${f.line.column}` : ''}`]);
      else if (f.lineProblem) rows.push(['source', f.lineProblem]);
      if (f.isReturnAddress) rows.push(['return address', `${hexWord(f.pc, k.arch.wordSize)} <${f.name}>`]);
      rows.push(['unwinder', f.source], ['reliable', f.reliable ? 'yes' : 'no (guessed from a stack scan)']);
      return rows.map(([name, value]) => ({
        name,
        value,
        variablesReference: 0,
        presentationHint: { attributes: ['readOnly'] },
      }));
    }
    const info = await k.systemInfo();
    return Object.entries(info).map(([name, value]) => ({
      name,
      value,
      variablesReference: 0,
      presentationHint: { attributes: ['readOnly'] },
    }));
  }

  protected override async evaluateRequest(
    response: DebugProtocol.EvaluateResponse,
    args: DebugProtocol.EvaluateArguments,
    request?: DebugProtocol.Request,
  ): Promise<void> {
    const k = this.requireKernel(response);
    if (!k) return;
    const selected =
      args.frameId !== undefined ? decodeFrameId(args.frameId) : { cpu: this.defaultCpu(k), frame: 0 };
    if (args.context === 'repl') {
      const signal = this.track(request);
      try {
        const text = await runCommand(args.expression, { kernel: k, cpuIndex: selected.cpu, signal });
        response.body = { result: text, variablesReference: 0 };
        this.sendResponse(response);
      } catch (err) {
        const message = err instanceof CommandError ? err.message : `error: ${(err as Error).message}`;
        response.body = { result: message, variablesReference: 0 };
        this.sendResponse(response);
      } finally {
        this.untrack(request);
      }
      return;
    }
    // Hovers, watches, copy: a register of the selected frame, a symbol, or an address.
    try {
      const f = await this.frameAt(k, selected.cpu, selected.frame).catch(() => undefined);
      const regs = f?.registers ?? k.cpus[selected.cpu]?.registers ?? new Map<string, bigint>();
      const reg = resolveRegisterName(k.arch, args.expression, regs);
      if (reg) {
        const value = regs.get(reg)!;
        response.body = {
          result: formatRegisterValue(k.arch, reg, value, (a) => k.symbolize(a)),
          type: `register ${reg}`,
          variablesReference: 0,
          memoryReference: isPointerRegister(k.arch, reg) ? '0x' + value.toString(16) : undefined,
        };
        return this.sendResponse(response);
      }
      const expr = args.expression.trim();
      const sym = k.lookupSymbol(expr);
      if (sym) {
        response.body = {
          result: `${hexWord(sym.address, k.arch.wordSize)} <${sym.name}${sym.module ? ` [${sym.module}]` : ''}>`,
          type: `symbol (${sym.type})`,
          variablesReference: 0,
          memoryReference: '0x' + sym.address.toString(16),
        };
        return this.sendResponse(response);
      }
      if (/^(0x)?[0-9a-f]{4,16}$/i.test(expr)) {
        const address = BigInt(expr.startsWith('0x') || expr.startsWith('0X') ? expr : `0x${expr}`);
        const loc = k.symbolize(address);
        response.body = {
          result: loc
            ? `${hexWord(address, k.arch.wordSize)} <${formatLocation(loc, address)}>`
            : hexWord(address, k.arch.wordSize),
          variablesReference: 0,
          memoryReference: '0x' + address.toString(16),
        };
        return this.sendResponse(response);
      }
      this.fail(response, `"${expr}" is not a register, symbol or address`, false);
    } catch (err) {
      this.fail(response, (err as Error).message, false);
    }
  }

  protected override async readMemoryRequest(
    response: DebugProtocol.ReadMemoryResponse,
    args: DebugProtocol.ReadMemoryArguments,
  ): Promise<void> {
    const k = this.requireKernel(response);
    if (!k) return;
    let base: bigint;
    try {
      base = BigInt(args.memoryReference) + BigInt(args.offset ?? 0);
    } catch {
      return this.fail(response, `bad memory reference ${args.memoryReference}`, false);
    }
    const count = Math.max(0, Math.min(args.count, 1 << 20));
    try {
      const { bytes, gaps } = await k.space.read(BigInt.asUintN(64, base), count);
      const firstGap = gaps[0];
      if (firstGap && firstGap.offset === 0) {
        // Nothing readable at the start: say how much to skip.
        response.body = { address: '0x' + base.toString(16), unreadableBytes: firstGap.length, data: '' };
      } else {
        const readable = firstGap ? firstGap.offset : bytes.length;
        response.body = {
          address: '0x' + base.toString(16),
          data: Buffer.from(bytes.buffer, bytes.byteOffset, readable).toString('base64'),
          unreadableBytes: firstGap ? firstGap.length : 0,
        };
      }
      this.sendResponse(response);
    } catch (err) {
      this.fail(response, (err as Error).message, false);
    }
  }

  protected override async disassembleRequest(
    response: DebugProtocol.DisassembleResponse,
    args: DebugProtocol.DisassembleArguments,
  ): Promise<void> {
    const k = this.requireKernel(response);
    if (!k) return;
    const dis = await disassemblerFor(k.arch, { bigEndian: !k.dump.littleEndian }).catch((err: Error) => {
      this.fail(response, `the ${k.arch.name} disassembler did not load: ${err.message}`, false);
      return null;
    });
    if (dis === null) return;
    let base: bigint;
    try {
      base = BigInt.asUintN(64, BigInt(args.memoryReference) + BigInt(args.offset ?? 0));
    } catch {
      return this.fail(response, `bad memory reference ${args.memoryReference}`, false);
    }
    const count = Math.max(0, Math.min(args.instructionCount, 10_000));
    if (!dis) {
      // No disassembler for this arch: still exactly `count` entries, marked invalid.
      const instructions = Array.from({ length: count }, (_, i) => ({
        address: '0x' + (base + BigInt(((args.instructionOffset ?? 0) + i) * 4)).toString(16),
        instruction: `(no ${k.arch.name} disassembler)`,
        presentationHint: 'invalid' as const,
      }));
      response.body = { instructions };
      return this.sendResponse(response);
    }
    try {
      const entries = await disassembleWindow(k.space, dis, k, base, args.instructionOffset ?? 0, count);
      response.body = {
        instructions: entries.map((e) => {
          const loc = e.invalid ? undefined : k.symbolize(e.address);
          const ref = 'reference' in e && e.reference !== undefined ? e.reference : undefined;
          const refLoc = ref !== undefined ? k.symbolize(ref) : undefined;
          const out: DebugProtocol.DisassembledInstruction = {
            address: '0x' + e.address.toString(16),
            instruction: refLoc && ref !== undefined ? `${e.text}  <${formatLocation(refLoc, ref)}>` : e.text,
          };
          if (e.bytes.length > 0)
            out.instructionBytes = Buffer.from(e.bytes)
              .toString('hex')
              .replace(/(..)(?=.)/g, '$1 ');
          if (loc) out.symbol = loc.symbol.name;
          if (e.invalid) out.presentationHint = 'invalid';
          return out;
        }),
      };
      this.sendResponse(response);
    } catch (err) {
      this.fail(response, (err as Error).message, false);
    }
  }

  protected override async exceptionInfoRequest(
    response: DebugProtocol.ExceptionInfoResponse,
    args: DebugProtocol.ExceptionInfoArguments,
  ): Promise<void> {
    const k = this.requireKernel(response);
    if (!k) return;
    const cpuIndex = args.threadId - 1;
    const cpu = k.cpus[cpuIndex];
    if (!cpu) return this.fail(response, `no thread ${args.threadId}`, false);
    const bt = await k.backtrace(cpuIndex).catch(() => undefined);
    const top = bt?.frames[0];
    const where = top
      ? top.userMode
        ? `0x${top.pc.toString(16)} (user space)`
        : `${top.name} (0x${top.pc.toString(16)})`
      : '?';
    const message =
      cpu.panicked && k.panicMessage ? k.panicMessage : 'this CPU was stopped by the crash of another CPU';
    response.body = {
      exceptionId: cpu.panicked ? (/^Kernel panic/.test(message) ? 'panic' : 'oops') : 'stopped',
      description: `${message} — CPU ${cpu.cpu ?? '?'}, stopped at ${where}`,
      breakMode: 'always',
      details: {
        message,
        typeName: cpu.panicked ? 'Kernel panic' : 'CPU stopped',
        stackTrace: bt?.frames
          .map((f) =>
            f.userMode
              ? `0x${f.pc.toString(16)} (user)`
              : f.line
                ? `${f.name} (${basename(f.line.file)}:${f.line.line})`
                : f.name,
          )
          .join('\n'),
      },
    };
    this.sendResponse(response);
  }

  protected override customRequest(command: string, response: DebugProtocol.Response, args: unknown): void {
    if (command === 'kernelLog') {
      const k = this.requireKernel(response);
      if (!k) return;
      k.kernelLog()
        .then((lines) => {
          const panicLine = k.panicMessage ? lines.findIndex((l) => l.includes(k.panicMessage!)) : -1;
          response.body = {
            text: lines.join('\n') + '\n',
            panicLine: panicLine >= 0 ? panicLine : undefined,
          };
          this.sendResponse(response);
        })
        .catch((err: Error) => this.fail(response, err.message, false));
      return;
    }
    super.customRequest(command, response, args);
  }

  protected override cancelRequest(
    _response: DebugProtocol.CancelResponse,
    args: DebugProtocol.CancelArguments,
  ): void {
    if (args.requestId !== undefined) this.inflight.get(args.requestId)?.abort();
  }

  // Execution control does not exist for a dump.
  protected override continueRequest(response: DebugProtocol.ContinueResponse): void {
    this.fail(response, NOT_RUNNING, false);
  }
  protected override nextRequest(response: DebugProtocol.NextResponse): void {
    this.fail(response, NOT_RUNNING, false);
  }
  protected override stepInRequest(response: DebugProtocol.StepInResponse): void {
    this.fail(response, NOT_RUNNING, false);
  }
  protected override stepOutRequest(response: DebugProtocol.StepOutResponse): void {
    this.fail(response, NOT_RUNNING, false);
  }
  protected override pauseRequest(response: DebugProtocol.PauseResponse): void {
    this.fail(response, NOT_RUNNING, false);
  }
  protected override setBreakPointsRequest(
    response: DebugProtocol.SetBreakpointsResponse,
    args: DebugProtocol.SetBreakpointsArguments,
  ): void {
    response.body = {
      breakpoints: (args.breakpoints ?? []).map(() => ({ verified: false, message: NOT_RUNNING })),
    };
    this.sendResponse(response);
  }

  protected override async disconnectRequest(response: DebugProtocol.DisconnectResponse): Promise<void> {
    const k = this.kernel;
    this.kernel = undefined;
    await k?.close().catch(() => undefined);
    this.sendResponse(response);
  }

  private defaultCpu(k: KernelDump): number {
    return Math.max(
      0,
      k.cpus.findIndex((c) => c.panicked),
    );
  }

  private requireKernel(response: DebugProtocol.Response): KernelDump | undefined {
    if (!this.kernel) this.fail(response, 'no crash dump is open', false);
    return this.kernel;
  }

  private track(request?: DebugProtocol.Request): AbortSignal | undefined {
    if (!request) return undefined;
    const c = new AbortController();
    this.inflight.set(request.seq, c);
    return c.signal;
  }

  private untrack(request?: DebugProtocol.Request): void {
    if (request) this.inflight.delete(request.seq);
  }

  private fail(response: DebugProtocol.Response, message: string, showUser = true): void {
    this.sendErrorResponse(response, { id: 1, format: message.replace(/[{}]/g, ''), showUser });
  }
}

/** Why a `kernelSource` path cannot be used, or undefined when it is a folder. */
async function directoryProblem(path: unknown): Promise<string | undefined> {
  if (typeof path !== 'string') return 'must be a path (a string) to a kernel source tree';
  try {
    if (!(await stat(path)).isDirectory())
      return `${path} is not a folder: give the top of a kernel source tree`;
    return undefined;
  } catch (err) {
    return `cannot use ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
  }
}

/**
 * `CPU 0 · pid 136 · sh`: the task running on the CPU when it was read from the kernel; otherwise
 * the note's pid when it is a task's (QEMU's CPU + 1 is not) and the comm where the log gives it.
 */
export function threadName(c: {
  cpu: number | undefined;
  noteIndex: number;
  pid: number;
  notePidIsTask?: boolean;
  comm?: string;
  task?: { pid: number; comm: string };
  panicked: boolean;
}): string {
  const cpu = c.cpu !== undefined ? `CPU ${c.cpu}` : `CPU ? (note ${c.noteIndex})`;
  if (c.task) return `${cpu} · pid ${c.task.pid} · ${c.task.comm}`;
  const who = c.notePidIsTask === false ? undefined : c.pid === 0 ? 'idle' : `pid ${c.pid}`;
  return [cpu, who, c.comm].filter(Boolean).join(' · ');
}

function launchErrorMessage(err: unknown, args: VmcoreLaunchArguments): string {
  const e = err as Error & { attribute?: string };
  const attribute = e.attribute ?? 'vmcore';
  const path =
    attribute === 'vmlinux' ? args.vmlinux : attribute === 'systemMap' ? args.systemMap : args.vmcore;
  const reason = err instanceof DumpError ? err.message : e.message;
  // Engine messages usually name the file already; don't say it twice.
  return path && reason.includes(path)
    ? `${attribute}: ${reason}`
    : `${attribute}: cannot open ${path}: ${reason}`;
}

export { helpText };
