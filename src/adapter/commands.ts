import { disassemblerFor } from '../disasm';
import { disassembleWindow } from '../disasm/window';
import {
  formatBacktrace,
  formatFrames,
  formatHexdump,
  formatMemoryInfo,
  formatModules,
  formatPs,
  formatPtov,
  formatVtop,
  taskHeader,
} from '../kernel/crashFormat';
import type { KernelDump } from '../kernel/kernelDump';
import { formatStruct } from '../kernel/structFormat';
import { formatLocation } from '../symbols/symbolTable';
import { TranslationError } from '../translate/addressSpace';

/** What the Debug Console knows about the user's focus. */
export interface CommandContext {
  kernel: KernelDump;
  /** Index into kernel.cpus of the selected thread. */
  cpuIndex: number;
  signal?: AbortSignal;
}

interface Command {
  usage: string;
  summary: string;
  run(args: string[], ctx: CommandContext): Promise<string>;
}

export class CommandError extends Error {}

const COMMANDS: Record<string, Command> = {
  help: {
    usage: 'help',
    summary: 'list the commands',
    run: async () => helpText(),
  },
  bt: {
    usage: 'bt [-a | PID | TASK]',
    summary: 'backtrace of the selected CPU, of every CPU with -a, or of a task by pid or task_struct',
    async run(args, ctx) {
      const which = args.find((a) => a !== '-a');
      if (which !== undefined) return taskBacktraces(which, ctx);
      const all = args.includes('-a');
      const indexes = all ? ctx.kernel.cpus.map((_, i) => i) : [ctx.cpuIndex];
      const out: string[] = [];
      for (const i of indexes) {
        const bt = await ctx.kernel.backtrace(i, ctx.signal);
        out.push(formatBacktrace(ctx.kernel.cpus[i]!, bt, ctx.kernel.arch.wordSize));
      }
      return out.join('\n\n');
    },
  },
  log: {
    usage: 'log [-n N]',
    summary: 'the kernel log (the last N lines with -n)',
    async run(args, ctx) {
      const lines = await ctx.kernel.kernelLog(ctx.signal);
      const n = option(args, '-n');
      return (n === undefined ? lines : lines.slice(-parseCount(n))).join('\n');
    },
  },
  sys: {
    usage: 'sys',
    summary: 'system information: release, CPUs, crash time, panic',
    async run(_args, ctx) {
      return Object.entries(await ctx.kernel.systemInfo())
        .map(([k, v]) => `${k.padStart(12)}: ${v}`)
        .join('\n');
    },
  },
  rd: {
    usage: 'rd [-p] [-8|-16|-32|-64] ADDRESS [COUNT]',
    summary: 'read memory (virtual, or physical with -p); COUNT units, 64-bit by default',
    async run(args, ctx) {
      const physical = args.includes('-p');
      const unitFlag = args.find((a) => /^-(8|16|32|64)$/.test(a));
      const unit = (unitFlag ? Number(unitFlag.slice(1)) / 8 : ctx.kernel.arch.wordSize) as 1 | 2 | 4 | 8;
      const [addrText, countText] = args.filter((a) => !a.startsWith('-'));
      if (!addrText) throw new CommandError('usage: rd [-p] [-8|-16|-32|-64] ADDRESS [COUNT]');
      const address = resolveAddress(ctx.kernel, addrText);
      const length = parseCount(countText ?? '1') * unit;
      if (length > 1 << 20) throw new CommandError('rd reads at most 1 MiB at a time');
      const r = physical
        ? await ctx.kernel.dump.memory.read(address, length)
        : await ctx.kernel.space.read(address, length);
      return formatHexdump(address, r.bytes, r.gaps, unit, ctx.kernel.dump.littleEndian);
    },
  },
  vtop: {
    usage: 'vtop ADDRESS',
    summary: 'translate a kernel virtual address, showing every page-table entry',
    async run(args, ctx) {
      if (!args[0]) throw new CommandError('usage: vtop ADDRESS');
      try {
        return formatVtop(await ctx.kernel.space.vtop(resolveAddress(ctx.kernel, args[0])));
      } catch (e) {
        if (e instanceof TranslationError) {
          const walked = e.entries.map(
            (x) =>
              `${x.level.toUpperCase().padStart(5)}: ${x.address.toString(16)} => ${x.value.toString(16)}`,
          );
          return [e.message, ...walked].join('\n');
        }
        throw e;
      }
    },
  },
  ptov: {
    usage: 'ptov PHYSICAL',
    summary: 'kernel virtual aliases of a physical address',
    async run(args, ctx) {
      if (!args[0]) throw new CommandError('usage: ptov PHYSICAL');
      const pa = parseNumber(args[0]);
      return formatPtov(pa, await ctx.kernel.space.ptov(pa));
    },
  },
  dis: {
    usage: 'dis ADDRESS|SYMBOL [N]',
    summary: 'disassemble N instructions (default 16)',
    async run(args, ctx) {
      if (!args[0]) throw new CommandError('usage: dis ADDRESS|SYMBOL [N]');
      const dis = await disassemblerFor(ctx.kernel.arch, { bigEndian: !ctx.kernel.dump.littleEndian });
      if (!dis) throw new CommandError(`no disassembler for ${ctx.kernel.arch.name} yet`);
      const address = resolveAddress(ctx.kernel, args[0]);
      const n = parseCount(args[1] ?? '16');
      const entries = await disassembleWindow(
        ctx.kernel.space,
        dis,
        ctx.kernel,
        address,
        0,
        Math.min(n, 4096),
      );
      return entries
        .map((e) => {
          const loc = ctx.kernel.symbolize(e.address);
          const label = loc ? `<${formatLocation(loc, e.address)}>` : '';
          const ref =
            'reference' in e && e.reference !== undefined ? ctx.kernel.symbolize(e.reference) : undefined;
          const note = ref && 'reference' in e ? `  <${formatLocation(ref, e.reference!)}>` : '';
          return `0x${e.address.toString(16)} ${label.padEnd(32)} ${e.text}${note}`;
        })
        .join('\n');
    },
  },
  sym: {
    usage: 'sym NAME|ADDRESS',
    summary: 'a symbol address, or the symbol at an address',
    async run(args, ctx) {
      if (!args[0]) throw new CommandError('usage: sym NAME|ADDRESS');
      if (!ctx.kernel.symbols) throw new CommandError(ctx.kernel.symbolsNote);
      const byName = ctx.kernel.lookupSymbol(args[0]);
      if (byName)
        return `${byName.address.toString(16)} (${byName.type}) ${byName.name}${byName.module ? ` [${byName.module}]` : ''}`;
      if (!/^(0x)?[0-9a-f]+$/i.test(args[0])) throw new CommandError(`no symbol named ${args[0]}`);
      const address = parseNumber(args[0]);
      const loc = ctx.kernel.symbolize(address);
      if (!loc) return `${address.toString(16)}: no symbol covers this address`;
      return `${address.toString(16)} (${loc.symbol.type}) ${formatLocation(loc, address)}`;
    },
  },
  ps: {
    usage: 'ps',
    summary: 'every task: pid, parent, CPU, task address, state, memory, name (> = on a CPU)',
    async run(_args, ctx) {
      const list = await ctx.kernel.tasks(ctx.signal);
      if (list.tasks.length === 0) throw new CommandError(list.note);
      const active = new Set(ctx.kernel.cpus.flatMap((c) => (c.task ? [c.task.address] : [])));
      return formatPs(list, active, ctx.kernel.arch.wordSize);
    },
  },
  struct: {
    usage: 'struct NAME[.MEMBER] ADDRESS|SYMBOL',
    summary: "a kernel object's members, from the kernel's BTF types",
    async run(args, ctx) {
      if (args.length !== 2) throw new CommandError('usage: struct NAME[.MEMBER] ADDRESS|SYMBOL');
      const k = ctx.kernel;
      if (!k.btf) throw new CommandError(`struct needs the kernel's BTF: ${k.btfNote}`);
      const address = resolveAddress(k, args[1]!);
      try {
        return await formatStruct(k.space, k.btf, args[0]!, address);
      } catch (err) {
        throw new CommandError((err as Error).message);
      }
    },
  },
  kmem: {
    usage: 'kmem -i',
    summary: 'memory usage: total, free, used, shmem, buffers, cache, slab, huge pages, swap, commit',
    async run(args, ctx) {
      if (args.join(' ') !== '-i') throw new CommandError('only kmem -i is available: usage kmem -i');
      return formatMemoryInfo(await ctx.kernel.memoryInfo());
    },
  },
  mod: {
    usage: 'mod',
    summary: 'the loaded modules: struct module, name, base, size, symbols',
    async run(_args, ctx) {
      return formatModules(ctx.kernel.modules, ctx.kernel.modulesNote, ctx.kernel.arch.wordSize);
    },
  },
};

