import { describe, expect, it } from 'vitest';
import {
  crashkernelTokens,
  formatCrashkernel,
  interpretTokens,
  parseCrashkernel,
  requestedBytes,
  splitCmdline,
  validateReservation,
} from '../../src/remote/crashkernel';

const M = 1n << 20n;
const G = 1n << 30n;

describe('crashkernel= grammar', () => {
  it('parses every documented form', () => {
    expect(parseCrashkernel('160M')).toEqual({ kind: 'size', size: 160n * M });
    expect(parseCrashkernel('64M@16M')).toEqual({ kind: 'size', size: 64n * M, offset: 16n * M });
    expect(parseCrashkernel('0x10000000')).toEqual({ kind: 'size', size: 0x10000000n });
    expect(parseCrashkernel('512M,high')).toEqual({ kind: 'high', size: 512n * M });
    expect(parseCrashkernel('72M,low')).toEqual({ kind: 'low', size: 72n * M });
    expect(parseCrashkernel('0,low')).toEqual({ kind: 'low', size: 0n });
    expect(parseCrashkernel('1G,cma')).toEqual({ kind: 'cma', size: G });
    expect(parseCrashkernel('auto')).toEqual({ kind: 'auto' });
    // Debian bookworm kdump-tools preset
    expect(parseCrashkernel('384M-:128M')).toEqual({
      kind: 'ranges',
      ranges: [{ start: 384n * M, size: 128n * M }],
    });
    // kdump-utils x86_64 default and kernel docs example with an offset
    expect(parseCrashkernel('2G-64G:256M,64G-:512M')).toEqual({
      kind: 'ranges',
      ranges: [
        { start: 2n * G, end: 64n * G, size: 256n * M },
        { start: 64n * G, size: 512n * M },
      ],
    });
    expect(parseCrashkernel('512M-2G:64M,2G-:128M@16M').kind).toBe('ranges');
    expect((parseCrashkernel('512M-2G:64M,2G-:128M@16M') as { offset: bigint }).offset).toBe(16n * M);
  });

  it('formats back to the same text', () => {
    for (const v of [
      '160M',
      '64M@16M',
      '512M,high',
      '0,low',
      '384M-:128M',
      '2G-4G:320M,4G-32G:512M,32G-64G:1G,64G-128G:2G,128G-:4G',
      '4G-16G:768M,16G-64G:1G,64G-128G:2G,128G-1T:4G,1T-2T:6G',
      '512M-2G:64M,2G-:128M@16M',
    ]) {
      expect(formatCrashkernel(parseCrashkernel(v))).toBe(v);
    }
  });

  it('says what is wrong with bad values', () => {
    expect(() => parseCrashkernel('')).toThrow(/has no value/);
    expect(() => parseCrashkernel('256X')).toThrow(/"256X" is not a size/);
    expect(() => parseCrashkernel('256M,middle')).toThrow(/unknown suffix ",middle"/);
    expect(() => parseCrashkernel('4G-2G:256M')).toThrow(/ends before it starts/);
    expect(() => parseCrashkernel('2G-:256M,4G-:512M')).toThrow(/open-ended range/);
    expect(() => parseCrashkernel('1G-4G:192M,2G-8G:256M')).toThrow(/overlaps/);
    expect(() => parseCrashkernel('2G:256M')).toThrow(/has no "-"/);
    expect(() => parseCrashkernel('256M; reboot')).toThrow(/not a size/);
  });

  it('resolves several tokens the way the kernel does', () => {
    // SUSE writes both: with no plain token, ,high is the main one and ,low applies
    const suse = interpretTokens(['72M,low', '300M,high']);
    expect(suse.main).toEqual({ kind: 'high', size: 300n * M });
    expect(suse.low).toEqual({ kind: 'low', size: 72n * M });
    // a plain token wins and ,low is ignored; the last plain token is the one used
    const mixed = interpretTokens(['128M', '300M,high', '72M,low', '256M']);
    expect(mixed.main).toEqual({ kind: 'size', size: 256n * M });
    expect(mixed.low).toBeUndefined();
    expect(interpretTokens(['bogus']).errors[0]).toMatch(/bogus/);
  });

  it('computes the size a machine of a given RAM gets', () => {
    const rhel = parseCrashkernel('1G-4G:192M,4G-64G:256M,64G-:512M');
    expect(requestedBytes(rhel, 768n * M)).toBe(0n); // below the first range: the Cockpit CI case
    expect(requestedBytes(rhel, 2n * G)).toBe(192n * M);
    expect(requestedBytes(rhel, 4n * G)).toBe(256n * M); // end is exclusive
    expect(requestedBytes(rhel, 1024n * G)).toBe(512n * M);
    expect(requestedBytes(parseCrashkernel('auto'), 8n * G)).toBeUndefined();
  });

  it('finds the tokens on real command lines', () => {
    // the QEMU guest's /proc/cmdline
    expect(
      crashkernelTokens('console=ttyS0 crashkernel=192M kdt.autoload=0 kdt.dumpargs=-c,-d,31\n'),
    ).toEqual(['192M']);
    expect(
      crashkernelTokens(
        'BOOT_IMAGE=/vmlinuz-5.14.0-362.el9.x86_64 root=/dev/mapper/rhel-root ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root',
      ),
    ).toEqual(['1G-4G:192M,4G-64G:256M,64G-:512M']);
    expect(splitCmdline('a "b c" d=" e"')).toEqual(['a', 'b c', 'd= e']);
  });

  it('validates user input for the planners', () => {
    expect(validateReservation('256M').text).toBe('crashkernel=256M');
    expect(validateReservation(' crashkernel=512M,high crashkernel=72M,low ').text).toBe(
      'crashkernel=512M,high crashkernel=72M,low',
    );
    expect(validateReservation('32M').warnings[0]).toMatch(/very small/);
    expect(() => validateReservation('auto')).toThrow(/RHEL 7\/8/);
    expect(() => validateReservation('72M,low')).toThrow(/only ,low/);
    expect(() => validateReservation('0')).toThrow(/reserves 0 bytes/);
    expect(() => validateReservation('256M $(reboot)')).toThrow(/not a size/);
  });
});
