import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDumpListing } from '../../src/remote/parsers';
import { parseProbe, unreachableState } from '../../src/remote/probe';
import { badge, targetNode } from '../../src/remote/view';

const FIX = join(__dirname, 'fixtures');

describe('Kdump Targets tree model', () => {
  const state = parseProbe('kdump-guest', readFileSync(join(FIX, 'qemu-guest-probe.txt'), 'utf8'), 'root');
  state.dumps = parseDumpListing(readFileSync(join(FIX, 'qemu-guest-dumps.txt'), 'utf8'));

  it('shows a reserved but unarmed guest with its rows and dumps', () => {
    const n = targetNode('kdump-guest', state);
    expect(badge(state)).toBe('unarmed');
    expect(n).toMatchObject({
      label: 'kdump-guest',
      description: 'reserved, not armed',
      icon: 'target-unarmed',
      contextValue: 'kdumpTarget.unarmed',
    });
    const rows = Object.fromEntries(n.children!.map((c) => [c.label, c.description]));
    expect(rows).toMatchObject({
      Kernel: '6.1.0-56-amd64 x86_64',
      'Kdump tooling': 'none (kexec only)',
      'crashkernel= (running)': 'crashkernel=192M',
      'crashkernel= (next boot)': 'unknown',
      Reserved: '192 MiB at 0x22000000',
      'Capture kernel': 'not loaded',
      'Lockdown / Secure Boot': 'none / unknown',
      'Panic settings': 'panic=0 panic_on_oops=0 sysrq=438',
      Dumps: '2 in /var/crash',
    });
    const dumps = n.children!.find((c) => c.label === 'Dumps')!.children!;
    expect(dumps.map((d) => [d.label, d.contextValue, d.icon])).toEqual([
      ['202611220001/dump-incomplete', 'kdumpDumpIncomplete', 'dump-incomplete'],
      ['202611220805/dump.202611220805', 'kdumpDump', 'dump'],
    ]);
    expect(dumps[1]!.description).toBe('17.5 MiB  2026-11-22 08:05:39Z');
    expect(dumps[0]!.description).toContain('INCOMPLETE');
  });

  it('a kernel without kexec crash support gets its own context (no Load Capture Kernel)', () => {
    expect(targetNode('g', { ...state, reservedBytes: null })).toMatchObject({
      icon: 'target-error',
      description: 'no kexec crash support',
      contextValue: 'kdumpTarget.unsupported',
    });
    const menus = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')).contributes.menus[
      'view/item/context'
    ] as { command: string; when: string }[];
    const offered = menus
      .filter((m) => {
        const re = /viewItem (?:==|=~) (\S+)/.exec(m.when)?.[1];
        if (!re) return false;
        return re.startsWith('/')
          ? new RegExp(re.slice(1, -1)).test('kdumpTarget.unsupported')
          : re === 'kdumpTarget.unsupported';
      })
      .map((m) => m.command);
    expect(offered).not.toContain('kdump.targets.load');
    expect(offered).toEqual(
      expect.arrayContaining(['kdump.targets.refresh', 'kdump.targets.configureReservation']),
    );
  });

  it('marks armed, busy and unreachable hosts', () => {
    expect(targetNode('g', { ...state, captureLoaded: true })).toMatchObject({
      icon: 'target-armed',
      contextValue: 'kdumpTarget.armed',
    });
    expect(targetNode('g', state, 'crash in flight: waiting for the new boot (12 s)')).toMatchObject({
      icon: 'busy',
      description: 'crash in flight: waiting for the new boot (12 s)',
      contextValue: 'kdumpTarget.busy',
    });
    const down = targetNode('lab9', unreachableState('lab9', 'lab9: cannot connect: Connection refused'));
    expect(down).toMatchObject({
      icon: 'target-error',
      description: 'unreachable',
      contextValue: 'kdumpTarget.unreachable',
    });
    expect(down.children![0]!.description).toMatch(/Connection refused/);
    expect(targetNode('new', undefined)).toMatchObject({ icon: 'target', description: 'not read yet' });
  });
});