/** `bt PID` (decimal) or `bt TASK` (hex task_struct address): every task that matches. */
async function taskBacktraces(which: string, ctx: CommandContext): Promise<string> {
  const list = await ctx.kernel.tasks(ctx.signal);
  if (list.tasks.length === 0) throw new CommandError(list.note);
  const byPid = /^\d+$/.test(which);
  if (!byPid && !/^(0x)?[0-9a-f]+$/i.test(which))
    throw new CommandError(`"${which}" is neither a pid nor a task address: usage bt [-a | PID | TASK]`);
  const wanted = byPid ? undefined : parseNumber(which);
  const tasks = list.tasks.filter((t) => (byPid ? t.pid === Number(which) : t.address === wanted));
  if (tasks.length === 0)
    throw new CommandError(
      byPid ? `no task has pid ${which} (ps lists them)` : `no task at ${which} (ps lists them)`,
    );
  const out: string[] = [];
  for (const t of tasks) {
    const bt = await ctx.kernel.taskBacktrace(t.address, ctx.signal);
    out.push(formatFrames(taskHeader(t), bt, ctx.kernel.arch.wordSize));
  }
  return out.join('\n\n');
}

export function helpText(): string {
  return [
    'Commands (crash syntax):',
    ...Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(44)} ${c.summary}`),
    'Addresses are hex (with or without 0x) or symbol names; registers ($rip, x0…) work in hovers and watches.',
  ].join('\n');
}

/** Run one Debug Console line. Unknown commands say what is available. */
export async function runCommand(line: string, ctx: CommandContext): Promise<string> {
  const words = line.trim().split(/\s+/).filter(Boolean);
  const name = words[0];
  if (!name) return helpText();
  const cmd = COMMANDS[name];
  if (!cmd)
    throw new CommandError(
      `unknown command "${name}". Available: ${Object.keys(COMMANDS).join(', ')} (type help)`,
    );
  return cmd.run(words.slice(1), ctx);
}

export function parseNumber(text: string): bigint {
  const t = text.trim().toLowerCase();
  if (!/^(0x)?[0-9a-f]{1,16}$/.test(t)) throw new CommandError(`"${text}" is not a hex address`);
  return BigInt(t.startsWith('0x') ? t : `0x${t}`);
}

/** A symbol name, `symbol+0xoff`, or a hex address. */
export function resolveAddress(kernel: KernelDump, text: string): bigint {
  const m = /^([A-Za-z_.$][\w.$]*)(?:\+(0x[0-9a-f]+|\d+))?$/i.exec(text);
  if (m && !/^(0x)?[0-9a-f]+$/i.test(text)) {
    const s = kernel.lookupSymbol(m[1]!);
    if (!s)
      throw new CommandError(kernel.symbols ? `no symbol named ${m[1]}` : `${text}: ${kernel.symbolsNote}`);
    return s.address + (m[2] ? BigInt(m[2]) : 0n);
  }
  return parseNumber(text);
}

function parseCount(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0 || n > 1 << 20) throw new CommandError(`"${text}" is not a count`);
  return n;
}

function option(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}
