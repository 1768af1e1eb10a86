/**
 * A small TextMate tokenizer for the grammar tests of the default suite: match and begin/end rules,
 * captures, includes (#name, $self), nested scopes, rules that span lines. It runs the grammars' regexes
 * with JavaScript's engine (flag `u`, so Oniguruma-only escapes such as \h fail loudly instead of meaning
 * something else) and refuses any grammar key it does not implement: a grammar that passes here uses
 * only syntax both engines share. The long suite repeats the checks with VS Code's own tokenizer
 * (vscode-textmate + Oniguruma from the code-server install), test/long/grammar-real.test.ts.
 */

export interface Token {
  text: string;
  start: number;
  end: number;
  /** Outermost first, the grammar's scopeName included. */
  scopes: string[];
}

interface Captures {
  [group: string]: { name?: string };
}

interface RawRule {
  name?: string;
  contentName?: string;
  match?: string;
  begin?: string;
  end?: string;
  captures?: Captures;
  beginCaptures?: Captures;
  endCaptures?: Captures;
  patterns?: RawRule[];
  include?: string;
  comment?: string;
}

export interface RawGrammar extends RawRule {
  scopeName: string;
  repository?: Record<string, RawRule>;
}

const RULE_KEYS = new Set([
  'name',
  'contentName',
  'match',
  'begin',
  'end',
  'captures',
  'beginCaptures',
  'endCaptures',
  'patterns',
  'include',
  'comment',
]);
const GRAMMAR_KEYS = new Set([...RULE_KEYS, 'scopeName', 'repository', '$schema', 'fileTypes']);
/** Oniguruma syntax with no JavaScript equivalent (or a different meaning). */
const ONIG_ONLY = [/\\[hHAGzZK]/, /\(\?[imx-]+[):]/, /[*+?}][+]/, /\(\?>/, /\\p\{Alnum\}/];

