/**
 * End to end on a real kernel: Debian's kernel in a QEMU guest with crashkernel= reserved, an ssh
 * server forwarded on 127.0.0.1 only. Through `vmcore target` (the same core the extension uses):
 * read the state, load the capture kernel, trigger a test crash, wait for the new boot, fetch the
 * dump (sha256-verified) and open it with the dump engine: the crashing CPU's registers and the
 * panic message must be in it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDump } from '../../src/dump/open';
import { findPanicMessage, formatKernelLog, panicCpuFromLog, readKernelLog } from '../../src/kernel/dmesg';
import { type CliIo, targetCommand } from '../../src/remote/cli/target';
import { privateDir, SshSession } from '../../src/remote/ssh';
import { loadKallsyms } from '../../src/symbols/kallsyms';
import { formatLocation } from '../../src/symbols/symbolTable';
import { KernelAddressSpace } from '../../src/translate/addressSpace';
import { buildGuest, type RunningGuest, startGuest } from '../support/qemuGuest';
import { cleanTmp, tmp } from '../support/tmp';

function captureIo(): CliIo & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    interactive: false,
    out(t: string) {
      io.stdout += t;
    },
    err(t: string) {
      io.stderr += t;
    },
  };
  return io;
}

const HOST = 'kdump-guest';
const timings: Record<string, number> = {};

describe('remote kdump end to end on a QEMU guest', () => {
  let guest: RunningGuest;
  let cfg: string[];
  const run = async (...args: string[]) => runWith(captureIo(), ...args);
  const runWith = async (io: ReturnType<typeof captureIo>, ...args: string[]) => {
    const code = await targetCommand([...args, '--ssh-config', guest.sshConfig], io);
    return { code, ...io };
  };
  const status = async () => {
    const r = await run('status', HOST, '--json');
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as Record<string, unknown>[])[0]!;
  };

  beforeAll(async () => {
    let t = Date.now();
    const build = buildGuest();
    timings.buildSeconds = (Date.now() - t) / 1000;
    t = Date.now();
    guest = await startGuest(build);
    timings.bootSeconds = (Date.now() - t) / 1000;
    cfg = ['--ssh-config', guest.sshConfig];
    void cfg;
  });
  afterAll(async () => {
    console.log('timings (s):', JSON.stringify(timings));
    await guest?.stop();
    cleanTmp();
    rmSync(privateDir(), { recursive: true, force: true }); // the CLI's control-socket directory
  });

  let before: Record<string, unknown>;
  it('reads the real kernel state over ssh', async () => {
    const t = Date.now();
    before = await status();
    timings.statusSeconds = (Date.now() - t) / 1000;
    expect(before).toMatchObject({
      host: HOST,
      reachable: true,
      hostname: 'kdump-guest',
      kernelRelease: guest.build.kver,
      arch: 'x86_64',
      root: 'root',
      flavour: 'none',
      crashkernelCmdline: 'crashkernel=192M',
      crashkernelBootloader: null,
      rebootPending: false,
      reservedBytes: 192 * 1024 * 1024,
      captureLoaded: false,
      kexecLoadDisabled: false,
      service: null,
      lockdown: 'none',
      sysctl: { panic: 0, panic_on_oops: 0 },
      dumpDir: '/var/crash',
      dumps: [],
    });
    // root reads the real range from /proc/iomem; it matches crash_size
    const [range] = before.reservedRanges as { start: string; end: string }[];
    expect(Number(BigInt(range!.end) - BigInt(range!.start) + 1n)).toBe(192 * 1024 * 1024);
    expect(before.bootId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses to change the boot loader where there is none, and to crash while nothing is loaded', async () => {
    const r = await run('reserve', HOST, '256M', '--dry-run');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no supported boot loader configuration/);
    const c = await run('crash', HOST, '--confirm', HOST, '--force');
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/no capture kernel is loaded/);
  });

  it('changes crashkernel= in a grub defaults file atomically, with a backup, and re-reads it', async () => {
    // give the guest a Debian-style /etc/default/grub (it boots without a boot loader)
    const root = new SshSession(HOST, {
      configFile: guest.sshConfig,
      controlDir: tmp('kdd-cm-'),
    });
    try {
      const w = await root.run([
        'sh',
        '-c',
        'mkdir -p /etc/default && printf "%s\\n" "GRUB_DEFAULT=0" "GRUB_CMDLINE_LINUX_DEFAULT=\\"quiet\\"" "GRUB_CMDLINE_LINUX=\\"\\"" > /etc/default/grub',
      ]);
      expect(w.code, w.stderr).toBe(0);
      const s0 = await status();
      expect(s0).toMatchObject({
        crashkernelBootloader: '',
        bootloaderSource: '/etc/default/grub',
        rebootPending: true,
      });
      const r1 = await run('reserve', HOST, '192M');
      expect(r1.code, r1.stderr).toBe(0);
      expect(r1.stdout).toContain('write /etc/default/grub.d/kdump-debug.cfg (backup kept, atomic rename)');
      expect(r1.stdout).toContain(
        'next boot: crashkernel=192M (from /etc/default/grub.d/kdump-debug.cfg); running: crashkernel=192M',
      );
      expect((await status()).rebootPending).toBe(false);
      const r2 = await run('reserve', HOST, '2G-64G:256M,64G-:512M');
      expect(r2.code, r2.stderr).toBe(0);
      expect(r2.stdout).toContain('reboot the host for it to take effect');
      const s2 = await status();
      expect(s2).toMatchObject({
        crashkernelBootloader: 'crashkernel=2G-64G:256M,64G-:512M',
        rebootPending: true,
      });
      const files = await root.run([
        'sh',
        '-c',
        'cd /etc/default/grub.d && ls -A && cat kdump-debug.cfg.kdump-debug.bak-*',
      ]);
      expect(files.stdout).toMatch(/^kdump-debug\.cfg\nkdump-debug\.cfg\.kdump-debug\.bak-[0-9T]+\n/);
      expect(files.stdout).toContain('crashkernel=192M"'); // the backup holds the previous value
      expect(files.stdout).not.toMatch(/\.kdump-debug\.[A-Za-z0-9]{6}\n/); // no temp file left
      const bad = await run('reserve', HOST, '256M$(reboot)');
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/not a size/);
      // put it back so the rest of the test sees no pending reboot
      await root.run(['rm', '-rf', '/etc/default']);
    } finally {
      await root.disconnect();
    }
  });

  it('loads, unloads and reloads the capture kernel with kexec -p', async () => {
    const initrd = `/boot/initrd-capture.img-${guest.build.kver}`;
    const t = Date.now();
    const load = await run('load', HOST, '--initrd', initrd);
    timings.loadSeconds = (Date.now() - t) / 1000;
    expect(load.code, load.stderr).toBe(0);
    expect(load.stdout).toContain(`/usr/sbin/kexec -p /boot/vmlinuz-${guest.build.kver} --initrd=${initrd}`);
    expect(load.stdout).toContain(`${HOST}: ok (1)`);
    expect((await status()).captureLoaded).toBe(true);
    const unload = await run('unload', HOST);
    expect(unload.code, unload.stderr).toBe(0);
    expect(unload.stdout).toContain('/usr/sbin/kexec -p -u');
    expect((await status()).captureLoaded).toBe(false);
    expect((await run('load', HOST, '--initrd', initrd)).code).toBe(0);
    expect((await status()).captureLoaded).toBe(true);
  });

  it('works as non-root users: sudo NOPASSWD, sudo with a password (on stdin), a wrong password', async () => {
    // kdn: sudo -n works, so the probe runs as root (real iomem addresses)
    const kdn = await run('status', 'kdump-guest-kdn', '--json');
    expect(kdn.code, kdn.stderr).toBe(0);
    const [s1] = JSON.parse(kdn.stdout) as Record<string, unknown>[];
    expect(s1).toMatchObject({ root: 'sudo', captureLoaded: true, reservedRanges: before.reservedRanges });
    // kdd without anyone to ask for the password: read as the user; /proc/iomem hides the addresses
    const kddNoPw = await run('status', 'kdump-guest-kdd', '--json');
    const [s2] = JSON.parse(kddNoPw.stdout) as Record<string, unknown>[];
    expect(s2).toMatchObject({
      root: 'sudo-password',
      reservedRanges: null,
      reservedBytes: 192 * 1024 * 1024,
    });
    // kdd with the password asked once per command: root work through sudo -S
    const asked: string[] = [];
    const withPassword = (pw: string) => {
      const io = captureIo();
      return Object.assign(io, {
        askSecret: async (prompt: string) => {
          asked.push(prompt);
          return pw;
        },
      });
    };
    const unload = await runWith(withPassword(guest.build.kddPassword), 'unload', 'kdump-guest-kdd');
    expect(unload.code, unload.stderr).toBe(0);
    expect(asked).toEqual(['sudo password for kdump-guest-kdd']);
    expect((await status()).captureLoaded).toBe(false);
    const initrd = `/boot/initrd-capture.img-${guest.build.kver}`;
    const load = await runWith(
      withPassword(guest.build.kddPassword),
      'load',
      'kdump-guest-kdd',
      '--initrd',
      initrd,
    );
    expect(load.code, load.stderr).toBe(0);
    const [s3] = JSON.parse(
      (await runWith(withPassword(guest.build.kddPassword), 'status', 'kdump-guest-kdd', '--json')).stdout,
    ) as Record<string, unknown>[];
    expect(s3).toMatchObject({
      root: 'sudo-password',
      captureLoaded: true,
      reservedRanges: before.reservedRanges,
    });
    // a wrong password: refused with a clear message, nothing changed
    const wrong = await runWith(withPassword('not-the-password'), 'unload', 'kdump-guest-kdd');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/sudo password was not accepted/);
    expect((await status()).captureLoaded).toBe(true);
  });

  let newDump: string;
  it('crashes the guest only with the typed host name, waits for the new boot, finds the new dump', async () => {
    const wrong = await run('crash', HOST, '--confirm', 'kdump-guest2', '--force');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/does not match/);
    const t = Date.now();
    const r = await run('crash', HOST, '--confirm', HOST, '--force', '--timeout', '300');
    timings.crashToBackSeconds = (Date.now() - t) / 1000;
    expect(r.code, `${r.stdout}\n${r.stderr}\n${guest.console().slice(-2000)}`).toBe(0);
    const m = /new dump: (\/var\/crash\/[0-9]{12}\/dump\.[0-9]{12}) .* complete/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    newDump = m![1]!;
    expect(guest.console()).toContain('KDUMP-SAVED');
    const after = await status();
    expect(after.bootId).not.toBe(before.bootId);
    expect(after.captureLoaded).toBe(false); // a fresh boot: nothing loaded until someone loads it
    const dumps = after.dumps as { path: string; complete: boolean; bytes: number; dmesg?: string }[];
    expect(dumps).toHaveLength(1);
    expect(dumps[0]).toMatchObject({ path: newDump, complete: true });
    expect(dumps[0]!.bytes).toBeGreaterThan(1024 * 1024);
  });

  let localDump: string;
  let localDir: string;
  it('fetches the dump with its dmesg, sha256-verified', async () => {
    localDir = tmp('kdd-fetched-');
    const t = Date.now();
    const r = await run('fetch', HOST, '-o', localDir);
    timings.fetchSeconds = (Date.now() - t) / 1000;
    expect(r.code, r.stderr).toBe(0);
    const stamp = newDump.split('/')[3]!;
    localDump = join(localDir, `${HOST}-${stamp}-dump.${stamp}`);
    expect(readdirSync(localDir).sort()).toEqual([
      `${HOST}-${stamp}-dmesg.${stamp}`,
      `${HOST}-${stamp}-dump.${stamp}`,
    ]);
    const sha = execFileSync('sha256sum', [localDump], { encoding: 'utf8' }).split(' ')[0]!;
    expect(r.stdout).toContain(`sha256 ${sha}`);
    const dmesg = readFileSync(join(localDir, `${HOST}-${stamp}-dmesg.${stamp}`), 'utf8');
    expect(dmesg).toContain('Kernel panic - not syncing: sysrq triggered crash');
    expect(existsSync(`${localDump}.part`)).toBe(false);
    // the guest's /boot has Debian's placeholder System.map (the real one is in the -dbg package)
    expect(r.stdout).toContain(
      `System.map: /boot/System.map-${guest.build.kver} is a 83-byte placeholder, not a symbol map`,
    );
  });

  it('opens the dump: crashing CPU registers, VMCOREINFO and the panic message', async () => {
    const dump = await openDump(localDump);
    try {
      expect(dump.format).toBe('kdump');
      expect(dump.arch.name).toBe('x86_64');
      expect(dump.vmcoreinfo?.osRelease).toBe(guest.build.kver);
      expect(dump.prstatus).toHaveLength(2);
      const space = await KernelAddressSpace.create(dump);
      const syms = await loadKallsyms(space, dump.vmcoreinfo);
      const where = dump.prstatus.map((p) =>
        formatLocation(syms.symbolize(p.registers.get('rip')!), p.registers.get('rip')!),
      );
      // the CPU that wrote "c" to sysrq-trigger saved its registers in __crash_kexec (crash_setup_regs);
      // the other one was stopped by the NMI where it was (idle)
      const crashing = where.findIndex((w) => w.startsWith('__crash_kexec+'));
      expect(crashing, where.join(', ')).toBeGreaterThanOrEqual(0);
      const regs = dump.prstatus[crashing]!.registers;
      expect(regs.get('rip')! >= 0xffffffff80000000n).toBe(true); // kernel text
      expect(regs.get('rsp')! >= 0xffff800000000000n).toBe(true); // kernel half: the task's kernel stack
      expect(regs.get('cs')! & 3n).toBe(0n); // ring 0
      expect(dump.prstatus[crashing]!.pid).toBeGreaterThan(0); // the shell that wrote to sysrq-trigger
      // the kernel log read from the dump by the project's reader, as makedumpfile --dump-dmesg prints it
      const log = await readKernelLog(space, dump.vmcoreinfo);
      expect(log.format).toBe('lockless');
      expect(findPanicMessage(log)?.message).toBe('Kernel panic - not syncing: sysrq triggered crash');
      const lines = formatKernelLog(log);
      expect(lines.some((l) => l.endsWith('sysrq: Trigger a crash'))).toBe(true);
      // the log agrees with the dmesg file the capture kernel saved beside the dump
      const saved = readFileSync(localDump.replace(/dump\.([0-9]+)$/, 'dmesg.$1'), 'utf8');
      const panicLine = lines.find((l) => l.includes('Kernel panic - not syncing'))!;
      expect(saved).toContain(panicLine);
      // and names the same CPU whose registers are in __crash_kexec
      const cpuFromLog = panicCpuFromLog(log);
      expect(cpuFromLog).toBeDefined();
    } finally {
      await dump.close();
    }
  });
});
