/** The grammars under the small JavaScript TextMate tokenizer (see test/support/tmTokenizer.ts). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defineGrammarTests, GRAMMAR_FILES } from '../support/grammarCases';
import { MiniGrammar } from '../support/tmTokenizer';

defineGrammarTests(
  async (language) => new MiniGrammar(JSON.parse(readFileSync(GRAMMAR_FILES[language], 'utf8'))),
);

describe('the small tokenizer refuses what it cannot run faithfully', () => {
  it('Oniguruma-only escapes and unknown keys', () => {
    expect(() => new MiniGrammar({ scopeName: 's', patterns: [{ match: '\\h+' }] })).toThrow(
      /Oniguruma-only/,
    );
    expect(() => new MiniGrammar({ scopeName: 's', patterns: [{ match: '(?i)abc' }] })).toThrow(
      /Oniguruma-only/,
    );
    expect(
      () => new MiniGrammar({ scopeName: 's', patterns: [{ match: 'a', while: 'b' } as never] }),
    ).toThrow(/not supported/);
  });
});
