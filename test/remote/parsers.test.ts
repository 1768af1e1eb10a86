import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  evalShellAssignments,
  grubbyEntryFor,
  kdumpConfPath,
  parseDumpListing,
  parseEfiVarByte,
  parseGrubbyInfo,
  parseGrubDefaults,
  parseIomemCrashKernel,
  parseKdumpConfigShow,
  parseKdumpctlStatus,
  parseLockdown,
  parseOsRelease,
  suseSaveDir,
} from '../../src/remote/parsers';

const FIX = join(__dirname, 'fixtures');

describe('state-source parsers', () => {
  it('reads /proc/iomem Crash kernel lines, root and non-root', () => {
    // the QEMU guest as root
    expect(parseIomemCrashKernel('  22000000-2dffffff : Crash kernel\n')).toEqual({
      ranges: [{ start: 0x22000000n, end: 0x2dffffffn }],
      hidden: false,
    });
    // a ,high + ,low machine: two lines
    const two = parseIomemCrashKernel(
      '00100000-bffdffff : System RAM\n  3e000000-3fffffff : Crash kernel\n100000000-23fffffff : System RAM\n  22b000000-23affffff : Crash kernel\n',
    );
    expect(two.ranges).toHaveLength(2);
    // non-root readers see zeros since Linux 4.6
    expect(parseIomemCrashKernel('  00000000-00000000 : Crash kernel\n')).toEqual({
      ranges: [],
      hidden: true,
    });
  });

  it('reads lockdown and efivars', () => {
    expect(parseLockdown('[none] integrity confidentiality\n')).toBe('none');
    expect(parseLockdown('none [integrity] confidentiality\n')).toBe('integrity');
    expect(parseLockdown(undefined)).toBeUndefined();
    // od -An -t u1 of SecureBoot-8be4df61-…: attributes 6 0 0 0, value 1
    expect(parseEfiVarByte(' 6   0   0   0   1\n')).toBe(1);
    expect(parseEfiVarByte(' 6   0   0   0\n')).toBeUndefined();
  });

  it('evaluates /etc/default/grub and the kdump-tools drop-in like update-grub', () => {
    const g = parseGrubDefaults([
      {
        path: '/etc/default/grub.d/kdump-tools.cfg',
        text: 'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT crashkernel=384M-:128M"\n',
      },
      {
        path: '/etc/default/grub',
        text: [
          '# If you change this file, run update-grub afterwards',
          'GRUB_DEFAULT=0',
          'GRUB_TIMEOUT=5',
          'GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`',
          'GRUB_CMDLINE_LINUX_DEFAULT="quiet"',
          'GRUB_CMDLINE_LINUX=""',
        ].join('\n'),
      },
    ]);
    expect(g.linuxDefault).toBe('quiet crashkernel=384M-:128M');
    expect(g.crashkernel).toBe('crashkernel=384M-:128M');
    expect(g.crashkernelFiles).toEqual(['/etc/default/grub.d/kdump-tools.cfg']);
  });

  it('handles quoting in shell-variable files', () => {
    const { vars } = evalShellAssignments([
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell text, not a template
      { path: 'x', text: 'A=\'single $X\'\nexport B="b \\"q\\" ${A}"\nC=bare#x\n# D=comment\nE=$(uname)\n' },
    ]);
    expect(vars.get('A')).toBe('single $X');
    expect(vars.get('B')).toBe('b "q" single $X');
    expect(vars.get('C')).toBe('bare#x');
    expect(vars.has('D')).toBe(false);
    expect(vars.has('E')).toBe(false);
  });

  it('reads grubby --info=ALL and picks the running kernel', () => {
    const text = [
      'index=0',
      'kernel="/boot/vmlinuz-5.14.0-362.8.1.el9_3.x86_64"',
      'args="ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap"',
      'root="/dev/mapper/rhel-root"',
      'initrd="/boot/initramfs-5.14.0-362.8.1.el9_3.x86_64.img"',
      'title="Red Hat Enterprise Linux (5.14.0-362.8.1.el9_3.x86_64) 9.3 (Plow)"',
      'id="ffffffffffffffffffffffffffffffff-5.14.0-362.8.1.el9_3.x86_64"',
      'index=1',
      'kernel="/boot/vmlinuz-0-rescue-ffffffffffffffffffffffffffffffff"',
      'args="ro resume=/dev/mapper/rhel-swap"',
      'root="/dev/mapper/rhel-root"',
    ].join('\n');
    const entries = parseGrubbyInfo(text);
    expect(entries.map((e) => e.index)).toEqual([0, 1]);
    expect(entries[1]!.args).toBe('ro resume=/dev/mapper/rhel-swap');
    expect(grubbyEntryFor(entries, '5.14.0-362.8.1.el9_3.x86_64')!.index).toBe(0);
  });

  it('reads kdumpctl status (messages on stderr, exit 0/3)', () => {
    const ok = parseKdumpctlStatus(
      'kdump: Kdump is operational\nkdump: Notice: No vmcore creation test performed!\n',
      0,
    );
    expect(ok.operational).toBe(true);
    expect(ok.lastTest).toBe('Notice: No vmcore creation test performed!');
    expect(parseKdumpctlStatus('kdump: Kdump is not operational\n', 3).operational).toBe(false);
    expect(parseKdumpctlStatus('', 3).operational).toBe(false);
  });

  it('reads kdump-config show', () => {
    const show = parseKdumpConfigShow(
      [
        'DUMP_MODE:              kdump',
        'USE_KDUMP:              1',
        'KDUMP_COREDIR:          /var/crash',
        'crashkernel addr: 0x2b000000',
        '   /var/lib/kdump/vmlinuz: symbolic link to /boot/vmlinuz-6.1.0-18-amd64',
        'kdump initrd: ',
        '   /var/lib/kdump/initrd.img: symbolic link to /var/lib/kdump/initrd.img-6.1.0-18-amd64',
        'current state:    ready to kdump',
        '',
        'kexec command:',
        '  /sbin/kexec -p --command-line="BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=UUID=1 ro quiet reset_devices systemd.unit=kdump-tools-dump.service nr_cpus=1 irqpoll usbcore.nousb" --initrd=/var/lib/kdump/initrd.img /var/lib/kdump/vmlinuz',
      ].join('\n'),
    );
    expect(show.ready).toBe(true);
    expect(show.coreDir).toBe('/var/crash');
    expect(show.fields.USE_KDUMP).toBe('1');
    expect(show.kexecCommand).toMatch(/^\/sbin\/kexec -p /);
    expect(parseKdumpConfigShow('current state:    Not ready to kdump\n').ready).toBe(false);
  });

  it('reads dump targets from the distro configs', () => {
    expect(
      kdumpConfPath('path /var/crash\ncore_collector makedumpfile -l --message-level 7 -d 31\n'),
    ).toEqual({
      path: '/var/crash',
      local: true,
    });
    expect(
      kdumpConfPath('ssh kdump@dumps.example\nsshkey /root/.ssh/kdump_id_rsa\npath /dumps\n').local,
    ).toBe(false);
    expect(suseSaveDir('file:///var/crash')).toBe('/var/crash');
    expect(suseSaveDir('sftp://dumps/x')).toBeUndefined();
  });

  it('lists dumps from the QEMU guest, complete and incomplete', () => {
    const dumps = parseDumpListing(readFileSync(join(FIX, 'qemu-guest-dumps.txt'), 'utf8'));
    expect(dumps).toEqual([
      {
        path: '/var/crash/202611220001/dump-incomplete',
        bytes: 4096,
        time: '2026-11-22T08:05:56.000Z',
        complete: false,
      },
      {
        path: '/var/crash/202611220805/dump.202611220805',
        bytes: 18328055,
        time: '2026-11-22T08:05:39.000Z',
        complete: true,
        dmesg: '/var/crash/202611220805/dmesg.202611220805',
      },
    ]);
  });

  it('recognises RHEL and SUSE dump names', () => {
    const dumps = parseDumpListing(
      [
        '52428800 1700000000 /var/crash/127.0.0.1-2023-11-14-22:13:20/vmcore',
        '81234 1700000000 /var/crash/127.0.0.1-2023-11-14-22:13:20/vmcore-dmesg.txt',
        '1234 1700000100 /var/crash/127.0.0.1-2023-11-14-22:15:00/vmcore-incomplete',
        '99 1700000000 /var/crash/kexec_cmd',
      ].join('\n'),
    );
    expect(dumps.map((d) => [d.path.split('/').pop(), d.complete, d.dmesg?.split('/').pop()])).toEqual([
      ['vmcore-incomplete', false, undefined],
      ['vmcore', true, 'vmcore-dmesg.txt'],
    ]);
  });

  it('reads os-release', () => {
    expect(parseOsRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n')).toEqual({
      PRETTY_NAME: 'Debian GNU/Linux 12 (bookworm)',
      ID: 'debian',
    });
  });
});
