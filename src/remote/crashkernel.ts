/**
 * The `crashkernel=` grammar (Documentation/admin-guide/kernel-parameters.txt, kdump.rst):
 *
 *   crashkernel=size[KMG][@offset[KMG]]
 *   crashkernel=start-[end]:size[,start-[end]:size…][@offset]   end exclusive; RAM below every range ⇒ nothing
 *   crashkernel=size[KMG],high   crashkernel=size[KMG],low   crashkernel=size[KMG],cma
 *   crashkernel=auto             (RHEL 7/8 kernels only)
 *
 * Several tokens may appear on one command line: the kernel uses the last plain one; `,high`/`,low`
 * are only looked at when there is no plain one; `,cma` comes on top of a normal reservation.
 */

export type CrashkernelSpec =
  | { kind: 'size'; size: bigint; offset?: bigint }
  | { kind: 'ranges'; ranges: CrashkernelRange[]; offset?: bigint }
  | { kind: 'high' | 'low' | 'cma'; size: bigint }
  | { kind: 'auto' };

export interface CrashkernelRange {
  start: bigint;
  /** Exclusive; undefined = no upper bound. */
  end?: bigint;
  size: bigint;
}

export class CrashkernelSyntaxError extends Error {
  override readonly name = 'CrashkernelSyntaxError';
}

const SUFFIX: Record<string, bigint> = {
  K: 1n << 10n,
  M: 1n << 20n,
  G: 1n << 30n,
  T: 1n << 40n,
  P: 1n << 50n,
  E: 1n << 60n,
};

/** Like the kernel's memparse: decimal or 0x hex, optional K/M/G/T/P/E suffix (either case). */
function memparse(text: string, where: string, whole: string): bigint {
  const m = /^(0[xX][0-9a-fA-F]+|[0-9]+)([KMGTPEkmgtpe]?)$/.exec(text);
  if (!m) {
    throw new CrashkernelSyntaxError(
      `crashkernel=${whole}: "${text}" is not a ${where} (a number with an optional K, M or G suffix, e.g. 256M)`,
    );
  }
  const n = BigInt(m[1]!);
  return m[2] ? n * SUFFIX[m[2].toUpperCase()]! : n;
}

/** Parse one value (the text after `crashkernel=`). Throws CrashkernelSyntaxError saying what is wrong. */
export function parseCrashkernel(value: string): CrashkernelSpec {
  const v = value.trim();
  if (v === '') throw new CrashkernelSyntaxError('crashkernel= has no value; use e.g. crashkernel=256M');
  if (v === 'auto') return { kind: 'auto' };
  if (v.includes(':')) {
    let body = v;
    let offset: bigint | undefined;
    const at = v.lastIndexOf('@');
    if (at >= 0) {
      offset = memparse(v.slice(at + 1), 'offset', v);
      body = v.slice(0, at);
    }
    const ranges: CrashkernelRange[] = [];
    for (const part of body.split(',')) {
      const colon = part.indexOf(':');
      if (colon < 0) {
        throw new CrashkernelSyntaxError(
          `crashkernel=${v}: "${part}" is not a range entry; each entry is start-[end]:size, e.g. 2G-64G:256M`,
        );
      }
      const range = part.slice(0, colon);
      const dash = range.indexOf('-');
      if (dash < 0) {
        throw new CrashkernelSyntaxError(
          `crashkernel=${v}: range "${range}" has no "-"; write start-end or start- (open end)`,
        );
      }
      const start = memparse(range.slice(0, dash), 'range start', v);
      const endText = range.slice(dash + 1);
      const end = endText === '' ? undefined : memparse(endText, 'range end', v);
      const size = memparse(part.slice(colon + 1), 'size', v);
      if (end !== undefined && end <= start) {
        throw new CrashkernelSyntaxError(`crashkernel=${v}: range "${range}" ends before it starts`);
      }
      const prev = ranges[ranges.length - 1];
      if (prev) {
        if (prev.end === undefined) {
          throw new CrashkernelSyntaxError(
            `crashkernel=${v}: a range follows the open-ended range ${fmtRange(prev)}; the open one must be last`,
          );
        }
        if (start < prev.end) {
          throw new CrashkernelSyntaxError(`crashkernel=${v}: range "${range}" overlaps ${fmtRange(prev)}`);
        }
      }
      ranges.push(end === undefined ? { start, size } : { start, end, size });
    }
    return offset === undefined ? { kind: 'ranges', ranges } : { kind: 'ranges', ranges, offset };
  }
  const comma = v.indexOf(',');
  if (comma >= 0) {
    const suffix = v.slice(comma + 1);
    if (suffix !== 'high' && suffix !== 'low' && suffix !== 'cma') {
      throw new CrashkernelSyntaxError(
        `crashkernel=${v}: unknown suffix ",${suffix}"; the kernel knows ,high ,low and ,cma`,
      );
    }
    return { kind: suffix, size: memparse(v.slice(0, comma), 'size', v) };
  }
  const at = v.indexOf('@');
  if (at >= 0) {
    return {
      kind: 'size',
      size: memparse(v.slice(0, at), 'size', v),
      offset: memparse(v.slice(at + 1), 'offset', v),
    };
  }
  return { kind: 'size', size: memparse(v, 'size', v) };
}

function fmtRange(r: CrashkernelRange): string {
  return `${formatSize(r.start)}-${r.end === undefined ? '' : formatSize(r.end)}`;
}

