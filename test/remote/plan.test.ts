/**
 * The probe parser and the planners on recorded outputs: the QEMU guest (captured over ssh from the
 * guest test/long boots), and Debian/RHEL hosts assembled from the outputs kdump-arming.md quotes.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ATOMIC_WRITE_SCRIPT,
  formatPlan,
  PlanRefused,
  planCrash,
  planLoad,
  planReservation,
  planUnload,
} from '../../src/remote/plan';
import { parseProbe, probeTarget } from '../../src/remote/probe';
import type { TargetState } from '../../src/remote/state';
import { cleanTmp, tmp } from '../support/tmp';

const FIX = join(__dirname, 'fixtures');
const guestOut = readFileSync(join(FIX, 'qemu-guest-probe.txt'), 'utf8');
const GUEST_CMDLINE = 'console=ttyS0 crashkernel=192M kdt.autoload=0 kdt.dumpargs=-c,-d,31';

function section(name: string, text: string): string {
  return `\n@@kdd ${name}\n${text}`;
}

/** A Debian 12 host with kdump-tools, from the outputs in kdump-arming.md §1.2. */
const debianOut = [
  section('id', '0\nroot\n'),
  section('uname', '6.1.0-18-amd64\nx86_64\n'),
  section('hostname', 'lab1\n'),
  section('file /etc/os-release', 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'),
  section('file /proc/cmdline', 'BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=UUID=1 ro quiet\n'),
  section('file /sys/kernel/kexec_crash_size', '0\n'),
  section('file /sys/kernel/kexec_crash_loaded', '0\n'),
  section('file /proc/sys/kernel/panic', '0\n'),
  section(
    'file /etc/default/grub',
    'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX=""\n',
  ),
  section(
    'file /etc/default/grub.d/kdump-tools.cfg',
    'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT crashkernel=384M-:128M"\n',
  ),
  section('file /etc/default/kdump-tools', 'USE_KDUMP=1\nKDUMP_COREDIR="/var/crash"\n'),
  section('meminfo', 'MemTotal:        8029152 kB\n'),
  section(
    'tools',
    'kdump-config /usr/sbin/kdump-config\nkexec /usr/sbin/kexec\nupdate-grub /usr/sbin/update-grub\nsystemctl /usr/bin/systemctl\n',
  ),
  section('unit kdump-tools', 'enabled\n\nactive\n'),
  section(
    'kdump-config-show',
    'USE_KDUMP:        1\nKDUMP_COREDIR:    /var/crash\ncurrent state:    Not ready to kdump\n',
  ),
  section('end', ''),
].join('');

/** A RHEL 9 host with kdumpctl, reserved and armed. */
const rhelOut = [
  section('id', '1000\nadmin\n'),
  section('uname', '5.14.0-362.8.1.el9_3.x86_64\nx86_64\n'),
  section(
    'file /proc/cmdline',
    'BOOT_IMAGE=(hd0,msdos1)/vmlinuz-5.14.0-362.8.1.el9_3.x86_64 root=/dev/mapper/rhel-root ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M\n',
  ),
  section('file /sys/kernel/kexec_crash_size', '268435456\n'),
  section('file /sys/kernel/kexec_crash_loaded', '1\n'),
  section('file /sys/kernel/security/lockdown', 'none [integrity] confidentiality\n'),
  section('file /proc/sys/kernel/panic', '0\n'),
  section(
    'file /etc/kdump.conf',
    'path /var/crash\ncore_collector makedumpfile -l --message-level 7 -d 31\n',
  ),
  section('iomem', '  00000000-00000000 : Crash kernel\n'),
  section(
    'tools',
    'kdumpctl /usr/bin/kdumpctl\ngrubby /usr/sbin/grubby\nkexec /usr/sbin/kexec\nsystemctl /usr/bin/systemctl\n',
  ),
  section('unit kdump', 'enabled\n\nactive\n'),
  section('kdumpctl-status', 'kdump: Kdump is operational\n@@rc 0\n'),
  section(
    'grubby',
    'index=0\nkernel="/boot/vmlinuz-5.14.0-362.8.1.el9_3.x86_64"\nargs="ro crashkernel=2G-64G:256M,64G-:512M"\n',
  ),
  section('end', ''),
].join('');

describe('probe → state', () => {
  it('reads the QEMU guest', () => {
    const s = parseProbe('kdump-guest', guestOut, 'root');
    expect(s).toMatchObject({
      reachable: true,
      hostname: 'kdump-guest',
      kernelRelease: '6.1.0-56-amd64',
      arch: 'x86_64',
      root: 'root',
      flavour: 'none',
      crashkernelCmdline: 'crashkernel=192M',
      crashkernelBootloader: null,
      rebootPending: false,
      reservedBytes: 201326592,
      reservedRanges: [{ start: '0x22000000', end: '0x2dffffff' }],
      captureLoaded: false,
      crashLoadedFile: '/sys/kernel/kexec_crash_loaded',
      kexecLoadDisabled: false,
      service: null,
      lockdown: 'none',
      secureBoot: null,
      sysctl: { panic: 0, panic_on_oops: 0, sysrq: 438 },
      memTotalBytes: 528828 * 1024,
      dumpDir: '/var/crash',
    });
    expect(s.bootId).toBe('f55a44dc-2fb8-430d-b5b9-5d96b54313d4');
    expect(s.bootFiles).toContain('initrd-capture.img-6.1.0-56-amd64');
    expect(s.problems).toContain('no capture kernel is loaded: a panic now would not produce a dump');
    // 192M reserved = the iomem range 0x22000000-0x2dffffff
    expect(0x2dffffff - 0x22000000 + 1).toBe(s.reservedBytes);
  });

  it('reads the guest after a crash: new boot_id', () => {
    const after = parseProbe(
      'kdump-guest',
      readFileSync(join(FIX, 'qemu-guest-probe-after-crash.txt'), 'utf8'),
      'root',
    );
    expect(after.bootId).toBe('b03a82f5-f0d3-40e9-bd65-4025d24aa80c');
    expect(after.bootId).not.toBe(parseProbe('g', guestOut, 'root').bootId);
  });

  it('reads a Debian kdump-tools host: reboot pending, nothing reserved', () => {
    const s = parseProbe('lab1', debianOut, 'root');
    expect(s.flavour).toBe('kdump-tools');
    expect(s.crashkernelCmdline).toBe('');
    expect(s.crashkernelBootloader).toBe('crashkernel=384M-:128M');
    expect(s.bootloaderSource).toBe('/etc/default/grub.d/kdump-tools.cfg');
    expect(s.rebootPending).toBe(true);
    expect(s.reservedBytes).toBe(0);
    expect(s.service).toEqual({ unit: 'kdump-tools.service', enabled: 'enabled', active: 'active' });
    expect(s.toolVerdict?.ready).toBe(false);
    expect(s.problems.join('\n')).toMatch(/no memory is reserved/);
    expect(s.problems).toContain(
      'reboot pending: the boot loader has "crashkernel=384M-:128M" but the running kernel has none',
    );
  });

  it('a dump directory that cannot be listed is said on the host, without its name again', async () => {
    // The probe's first round trip answers with the real guest's output; the listing fails.
    let calls = 0;
    const runner = {
      host: 'lab1',
      async run() {
        calls++;
        return calls === 1
          ? { code: 0, stdout: guestOut, stderr: '' }
          : { code: 2, stdout: '', stderr: "ls: cannot access '/var/crash': Permission denied\n" };
      },
    };
    const s = await probeTarget(runner, { root: false });
    expect(s.dumpDir).toBeTruthy();
    expect(s.dumpsError).toBe(`cannot list ${s.dumpDir}: ls: cannot access '/var/crash': Permission denied`);
  });

  it('reads a RHEL host: grubby entry, hidden iomem, integrity lockdown', () => {
    const s = parseProbe('rhel9', rhelOut, 'sudo');
    expect(s.flavour).toBe('kdumpctl');
    expect(s.root).toBe('sudo');
    expect(s.crashkernelBootloader).toBe('crashkernel=2G-64G:256M,64G-:512M');
    expect(s.bootloaderSource).toBe('grubby entry 0 (/boot/vmlinuz-5.14.0-362.8.1.el9_3.x86_64)');
    expect(s.rebootPending).toBe(true);
    expect(s.reservedRanges).toBeNull();
    expect(s.lockdown).toBe('integrity');
    expect(s.toolVerdict).toEqual({ ready: true, text: 'kdump: Kdump is operational' });
    expect(s.captureLoaded).toBe(true);
  });
});

describe('planners', () => {
  const guest = (): TargetState => parseProbe('kdump-guest', guestOut, 'root');

  it('loads on a bare host with kexec -p and a derived capture command line', () => {
    const plan = planLoad(guest(), GUEST_CMDLINE, { initrd: '/boot/initrd-capture.img-6.1.0-56-amd64' });
    expect(plan.steps.map((s) => s.argv)).toEqual([
      [
        '/usr/sbin/kexec',
        '-p',
        '/boot/vmlinuz-6.1.0-56-amd64',
        '--initrd=/boot/initrd-capture.img-6.1.0-56-amd64',
        '--append=console=ttyS0 kdt.autoload=0 kdt.dumpargs=-c,-d,31 reset_devices nr_cpus=1 irqpoll usbcore.nousb panic=10',
      ],
      ['cat', '/sys/kernel/kexec_crash_loaded'],
    ]);
    expect(plan.steps[0]!.display).toBe(
      "as root: /usr/sbin/kexec -p /boot/vmlinuz-6.1.0-56-amd64 --initrd=/boot/initrd-capture.img-6.1.0-56-amd64 '--append=console=ttyS0 kdt.autoload=0 kdt.dumpargs=-c,-d,31 reset_devices nr_cpus=1 irqpoll usbcore.nousb panic=10'",
    );
    expect(plan.warnings).toContain('kernel.panic=0: a failed capture would leave the host hung');
  });

  it('refuses to guess a capture initrd', () => {
    expect(() => planLoad(guest(), GUEST_CMDLINE)).toThrow(
      /no initrd for the capture kernel found.*--initrd PATH/s,
    );
  });

  it('adds -s under lockdown', () => {
    const s = { ...guest(), lockdown: 'integrity' as const };
    expect(planLoad(s, GUEST_CMDLINE, { initrd: '/x' }).steps[0]!.argv.slice(0, 3)).toEqual([
      '/usr/sbin/kexec',
      '-p',
      '-s',
    ]);
    expect(planUnload(s).steps[0]!.argv).toEqual(['/usr/sbin/kexec', '-s', '-p', '-u']);
  });

  it('uses the distro tools where they exist', () => {
    const deb = parseProbe('lab1', debianOut, 'root');
    expect(() => planLoad(deb, '')).toThrow(PlanRefused);
    expect(() => planLoad(deb, '')).toThrow(/no memory is reserved/);
    const rhel = parseProbe('rhel9', rhelOut, 'sudo');
    expect(planLoad(rhel, '').steps.map((s) => s.argv)).toEqual([
      ['/usr/bin/kdumpctl', 'restart'],
      ['cat', '/sys/kernel/kexec_crash_loaded'],
    ]);
    expect(planUnload(rhel).steps[0]!.argv).toEqual(['/usr/bin/kdumpctl', 'stop']);
    expect(planUnload(deb).steps[0]!.argv).toEqual(['/usr/sbin/kdump-config', 'unload']);
  });

  it('plans a reservation change per boot stack', () => {
    const deb = parseProbe('lab1', debianOut, 'root');
    const p = planReservation(deb, '256M', { stamp: '20261122T080000' });
    expect(p.after).toBe('reboot');
    expect(p.steps.map((s) => (s.argv[0] === 'sh' ? s.argv[4] : s.argv[0]))).toEqual([
      '/etc/default/grub.d/kdump-tools.cfg',
      '/usr/sbin/update-grub',
    ]);
    expect(p.steps[0]!.argv[5]).toBe(
      '# written by kdump-debug 20261122T080000; the previous file is kept as /etc/default/grub.d/kdump-tools.cfg.kdump-debug.bak-20261122T080000\nGRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT crashkernel=256M"\n',
    );
    const rhel = parseProbe('rhel9', rhelOut, 'sudo');
    expect(planReservation(rhel, 'default', { stamp: 'S' }).steps.map((s) => s.argv.slice(0, 2))).toEqual([
      ['sh', '-c'],
      ['/usr/bin/kdumpctl', 'reset-crashkernel'],
      ['/usr/sbin/grubby', '--info=ALL'],
    ]);
    expect(planReservation(rhel, '512M,high 72M,low', { stamp: 'S' }).steps[2]!.argv).toEqual([
      '/usr/sbin/grubby',
      '--update-kernel=ALL',
      '--args=crashkernel=512M,high crashkernel=72M,low',
    ]);
    expect(() => planReservation(rhel, '256M; reboot')).toThrow(/not a size/);
    expect(() => planReservation(guest(), '256M')).toThrow(/no supported boot loader configuration/);
    expect(formatPlan(p)).toMatch(/then: reboot the host/);
  });

  it('writes boot config atomically with a backup, and verifies', () => {
    const dir = tmp('kdd-atomic-');
    const f = join(dir, 'kdump-tools.cfg');
    writeFileSync(f, 'OLD\n');
    const content = 'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT crashkernel=256M"\n';
    const out = execFileSync('sh', ['-c', ATOMIC_WRITE_SCRIPT, 'sh', f, content, 'STAMP'], {
      encoding: 'utf8',
    });
    expect(out).toContain(`backup: ${f}.kdump-debug.bak-STAMP`);
    expect(readFileSync(f, 'utf8')).toBe(content);
    expect(readFileSync(`${f}.kdump-debug.bak-STAMP`, 'utf8')).toBe('OLD\n');
    expect(readdirSync(dir).sort()).toEqual(['kdump-tools.cfg', 'kdump-tools.cfg.kdump-debug.bak-STAMP']);
  });

  it('gates a test crash', () => {
    const g = guest();
    expect(() => planCrash(g, undefined)).toThrow(/--confirm kdump-guest/);
    expect(() => planCrash(g, 'other-host')).toThrow(/does not match/);
    expect(() => planCrash(g, 'kdump-guest')).toThrow(/no capture kernel is loaded/);
    const armed = { ...g, captureLoaded: true };
    expect(() => planCrash(armed, 'kdump-guest')).toThrow(/kernel.panic=0.*--force/s);
    const p = planCrash(armed, 'kdump-guest', { force: true });
    expect(p.steps[0]!.argv).toEqual([
      'sh',
      '-c',
      'sync; (sleep 2; echo c > /proc/sysrq-trigger) > /dev/null 2>&1 < /dev/null &',
    ]);
    expect(planCrash({ ...armed, sysctl: { ...armed.sysctl, panic: 10 } }, 'kdump-guest').after).toBe(
      'crash-and-reboot',
    );
  });
});

describe('reboot', () => {
  it('needs the typed host name and runs detached', async () => {
    const { planReboot } = await import('../../src/remote/plan');
    const g = parseProbe('kdump-guest', guestOut, 'root');
    expect(() => planReboot(g, undefined)).toThrow(/typed as confirmation/);
    expect(() => planReboot(g, 'x')).toThrow(/does not match/);
    const p = planReboot(g, 'kdump-guest');
    expect(p.steps).toHaveLength(1);
    expect(p.steps[0]!.argv[2]).toMatch(/^sync; \(sleep 2; .*reboot.*\) > \/dev\/null 2>&1 < \/dev\/null &$/);
  });
});

afterAll(() => cleanTmp());
