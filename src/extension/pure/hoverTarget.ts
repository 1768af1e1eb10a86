/**
 * What is under the mouse in a kernel log or a disassembly listing: a register name, or an address.
 * No `vscode` here; the HoverProvider in ../hover.ts turns the result into an `evaluate` request.
 */
import { ARCHES } from '../../arch/index';

/** Every register name and alias the engine knows, over all architectures, lower case. */
export const REGISTER_NAMES: ReadonlySet<string> = new Set(
  ARCHES.flatMap((a) => [...a.prstatus.registers.map((r) => r.name), ...Object.keys(a.aliases)]).map((n) =>
    n.toLowerCase(),
  ),
);

export type HoverTarget =
  /** `expression` is what the adapter's evaluate gets: the register's lower-case name. */
  | { kind: 'register'; expression: string; start: number; end: number }
  /** `expression` is the address as 0x-prefixed hex. */
  | { kind: 'address'; expression: string; value: bigint; start: number; end: number };

/**
 * `log`: a register name counts only where a register dump puts it (`RAX:`, `pc : `, `x29:`) or with a
 * `%`/`$` prefix, so prose such as "EXT4-fs" does not light up. `disasm`: any register operand.
 */
export type HoverMode = 'log' | 'disasm';

const TOKEN = /[%$]?[A-Za-z_][A-Za-z0-9_]*|0[xX][0-9a-fA-F]+|[0-9a-fA-F]+/g;

export function hoverTargetAt(line: string, character: number, mode: HoverMode): HoverTarget | undefined {
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(line); m; m = TOKEN.exec(line)) {
    const start = m.index;
    const end = start + m[0].length;
    if (character < start) return undefined;
    if (character >= end) continue;
    return classify(line, m[0], start, end, mode);
  }
  return undefined;
}

function classify(
  line: string,
  word: string,
  start: number,
  end: number,
  mode: HoverMode,
): HoverTarget | undefined {
  const hex = /^0[xX]([0-9a-fA-F]+)$/.exec(word)?.[1] ?? (/^[0-9a-fA-F]{16}$/.test(word) ? word : undefined);
  if (hex !== undefined) {
    // Bare hex counts only at full 64-bit width (register dumps, stack words); 0x-prefixed from 8 digits.
    if (hex.length < 8 || hex.length > 16) return undefined;
    // A word glued to letters (e.g. the middle of an identifier) is not an address.
    if (/[A-Za-z0-9_]/.test(line[start - 1] ?? '') || /[A-Za-z0-9_]/.test(line[end] ?? '')) return undefined;
    const value = BigInt('0x' + hex);
    return { kind: 'address', expression: '0x' + hex.toLowerCase(), value, start, end };
  }
  const prefixed = word[0] === '%' || word[0] === '$';
  const name = (prefixed ? word.slice(1) : word).toLowerCase();
  if (!REGISTER_NAMES.has(name)) return undefined;
  if (mode === 'log' && !prefixed) {
    // register-dump position: the name followed by optional spaces and a colon, not inside a word
    if (!/^\s*:/.test(line.slice(end))) return undefined;
    if (/[A-Za-z0-9_\-./]/.test(line[start - 1] ?? '')) return undefined;
  }
  return { kind: 'register', expression: name, start, end };
}

/** The hover text for an evaluated register: value as the adapter formats it (hex, symbol, flags). */
export function registerHoverMarkdown(name: string, result: string, where: string): string {
  return `**${name}** = \`${result}\`\n\n${where}`;
}

/**
 * The hover text for an evaluated address, or undefined when the adapter only echoed the number back
 * (no symbol covers it): a hover that repeats what is under the mouse is noise.
 */
export function addressHoverMarkdown(expression: string, result: string): string | undefined {
  const r = result.trim();
  if (!r || /^(0x)?[0-9a-f]+$/i.test(r)) return undefined;
  return `\`${expression}\` → \`${r}\``;
}
