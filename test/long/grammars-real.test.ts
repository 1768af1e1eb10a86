/**
 * The grammar expectations of test/support/grammarCases.ts under VS Code's own tokenizer: vscode-textmate
 * and vscode-oniguruma exactly as VS Code 1.139.1 ships them, loaded from the code-server install.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { defineGrammarTests, GRAMMAR_FILES, type Language, type Tokenizer } from '../support/grammarCases';
import type { Token } from '../support/tmTokenizer';
import { e2eEnv } from './e2eEnv';

interface TmToken {
  startIndex: number;
  endIndex: number;
  scopes: string[];
}
interface TmGrammar {
  tokenizeLine(line: string, state: unknown): { tokens: TmToken[]; ruleStack: unknown };
}

let registryPromise: Promise<{ load(scope: string): Promise<TmGrammar>; INITIAL: unknown }> | undefined;

function registry() {
  registryPromise ??= (async () => {
    const modules = e2eEnv().VSCODE_MODULES;
    const req = createRequire(join(modules, 'noop.js'));
    const onig = req('vscode-oniguruma');
    const tm = req('vscode-textmate');
    const wasm = readFileSync(join(modules, 'vscode-oniguruma/release/onig.wasm'));
    await onig.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
    const byScope = new Map<string, string>();
    for (const file of Object.values(GRAMMAR_FILES))
      byScope.set(JSON.parse(readFileSync(file, 'utf8')).scopeName, file);
    const reg = new tm.Registry({
      onigLib: Promise.resolve({
        createOnigScanner: (patterns: string[]) => new onig.OnigScanner(patterns),
        createOnigString: (s: string) => new onig.OnigString(s),
      }),
      loadGrammar: async (scope: string) => {
        const file = byScope.get(scope);
        return file ? tm.parseRawGrammar(readFileSync(file, 'utf8'), file) : null;
      },
    });
    return { load: (scope: string) => reg.loadGrammar(scope) as Promise<TmGrammar>, INITIAL: tm.INITIAL };
  })();
  return registryPromise;
}

async function load(language: Language): Promise<Tokenizer> {
  const r = await registry();
  const scope = JSON.parse(readFileSync(GRAMMAR_FILES[language], 'utf8')).scopeName as string;
  const grammar = await r.load(scope);
  if (!grammar) throw new Error(`vscode-textmate could not load ${scope}`);
  return {
    tokenizeText(text: string): Token[][] {
      let state = r.INITIAL;
      return text.split(/\r?\n/).map((line) => {
        const res = grammar.tokenizeLine(line, state);
        state = res.ruleStack;
        return res.tokens
          .map((t) => ({ start: t.startIndex, end: Math.min(t.endIndex, line.length), scopes: t.scopes }))
          .filter((t) => t.end > t.start)
          .map((t) => ({ ...t, text: line.slice(t.start, t.end) }));
      });
    },
  };
}

defineGrammarTests(load);
