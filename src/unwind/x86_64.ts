import { readU64 } from '../translate/types';
import { ORC_REG, type OrcEntry, OrcTable, type OrcVersion } from './orc';
import { scanStack } from './stackScan';
import { KernelText } from './textRange';
import { type Frame, MAX_FRAMES, type ModuleCode, type UnwindContext, type UnwindResult } from './types';

/** struct pt_regs offsets (arch/x86/include/asm/ptrace.h). */
const PT_REGS: [string, number][] = [
  ['r15', 0],
  ['r14', 8],
  ['r13', 16],
  ['r12', 24],
  ['rbp', 32],
  ['rbx', 40],
  ['r11', 48],
  ['r10', 56],
  ['r9', 64],
  ['r8', 72],
  ['rax', 80],
  ['rcx', 88],
  ['rdx', 96],
  ['rsi', 104],
  ['rdi', 112],
  ['orig_rax', 120],
  ['rip', 128],
  ['cs', 136],
  ['eflags', 144],
  ['rsp', 152],
  ['ss', 160],
];
const PT_REGS_SIZE = 168;

const orcCache = new WeakMap<object, Promise<OrcTable | string>>();

function orcFor(ctx: UnwindContext): Promise<OrcTable | string> {
  if (!ctx.symbols) return Promise.resolve('no symbols to find the ORC tables with');
  let p = orcCache.get(ctx.symbols);
  if (!p) {
    p = OrcTable.load(ctx.memory, ctx.symbols, ctx.kernelVersion).catch(
      (e: Error) => `cannot read the ORC tables: ${e.message}`,
    );
    orcCache.set(ctx.symbols, p);
  }
  return p;
}

const moduleOrcCache = new WeakMap<ModuleCode, Promise<OrcTable | string>>();

/** The ORC tables of the module whose text holds `ip` (same ORC version as the kernel's). */
function moduleOrc(ctx: UnwindContext, version: OrcVersion, ip: bigint): Promise<OrcTable | string> {
  const m = ctx.modules?.find((x) => ip >= x.start && ip < x.end);
  if (!m) return Promise.resolve(`0x${ip.toString(16)} is in no module's text`);
  const orc = m.orc;
  if (!orc) return Promise.resolve(`module ${m.name} has no ORC data`);
  let p = moduleOrcCache.get(m);
  if (!p) {
    p = OrcTable.fromTables(ctx.memory, orc.ipTable, orc.entryTable, orc.count, version).catch(
      (e: Error) => `cannot read the ORC tables of module ${m.name}: ${e.message}`,
    );
    moduleOrcCache.set(m, p);
  }
  return p;
}

/**
 * Unwind an x86_64 kernel stack from saved registers with the kernel's own ORC data, following
 * pt_regs across exception, interrupt and system-call entries down to the user-mode context, and
 * falling back to a marked stack scan where ORC has no answer.
 */
export async function unwindX86_64(
  ctx: UnwindContext,
  initial: ReadonlyMap<string, bigint>,
): Promise<UnwindResult> {
  const frames: Frame[] = [];
  const text = new KernelText(ctx.symbols, ctx.modules);
  const first: Frame = {
    pc: initial.get('rip') ?? 0n,
    sp: initial.get('rsp') ?? 0n,
    registers: new Map(initial),
    source: 'registers',
    reliable: true,
    isReturnAddress: false,
    userMode: ((initial.get('cs') ?? 0n) & 3n) === 3n,
  };
  frames.push(first);
  if (first.userMode) return { frames };
  const orc = await orcFor(ctx);
  if (typeof orc === 'string') return withScan(ctx, frames, text, orc);

  let regs = new Map(initial);
  let ip = first.pc;
  let sp = first.sp;
  let bp = initial.get('rbp') ?? 0n;
  let signal = true; // the first ip is where the CPU stopped, not a return address
  let fullRegs = true;
  while (frames.length < MAX_FRAMES) {
    if (ctx.signal?.aborted) return { frames, stopReason: 'cancelled' };
    if (!text.contains(ip)) {
      return withScan(
        ctx,
        frames,
        text,
        `0x${ip.toString(16)} is outside the kernel's built-in text (no ORC data)`,
      );
    }
    const lookupIp: bigint = signal ? ip : ip - 1n;
    const table = text.isBuiltIn(lookupIp) ? orc : await moduleOrc(ctx, orc.version, lookupIp);
    if (typeof table === 'string') return withScan(ctx, frames, text, table);
    const entry = table.lookup(lookupIp);
    if (entry?.type === 'end-of-stack') return { frames };
    const state: State = { ip, sp, bp, regs, fullRegs };
    let step: Step | undefined;
    let guessed = false;
    if (entry && entry.type !== 'undefined') {
      try {
        step = await orcStep(ctx, entry, state);
      } catch (e) {
        return withScan(ctx, frames, text, `unwinding stopped: ${(e as Error).message}`);
      }
    } else {
      // ORC marks some regions undefined (inline asm like crash_setup_regs, which saved these very
      // registers). Try the function's state just after or before the region, and keep a result only
      // if it lands on a call site: a guess, so the frame is marked unreliable.
      const found: Guess | undefined =
        (await guessFromNeighbours(ctx, table, text, lookupIp, state)) ??
        (await findCaller(ctx, text, state, lookupIp));
      if (!found) return withScan(ctx, frames, text, `no ORC data for ${ip.toString(16)}`);
      step = found.step;
      guessed = !found.verified;
    }
    if (step.kind === 'call' && step.sp <= sp)
      return { frames, stopReason: 'the stack pointer did not move up (bad unwind data)' };
    const userMode = step.kind === 'regs' && ((step.regs.get('cs') ?? 0n) & 3n) === 3n;
    const frame: Frame = {
      pc: step.ip,
      sp: step.sp,
      cfa: step.cfa,
      registers:
        step.kind === 'regs'
          ? new Map(step.regs)
          : new Map([
              ['rip', step.ip],
              ['rsp', step.sp],
              ['rbp', step.bp],
            ]),
      source: step.kind === 'regs' ? 'exception' : 'orc',
      reliable: !guessed,
      isReturnAddress: step.kind === 'call' && !step.signal,
      userMode,
    };
    frames.push(frame);
    if (userMode || step.ip === 0n) return { frames };
    ip = step.ip;
    sp = step.sp;
    bp = step.bp;
    signal = step.kind !== 'call' || step.signal;
    if (step.kind === 'regs') {
      regs = step.regs;
      fullRegs = step.full;
    } else {
      regs = new Map();
      fullRegs = false;
    }
  }
  return { frames, stopReason: `stopped after ${MAX_FRAMES} frames` };
}