function compile(source: string, where: string): RegExp {
  for (const bad of ONIG_ONLY) {
    if (bad.test(source)) throw new Error(`${where}: Oniguruma-only syntax ${bad} in ${source}`);
  }
  try {
    return new RegExp(source, 'dgu');
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`);
  }
}

interface Rule {
  where: string;
  name?: string;
  contentName?: string;
  match?: RegExp;
  begin?: RegExp;
  end?: RegExp;
  captures?: Captures;
  beginCaptures?: Captures;
  endCaptures?: Captures;
  patterns: Rule[];
}

export class MiniGrammar {
  readonly scopeName: string;
  private readonly root: Rule;
  private readonly compiled = new Map<RawRule, Rule>();

  constructor(private readonly raw: RawGrammar) {
    for (const k of Object.keys(raw))
      if (!GRAMMAR_KEYS.has(k)) throw new Error(`grammar key "${k}" not supported`);
    this.scopeName = raw.scopeName;
    this.root = { where: '$self', patterns: [] };
    this.root.patterns = this.expand(raw.patterns ?? [], 'patterns');
    for (const [key, rule] of Object.entries(raw.repository ?? {})) this.rule(rule, `#${key}`);
  }

  private rule(raw: RawRule, where: string): Rule {
    const known = this.compiled.get(raw);
    if (known) return known;
    for (const k of Object.keys(raw))
      if (!RULE_KEYS.has(k)) throw new Error(`${where}: rule key "${k}" not supported`);
    if (raw.match && raw.begin) throw new Error(`${where}: both match and begin`);
    if (raw.begin && raw.end === undefined) throw new Error(`${where}: begin without end`);
    const rule: Rule = {
      where,
      name: raw.name,
      contentName: raw.contentName,
      match: raw.match === undefined ? undefined : compile(raw.match, where),
      begin: raw.begin === undefined ? undefined : compile(raw.begin, where),
      end: raw.end === undefined ? undefined : compile(raw.end, where),
      captures: raw.captures,
      beginCaptures: raw.beginCaptures ?? raw.captures,
      endCaptures: raw.endCaptures ?? raw.captures,
      patterns: [],
    };
    this.compiled.set(raw, rule);
    rule.patterns = this.expand(raw.patterns ?? [], where);
    return rule;
  }

  /** Flatten includes and pattern-only groups into the list of rules that can match. */
  private expand(list: RawRule[], where: string, seen = new Set<RawRule>()): Rule[] {
    const out: Rule[] = [];
    for (const [i, raw] of list.entries()) {
      const at = `${where}[${i}]`;
      if (raw.include !== undefined) {
        if (raw.include === '$self' || raw.include === '$base') {
          out.push(...this.expand(this.raw.patterns ?? [], '$self', seen));
          continue;
        }
        if (!raw.include.startsWith('#'))
          throw new Error(`${at}: include of another grammar (${raw.include})`);
        const target = this.raw.repository?.[raw.include.slice(1)];
        if (!target) throw new Error(`${at}: ${raw.include} is not in the repository`);
        if (seen.has(target)) continue;
        seen.add(target);
        out.push(...this.expandOne(target, raw.include, seen));
        seen.delete(target);
        continue;
      }
      out.push(...this.expandOne(raw, at, seen));
    }
    return out;
  }

  private expandOne(raw: RawRule, where: string, seen: Set<RawRule>): Rule[] {
    if (raw.match === undefined && raw.begin === undefined) {
      if (!raw.patterns) throw new Error(`${where}: a rule with no match, begin or patterns`);
      return this.expand(raw.patterns, where, seen);
    }
    return [this.rule(raw, where)];
  }

  /** Tokenize a whole text, line by line (a rule may stay open across lines). */
  tokenizeText(text: string): Token[][] {
    const stack: { rule: Rule; scopes: string[] }[] = [];
    return text.split(/\r?\n/).map((line) => this.tokenizeLine(line, stack));
  }

  tokenizeLine(line: string, stack: { rule: Rule; scopes: string[] }[] = []): Token[] {
    // one scope list per character; captures and nested rules push onto it
    const perChar: string[][] = [];
    const base = () => {
      const top = stack[stack.length - 1];
      return top ? top.scopes : [this.scopeName];
    };
    const paint = (from: number, to: number, scopes: string[]) => {
      for (let i = from; i < to; i++) perChar[i] = [...scopes];
    };
    const paintCaptures = (m: RegExpExecArray, caps: Captures | undefined, scopes: string[]) => {
      if (!caps || !m.indices) return;
      const groups = Object.keys(caps)
        .map(Number)
        .sort((a, b) => a - b);
      for (const g of groups) {
        const span = m.indices[g];
        const name = caps[String(g)]?.name;
        if (!span || !name) continue;
        for (let i = span[0]; i < span[1]; i++) perChar[i] = [...(perChar[i] ?? scopes), name];
      }
    };
    let pos = 0;
    let guard = 0;
    while (pos <= line.length) {
      if (++guard > 10_000) throw new Error(`tokenizer loop on: ${line}`);
      const top = stack[stack.length - 1];
      const candidates = top ? top.rule.patterns : this.root.patterns;
      let best: { m: RegExpExecArray; rule: Rule | 'end' } | undefined;
      if (top?.rule.end) {
        top.rule.end.lastIndex = pos;
        const m = top.rule.end.exec(line);
        if (m) best = { m, rule: 'end' };
      }
      for (const rule of candidates) {
        const re = (rule.match ?? rule.begin)!;
        re.lastIndex = pos;
        const m = re.exec(line);
        if (!m) continue;
        if (m[0].length === 0 && rule.match) continue; // an empty match paints nothing
        if (!best || m.index < best.m.index) best = { m, rule };
      }
      if (!best) {
        paint(pos, line.length, base());
        break;
      }
      const { m } = best;
      paint(pos, m.index, base());
      const mEnd = m.index + m[0].length;
      if (best.rule === 'end') {
        const closing = stack.pop()!;
        const outer = closing.rule.contentName ? closing.scopes.slice(0, -1) : closing.scopes;
        paint(m.index, mEnd, outer);
        paintCaptures(m, closing.rule.endCaptures, outer);
        pos = mEnd;
        if (m[0].length === 0 && pos >= line.length) break;
        continue;
      }
      const rule = best.rule;
      const scopes = rule.name ? [...base(), rule.name] : base();
      paint(m.index, mEnd, scopes);
      if (rule.match) {
        paintCaptures(m, rule.captures, scopes);
        pos = mEnd;
        continue;
      }
      paintCaptures(m, rule.beginCaptures, scopes);
      stack.push({ rule, scopes: rule.contentName ? [...scopes, rule.contentName] : scopes });
      pos = mEnd;
      if (pos >= line.length && m[0].length === 0) break;
    }
    // group characters with equal scopes into tokens
    const tokens: Token[] = [];
    for (let i = 0; i < line.length; i++) {
      const scopes = perChar[i] ?? [this.scopeName];
      const last = tokens[tokens.length - 1];
      if (last && last.scopes.join(' ') === scopes.join(' ')) {
        last.end = i + 1;
        last.text += line[i];
      } else tokens.push({ text: line[i]!, start: i, end: i + 1, scopes });
    }
    return tokens;
  }
}

/** The scopes of the token that holds the first character of `needle` in `line` (searching from `from`). */
export function scopesAt(tokens: Token[], line: string, needle: string, from = 0): string[] {
  const at = line.indexOf(needle, from);
  if (at < 0) throw new Error(`"${needle}" is not in: ${line}`);
  const t = tokens.find((tok) => tok.start <= at && at < tok.end);
  return t?.scopes ?? [];
}

/** True when every character of `needle` (first occurrence) carries a scope starting with `prefix`. */
export function allHave(tokens: Token[], line: string, needle: string, prefix: string): boolean {
  const at = line.indexOf(needle);
  if (at < 0) throw new Error(`"${needle}" is not in: ${line}`);
  for (let i = at; i < at + needle.length; i++) {
    const t = tokens.find((tok) => tok.start <= i && i < tok.end);
    if (!t?.scopes.some((s) => s.startsWith(prefix))) return false;
  }
  return true;
}
