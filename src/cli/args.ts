/**
 * A small argument parser for the `vmcore` subcommands: positionals in order, `--flag`,
 * `--opt VALUE` / `--opt=VALUE`, `--` to end options. Every mistake is a UsageError with a message
 * that names the argument.
 */

export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    /** The command whose usage line should be shown, when known. */
    readonly command?: string,
  ) {
    super(message);
  }
}

export interface OptionSpec {
  /** Long name without dashes. */
  name: string;
  /** One-letter alias without the dash. */
  short?: string;
  /** `flag` takes no value; `string` and `integer` take one. */
  type: 'flag' | 'string' | 'integer';
  /** Placeholder shown in usage (`N`). */
  value?: string;
  description: string;
}

export interface PositionalSpec {
  name: string;
  optional?: boolean;
  description: string;
}

export interface CommandSpec {
  name: string;
  positionals: readonly PositionalSpec[];
  options: readonly OptionSpec[];
}

export interface ParsedArgs {
  positionals: Record<string, string | undefined>;
  flags: Record<string, boolean>;
  values: Record<string, string | undefined>;
  integers: Record<string, number | undefined>;
  help: boolean;
}

/** Parse a decimal or 0x-hex non-negative integer (safe range), or undefined. */
export function parseCount(text: string): number | undefined {
  const t = text.trim();
  if (/^0x[0-9a-f]+$/i.test(t)) {
    const v = Number.parseInt(t.slice(2), 16);
    return Number.isSafeInteger(v) ? v : undefined;
  }
  if (/^[0-9]+$/.test(t)) {
    const v = Number(t);
    return Number.isSafeInteger(v) ? v : undefined;
  }
  return undefined;
}

/** A 64-bit address in hex, with or without 0x (as crash and the kernel print them). */
export function parseAddress(text: string): bigint | undefined {
  const t = text.trim().replace(/^0x/i, '').replace(/_/g, '');
  if (!/^[0-9a-f]{1,16}$/i.test(t)) return undefined;
  return BigInt('0x' + t);
}

export function parseArgs(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const out: ParsedArgs = { positionals: {}, flags: {}, values: {}, integers: {}, help: false };
  const rest: string[] = [];
  let onlyPositionals = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (onlyPositionals || arg === '-' || !arg.startsWith('-')) {
      rest.push(arg);
      continue;
    }
    if (arg === '--') {
      onlyPositionals = true;
      continue;
    }
    if (arg === '--help' || arg === '-h') {
      out.help = true;
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq < 0 ? undefined : arg.slice(eq + 1);
    } else {
      name = arg.slice(1, 2);
      inline = arg.length > 2 ? arg.slice(2) : undefined;
    }
    const opt = spec.options.find((o) => o.name === name || (arg[1] !== '-' && o.short === name));
    if (!opt) {
      // A negative number is never an option here; anything else with a dash is a typo.
      throw new UsageError(`unknown option ${arg.startsWith('--') ? `--${name}` : arg}`, spec.name);
    }
    if (opt.type === 'flag') {
      if (inline !== undefined) throw new UsageError(`--${opt.name} takes no value`, spec.name);
      out.flags[opt.name] = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined)
      throw new UsageError(`--${opt.name} needs a value (${opt.value ?? 'VALUE'})`, spec.name);
    if (opt.type === 'integer') {
      const n = parseCount(value);
      if (n === undefined) throw new UsageError(`--${opt.name} must be a number, not "${value}"`, spec.name);
      out.integers[opt.name] = n;
    } else out.values[opt.name] = value;
  }
  if (out.help) return out;
  const required = spec.positionals.filter((p) => !p.optional).length;
  if (rest.length < required) {
    throw new UsageError(`missing ${spec.positionals[rest.length]!.name}`, spec.name);
  }
  if (rest.length > spec.positionals.length) {
    throw new UsageError(`unexpected argument "${rest[spec.positionals.length]}"`, spec.name);
  }
  spec.positionals.forEach((p, i) => {
    out.positionals[p.name] = rest[i];
  });
  return out;
}

/** `vmcore rd FILE ADDRESS [LENGTH] [--phys] [--json]` */
export function usageLine(spec: CommandSpec): string {
  const pos = spec.positionals.map((p) => (p.optional ? `[${p.name}]` : p.name));
  const opts = spec.options.map((o) => `[--${o.name}${o.type === 'flag' ? '' : ` ${o.value ?? 'VALUE'}`}]`);
  return ['vmcore', spec.name, ...pos, ...opts].join(' ');
}
