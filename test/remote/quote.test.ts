import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shJoin, shQuote, shScript } from '../../src/remote/quote';
import { HOSTILE } from '../support/hostile';

describe('shQuote', () => {
  for (const shell of ['/bin/sh', '/bin/bash', '/bin/dash']) {
    it(`round-trips every hostile argument through ${shell}`, () => {
      const line = `printf '%s\\0' ${shJoin(HOSTILE)}`;
      const out = execFileSync(shell, ['-c', line], { encoding: 'utf8' });
      expect(out.split('\0').slice(0, -1)).toEqual(HOSTILE);
    });
  }

  it('leaves safe words alone and quotes the rest', () => {
    expect(shQuote('/var/crash/202611220805/dump.202611220805')).toBe(
      '/var/crash/202611220805/dump.202611220805',
    );
    expect(shQuote('crashkernel=2G-64G:256M,64G-:512M')).toBe('crashkernel=2G-64G:256M,64G-:512M');
    expect(shQuote("it's")).toBe(`'it'\\''s'`);
    expect(shQuote('')).toBe("''");
    expect(shQuote('$(x)')).toBe("'$(x)'");
  });

  it('refuses NUL bytes, which argv cannot carry', () => {
    expect(() => shQuote('a\0b')).toThrow(/NUL/);
  });

  it('passes script inputs as positional parameters, not code', () => {
    const argv = shScript('printf "%s|" "$1" "$2"', '$(id)', "a'b");
    const out = execFileSync('/bin/sh', ['-c', shJoin(argv)], { encoding: 'utf8' });
    expect(out).toBe("$(id)|a'b|");
  });
});
