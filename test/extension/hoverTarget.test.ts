import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  addressHoverMarkdown,
  hoverTargetAt,
  REGISTER_NAMES,
  registerHoverMarkdown,
} from '../../src/extension/pure/hoverTarget';
import { VMCORES } from '../support/corpus';

/** The target under the first character of `needle` (and under its last one: same answer). */
function at(line: string, needle: string, mode: 'log' | 'disasm' = 'log') {
  const i = line.indexOf(needle);
  if (i < 0) throw new Error(`${needle} not in ${line}`);
  const first = hoverTargetAt(line, i, mode);
  expect(hoverTargetAt(line, i + needle.length - 1, mode)).toEqual(first);
  return first;
}

describe('hoverTargetAt on the real x86_64 register dump', () => {
  const lines = readFileSync(join(VMCORES, 'kdump-sysrq/logs/dmesg.txt'), 'utf8').split('\n');
  const rsp = lines.find((l) => l.includes('RSP: 002b'))!;
  const rax = lines.find((l) => l.includes('RAX: ffffffffffffffda'))!;
  const rip = lines.find((l) => l.includes('RIP: 0033'))!;

  it('register names where the dump prints them', () => {
    expect(at(rip, 'RIP')).toEqual({ kind: 'register', expression: 'rip', start: 15, end: 18 });
    expect(at(rsp, 'EFLAGS')).toMatchObject({ kind: 'register', expression: 'eflags' });
    expect(at(rsp, 'ORIG_RAX')).toMatchObject({ kind: 'register', expression: 'orig_rax' });
    expect(at(rax, 'RBX')).toMatchObject({ kind: 'register', expression: 'rbx' });
  });
  it('64-bit values as addresses', () => {
    expect(at(rax, 'ffffffffffffffda')).toMatchObject({
      kind: 'address',
      expression: '0xffffffffffffffda',
      value: 0xffffffffffffffdan,
    });
  });
  it('nothing in prose, timestamps or short numbers', () => {
    const ext4 = lines.find((l) => l.includes('EXT4-fs (vda): mounted'))!;
    expect(at(ext4, 'fs')).toBeUndefined(); // the fs register, but inside "EXT4-fs"
    expect(at(ext4, 'vda')).toBeUndefined();
    expect(hoverTargetAt(rip, 3, 'log')).toBeUndefined(); // the timestamp
    expect(at(rip, '47b7a0')).toBeUndefined(); // 0x47b7a0: too short to be a kernel address
  });
  it('before the first token and past the end', () => {
    expect(hoverTargetAt('   RAX: 1', 0, 'log')).toBeUndefined();
    expect(hoverTargetAt('RAX: 1', 50, 'log')).toBeUndefined();
  });
});

describe('hoverTargetAt on arm64 and disassembly text', () => {
  it('arm64 register dump names', () => {
    const l = '[   10.853504] sp : ffff80000a4b3c40 x29: ffff80000a4b3c40';
    expect(at(l, 'sp')).toMatchObject({ kind: 'register', expression: 'sp' });
    expect(at(l, 'x29')).toMatchObject({ kind: 'register', expression: 'x29' });
    expect(at(l, 'ffff80000a4b3c40')).toMatchObject({ kind: 'address', value: 0xffff80000a4b3c40n });
  });
  it('operands in a disassembly listing, with or without %', () => {
    const l = '0xffffffffbad741a4 <sysrq_handle_crash+0x0>: mov %rdi,%rax';
    expect(at(l, '%rdi', 'disasm')).toMatchObject({ kind: 'register', expression: 'rdi' });
    expect(at(l, 'rax', 'disasm')).toMatchObject({ kind: 'register', expression: 'rax' });
    expect(at(l, '0xffffffffbad741a4', 'disasm')).toMatchObject({
      kind: 'address',
      expression: '0xffffffffbad741a4',
    });
    expect(at(l, 'mov', 'disasm')).toBeUndefined();
    // in a log, a bare register word needs the register-dump colon; a % prefix is enough
    expect(at('using mov %rdi here', '%rdi')).toMatchObject({ kind: 'register', expression: 'rdi' });
    expect(at('rdi is mentioned here', 'rdi')).toBeUndefined();
  });
  it('knows the registers of every architecture the engine reads', () => {
    for (const r of [
      'rip',
      'rsp',
      'eflags',
      'pc',
      'x0',
      'x30',
      'pstate',
      'lr',
      'eip',
      'r15',
      'nip',
      'psw_addr',
    ]) {
      expect(REGISTER_NAMES.has(r), r).toBe(true);
    }
    expect(REGISTER_NAMES.has('vda')).toBe(false);
  });
});

describe('hover text', () => {
  it('register value as the adapter formats it', () => {
    expect(
      registerHoverMarkdown('rip', '0xffffffffbad741ba <crash_setup_regs+0x2a>', 'selected frame of CPU 0'),
    ).toBe('**rip** = `0xffffffffbad741ba <crash_setup_regs+0x2a>`\n\nselected frame of CPU 0');
  });
  it('an address: only when the adapter adds something (a symbol)', () => {
    expect(addressHoverMarkdown('0xffffffffbad741ba', '0xffffffffbad741ba <crash_setup_regs+0x2a>')).toBe(
      '`0xffffffffbad741ba` → `0xffffffffbad741ba <crash_setup_regs+0x2a>`',
    );
    expect(addressHoverMarkdown('0x1', '0x0000000000000001')).toBeUndefined();
    expect(addressHoverMarkdown('0x1', '')).toBeUndefined();
  });
});