interface Guess {
  step: Step;
  /** The caller's call instruction targets this very function: as good as unwind data. */
  verified: boolean;
}

async function guessFromNeighbours(
  ctx: UnwindContext,
  orc: OrcTable,
  text: KernelText,
  ip: bigint,
  state: State,
): Promise<Guess | undefined> {
  const loc = (ctx.symbolizer ?? ctx.symbols)?.symbolize(ip);
  if (!loc) return undefined;
  const low = loc.symbol.address;
  const high = low + (loc.extent ?? 0x1000n);
  for (const candidate of orc.neighbours(ip, low, high)) {
    if (candidate.type !== 'call') continue;
    const step = await orcStep(ctx, candidate, state).catch(() => undefined);
    if (step && step.sp > state.sp && text.contains(step.ip) && (await isCallSite(ctx, step.ip)))
      return { step, verified: false };
  }
  return undefined;
}

/** How far up the stack we look for the caller of a function without unwind data. */
const CALLER_SCAN_BYTES = 0x800;

/**
 * Whole functions can lack ORC (objtool leaves __crash_kexec, which inlines crash_setup_regs,
 * undefined). Find the return address into the caller by scanning up from sp for a word that follows
 * a `call rel32` whose target is the start of this function: the caller's frame then begins right
 * above that word.
 */
async function findCaller(
  ctx: UnwindContext,
  text: KernelText,
  state: State,
  ip: bigint,
): Promise<Guess | undefined> {
  const fn = (ctx.symbolizer ?? ctx.symbols)?.symbolize(ip)?.symbol.address;
  if (fn === undefined) return undefined;
  const { bytes, gaps } = await ctx.memory.read(state.sp, CALLER_SCAN_BYTES);
  const limit = gaps[0]?.offset ?? bytes.length;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let off = 0; off + 8 <= limit; off += 8) {
    const ret = view.getBigUint64(off, ctx.memory.littleEndian);
    if (!text.contains(ret)) continue;
    const call = await ctx.memory.read(ret - 5n, 5);
    if (call.gaps.length > 0 || call.bytes[0] !== 0xe8) continue;
    const rel = BigInt(new DataView(call.bytes.buffer, call.bytes.byteOffset + 1, 4).getInt32(0, true));
    if (BigInt.asUintN(64, ret + rel) !== fn) continue;
    const cfa = state.sp + BigInt(off) + 8n;
    return { step: { kind: 'call', ip: ret, sp: cfa, bp: state.bp, cfa, signal: false }, verified: true };
  }
  return undefined;
}

/** A return address follows a call: e8 rel32 (5 bytes) or ff /2 (2-7 bytes). */
async function isCallSite(ctx: UnwindContext, ret: bigint): Promise<boolean> {
  const { bytes, gaps } = await ctx.memory.read(ret - 7n, 7);
  if (gaps.length > 0) return false;
  if (bytes[2] === 0xe8) return true;
  for (let len = 2; len <= 7; len++) {
    const op = bytes[7 - len];
    const modrm = bytes[8 - len];
    if (op === 0xff && modrm !== undefined && ((modrm >> 3) & 7) === 2) return true;
  }
  return false;
}

