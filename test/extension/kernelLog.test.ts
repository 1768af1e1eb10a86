import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  dumpPathForLog,
  findPanicLine,
  logPathForDump,
  panicLineOf,
  parseKernelLogResponse,
} from '../../src/extension/pure/kernelLog';
import { VMCORES } from '../support/corpus';

const log = (p: string) => readFileSync(join(VMCORES, p), 'utf8');

describe('findPanicLine on the real logs', () => {
  it('x86_64 sysrq crash: the "Kernel panic - not syncing" line', () => {
    const text = log('kdump-sysrq/logs/dmesg.txt');
    const line = findPanicLine(text)!;
    expect(text.split('\n')[line]).toBe('[   13.999203] Kernel panic - not syncing: sysrq triggered crash');
    expect(line).toBe(text.split('\n').findIndex((l) => l.includes('Kernel panic')));
  });
  it('arm64 sysrq crash', () => {
    const text = log('arm64-sysrq/logs/dmesg.txt');
    expect(text.split('\n')[findPanicLine(text)!]).toBe(
      '[   10.853502] Kernel panic - not syncing: sysrq triggered crash',
    );
  });
  it('the console log of the crash: the panic, not the capture kernel that boots after it', () => {
    const text = log('kdump-sysrq/logs/console.log');
    expect(text.split('\n')[findPanicLine(text)!]).toContain(
      'Kernel panic - not syncing: sysrq triggered crash',
    );
  });
  it('a live QEMU snapshot has no panic', () => {
    expect(findPanicLine(log('qemu-live/logs/console.log'))).toBeUndefined();
  });
  it('falls back to the oops header, then to the sysrq trigger; levels and caller ids are skipped', () => {
    expect(findPanicLine('a\n<1>[ 1.0] [  T77] BUG: kernel NULL pointer dereference\nb')).toBe(1);
    expect(findPanicLine('a\n[ 1.0] Oops: 0000 [#1] SMP\n[ 1.1] general protection fault\nc')).toBe(2);
    expect(findPanicLine('[ 1.0] sysrq: Trigger a crash\nz')).toBe(0);
    expect(findPanicLine('nothing\nhere')).toBeUndefined();
  });
});

describe('the kernelLog response contract', () => {
  it('takes text and a 0-based panicLine', () => {
    expect(parseKernelLogResponse({ text: 'a\nb', panicLine: 1 })).toEqual({ text: 'a\nb', panicLine: 1 });
    expect(parseKernelLogResponse({ text: 'a', panicLine: -1 })).toEqual({ text: 'a' });
    expect(parseKernelLogResponse({ text: 'a', panicLine: '3' })).toEqual({ text: 'a' });
    expect(() => parseKernelLogResponse({ lines: [] })).toThrow(/without a "text" string/);
    expect(() => parseKernelLogResponse(undefined)).toThrow(/without a "text" string/);
  });
  it("uses the adapter's panic line when it is inside the text, else finds it", () => {
    const text = log('kdump-sysrq/logs/dmesg.txt');
    expect(panicLineOf({ text, panicLine: 5 })).toBe(5);
    expect(panicLineOf({ text, panicLine: 100000 })).toBe(findPanicLine(text));
    expect(panicLineOf({ text })).toBe(findPanicLine(text));
  });
});

describe('kernel-log document paths', () => {
  it('round-trip', () => {
    expect(logPathForDump('/var/crash/x/vmcore')).toBe('/var/crash/x/vmcore.dmesg');
    expect(dumpPathForLog('/var/crash/x/vmcore.dmesg')).toBe('/var/crash/x/vmcore');
    expect(dumpPathForLog('/var/crash/x/vmcore')).toBeUndefined();
  });
});