/** Bytes as the kernel grammar writes them: the largest exact unit (256M, 1G, 1536K, 0). */
export function formatSize(bytes: bigint): string {
  if (bytes === 0n) return '0';
  for (const u of ['E', 'P', 'T', 'G', 'M', 'K']) {
    const m = SUFFIX[u]!;
    if (bytes % m === 0n) return `${bytes / m}${u}`;
  }
  return bytes.toString();
}

export function formatCrashkernel(spec: CrashkernelSpec): string {
  switch (spec.kind) {
    case 'auto':
      return 'auto';
    case 'size':
      return formatSize(spec.size) + (spec.offset === undefined ? '' : `@${formatSize(spec.offset)}`);
    case 'high':
    case 'low':
    case 'cma':
      return `${formatSize(spec.size)},${spec.kind}`;
    case 'ranges':
      return (
        spec.ranges.map((r) => `${fmtRange(r)}:${formatSize(r.size)}`).join(',') +
        (spec.offset === undefined ? '' : `@${formatSize(spec.offset)}`)
      );
  }
}

/**
 * Split a kernel command line into words the way the kernel does: spaces separate, double quotes
 * group (and are removed), nothing else is special.
 */
export function splitCmdline(cmdline: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inQuote = false;
  let have = false;
  for (const ch of cmdline) {
    if (ch === '"') {
      inQuote = !inQuote;
      have = true;
    } else if (!inQuote && /\s/.test(ch)) {
      if (have) words.push(cur);
      cur = '';
      have = false;
    } else {
      cur += ch;
      have = true;
    }
  }
  if (have) words.push(cur);
  return words;
}

/** Every `crashkernel=` value on a command line (or a list of words), in order. */
export function crashkernelTokens(cmdline: string | readonly string[]): string[] {
  const words = typeof cmdline === 'string' ? splitCmdline(cmdline) : cmdline;
  return words.filter((w) => w.startsWith('crashkernel=')).map((w) => w.slice('crashkernel='.length));
}

export interface CrashkernelRequest {
  /** The tokens as written, joined by a space (what to show the user); '' when none. */
  text: string;
  /** The token the kernel acts on for the main reservation (last plain one, else last ,high). */
  main?: CrashkernelSpec;
  low?: CrashkernelSpec;
  cma?: CrashkernelSpec;
  /** Tokens that do not parse, with the reason. */
  errors: string[];
}

/** What a set of `crashkernel=` tokens asks the kernel for. */
export function interpretTokens(tokens: readonly string[]): CrashkernelRequest {
  const out: CrashkernelRequest = { text: tokens.map((t) => `crashkernel=${t}`).join(' '), errors: [] };
  let plain: CrashkernelSpec | undefined;
  let high: CrashkernelSpec | undefined;
  for (const t of tokens) {
    let spec: CrashkernelSpec;
    try {
      spec = parseCrashkernel(t);
    } catch (e) {
      out.errors.push((e as Error).message);
      continue;
    }
    if (spec.kind === 'high') high = spec;
    else if (spec.kind === 'low') out.low = spec;
    else if (spec.kind === 'cma') out.cma = spec;
    else plain = spec;
  }
  if (plain) {
    out.main = plain;
    out.low = undefined;
  } else if (high) out.main = high;
  return out;
}

/**
 * Bytes the main reservation asks for on a machine with `ramBytes` of RAM (undefined for `auto`,
 * whose size only a RHEL 7/8 kernel knows). 0 when RAM is below every range.
 */
export function requestedBytes(spec: CrashkernelSpec, ramBytes: bigint): bigint | undefined {
  switch (spec.kind) {
    case 'auto':
      return undefined;
    case 'ranges': {
      for (const r of spec.ranges) {
        if (ramBytes >= r.start && (r.end === undefined || ramBytes < r.end)) return r.size;
      }
      return 0n;
    }
    default:
      return spec.size;
  }
}

/** Validate a value a user typed for the planners: parses, is not `auto`, reserves something. */
export function validateReservation(value: string): {
  spec: CrashkernelSpec;
  text: string;
  warnings: string[];
} {
  const tokens = value
    .trim()
    .split(/\s+/)
    .filter((t) => t !== '')
    .map((t) => (t.startsWith('crashkernel=') ? t.slice('crashkernel='.length) : t));
  if (tokens.length === 0) throw new CrashkernelSyntaxError('no crashkernel= value given; e.g. 256M');
  const req = interpretTokens(tokens);
  if (req.errors.length) throw new CrashkernelSyntaxError(req.errors.join('; '));
  const main = req.main;
  if (!main) {
    throw new CrashkernelSyntaxError(
      `crashkernel=${tokens.join(' ')} has only ,low/,cma parts; add a main reservation such as 256M or 256M,high`,
    );
  }
  if (main.kind === 'auto') {
    throw new CrashkernelSyntaxError(
      'crashkernel=auto works only on RHEL 7/8 kernels; give a size (e.g. 256M) or ranges (e.g. 2G-64G:256M,64G-:512M)',
    );
  }
  const warnings: string[] = [];
  if (main.kind !== 'ranges' && main.kind !== 'cma' && main.size === 0n) {
    throw new CrashkernelSyntaxError(`crashkernel=${tokens.join(' ')} reserves 0 bytes`);
  }
  if (main.kind !== 'ranges' && main.size < 64n << 20n) {
    warnings.push(`${formatSize(main.size)} is very small: capture kernels usually need 128M or more`);
  }
  const text = tokens.map((t) => `crashkernel=${t}`).join(' ');
  return { spec: main, text, warnings };
}