type Step =
  | { kind: 'call'; ip: bigint; sp: bigint; bp: bigint; cfa: bigint; signal: boolean }
  | {
      kind: 'regs';
      ip: bigint;
      sp: bigint;
      bp: bigint;
      cfa: bigint;
      regs: Map<string, bigint>;
      full: boolean;
    };

interface State {
  ip: bigint;
  sp: bigint;
  bp: bigint;
  regs: Map<string, bigint>;
  fullRegs: boolean;
}

async function orcStep(ctx: UnwindContext, e: OrcEntry, s: State): Promise<Step> {
  const mem = ctx.memory;
  const reg = (name: string): bigint => {
    const v = s.fullRegs ? s.regs.get(name) : undefined;
    if (v === undefined) throw new Error(`ORC needs ${name}, which this frame does not have`);
    return v;
  };
  let cfa: bigint;
  switch (e.spReg) {
    case ORC_REG.SP:
      cfa = s.sp + BigInt(e.spOffset);
      break;
    case ORC_REG.BP:
      cfa = s.bp + BigInt(e.spOffset);
      break;
    case ORC_REG.SP_INDIRECT:
      cfa = (await readU64(mem, s.sp, 'an indirect stack pointer')) + BigInt(e.spOffset);
      break;
    case ORC_REG.BP_INDIRECT:
      cfa = await readU64(mem, s.bp + BigInt(e.spOffset), 'an indirect frame pointer');
      break;
    case ORC_REG.R10:
      cfa = reg('r10');
      break;
    case ORC_REG.R13:
      cfa = reg('r13');
      break;
    case ORC_REG.DI:
      cfa = reg('rdi');
      break;
    case ORC_REG.DX:
      cfa = reg('rdx');
      break;
    default:
      throw new Error(`unknown ORC sp register ${e.spReg}`);
  }
  cfa = BigInt.asUintN(64, cfa);
  let next: Step;
  if (e.type === 'call') {
    const ip = await readU64(mem, cfa - 8n, 'a return address');
    next = { kind: 'call', ip, sp: cfa, bp: s.bp, cfa, signal: e.signal };
  } else if (e.type === 'regs') {
    const bytes = await mem.read(cfa, PT_REGS_SIZE);
    if (bytes.gaps.length > 0) throw new Error(`the pt_regs at 0x${cfa.toString(16)} is not readable`);
    const dv = new DataView(bytes.bytes.buffer, bytes.bytes.byteOffset, PT_REGS_SIZE);
    const regs = new Map(
      PT_REGS.map(([name, off]) => [name, dv.getBigUint64(off, mem.littleEndian)] as [string, bigint]),
    );
    next = {
      kind: 'regs',
      ip: regs.get('rip')!,
      sp: regs.get('rsp')!,
      bp: regs.get('rbp')!,
      cfa,
      regs,
      full: true,
    };
  } else {
    // REGS_PARTIAL: only the IRET frame (ip, cs, flags, sp, ss) is saved; other registers carry over.
    const bytes = await mem.read(cfa, 40);
    if (bytes.gaps.length > 0) throw new Error(`the IRET frame at 0x${cfa.toString(16)} is not readable`);
    const dv = new DataView(bytes.bytes.buffer, bytes.bytes.byteOffset, 40);
    const regs = new Map(s.regs);
    ['rip', 'cs', 'eflags', 'rsp', 'ss'].forEach((name, i) => {
      regs.set(name, dv.getBigUint64(i * 8, mem.littleEndian));
    });
    next = { kind: 'regs', ip: regs.get('rip')!, sp: regs.get('rsp')!, bp: s.bp, cfa, regs, full: false };
  }
  // The caller's frame pointer.
  if (e.bpReg === ORC_REG.PREV_SP)
    next.bp = await readU64(mem, cfa + BigInt(e.bpOffset), 'a saved frame pointer');
  else if (e.bpReg === ORC_REG.BP)
    next.bp = await readU64(mem, s.bp + BigInt(e.bpOffset), 'a saved frame pointer');
  return next;
}

/** Append scanned, uncertain frames when ORC could not continue. */
async function withScan(
  ctx: UnwindContext,
  frames: Frame[],
  text: KernelText,
  reason: string,
): Promise<UnwindResult> {
  const last = frames[frames.length - 1]!;
  if (!text.known || last.userMode) return { frames, stopReason: reason };
  const scanned = await scanStack(
    ctx.memory,
    last.sp,
    text,
    (ret) => isCallSite(ctx, ret),
    MAX_FRAMES - frames.length,
  );
  return { frames: [...frames, ...scanned], stopReason: reason };
}
