/**
 * The kdump test guest (scripts/kdump-guest/build.sh: Debian's kernel + busybox, kexec-tools,
 * makedumpfile, dropbear) booted under QEMU with crashkernel= reserved and ssh forwarded on
 * 127.0.0.1 only. The QEMU process is a child of the test and is killed with it.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './sshd';

export const PROJECT_ROOT = resolve(__dirname, '../..');

export interface GuestBuild {
  dir: string;
  kver: string;
  /** sudo password of the guest user kdd. */
  kddPassword: string;
}

/** Build (or reuse from ~/.cache/kdump-debug/guest) the guest from Debian packages. */
export function buildGuest(): GuestBuild {
  const out = execFileSync('bash', [join(PROJECT_ROOT, 'scripts/kdump-guest/build.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 15 * 60_000,
  });
  const dir = out.trim().split('\n').pop()!;
  return {
    dir,
    kver: readFileSync(join(dir, 'kver'), 'utf8').trim(),
    kddPassword: readFileSync(join(dir, 'ssh/kdd-password'), 'utf8').trim(),
  };
}

export interface RunningGuest {
  build: GuestBuild;
  state: string;
  port: number;
  /** ssh_config with Host "kdump-guest" (root, generated key, known host key, StrictHostKeyChecking yes). */
  sshConfig: string;
  console(): string;
  stop(): Promise<void>;
}

export async function startGuest(
  build: GuestBuild,
  options: { mem?: string; crashkernel?: string; smp?: number } = {},
): Promise<RunningGuest> {
  const state = mkdtempSync(join(tmpdir(), 'kdd-guest-'));
  const port = await freePort();
  const disk = join(state, 'var-crash.img');
  execFileSync('truncate', ['-s', '1G', disk]);
  execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'var-crash', disk]);
  const hostKey = readFileSync(join(build.dir, 'ssh/host_ed25519.pub'), 'utf8').trim();
  writeFileSync(join(state, 'known_hosts'), `[127.0.0.1]:${port} ${hostKey}\n`);
  const sshConfig = join(state, 'ssh_config');
  writeFileSync(
    sshConfig,
    [
      'Host kdump-guest',
      '  HostName 127.0.0.1',
      `  Port ${port}`,
      '  User root',
      `  IdentityFile ${join(build.dir, 'ssh/id_ed25519')}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${join(state, 'known_hosts')}`,
      '  GlobalKnownHostsFile /dev/null',
      '  StrictHostKeyChecking yes',
      // non-root users of the guest: kdd needs its password for sudo, kdn has sudo NOPASSWD
      ...['kdd', 'kdn'].flatMap((u) => [
        `Host kdump-guest-${u}`,
        '  HostName 127.0.0.1',
        `  Port ${port}`,
        `  User ${u}`,
        `  IdentityFile ${join(build.dir, 'ssh/id_ed25519')}`,
        '  IdentitiesOnly yes',
        `  UserKnownHostsFile ${join(state, 'known_hosts')}`,
        '  GlobalKnownHostsFile /dev/null',
        '  StrictHostKeyChecking yes',
      ]),
      '',
    ].join('\n'),
  );
  const consoleLog = join(state, 'console.log');
  const args = [
    '-accel',
    process.env.KDD_QEMU_ACCEL ?? 'tcg',
    '-cpu',
    'qemu64',
    '-m',
    options.mem ?? '768M',
    '-smp',
    String(options.smp ?? 2),
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    `file:${consoleLog}`,
    '-kernel',
    join(build.dir, 'vmlinuz'),
    '-initrd',
    join(build.dir, 'initramfs.img'),
    '-append',
    `console=ttyS0 crashkernel=${options.crashkernel ?? '192M'} kdt.autoload=0 kdt.dumpargs=-c,-d,31`,
    '-drive',
    `file=${disk},format=raw,if=virtio`,
    '-netdev',
    `user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:${port}-:22`,
    '-device',
    'virtio-net-pci,netdev=n0',
    '-device',
    'virtio-rng-pci',
    '-device',
    'vmcoreinfo',
    '-no-shutdown',
  ];
  const child: ChildProcess = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    stderr += d;
  });
  const read = () => (existsSync(consoleLog) ? readFileSync(consoleLog, 'utf8') : '');
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(state, { recursive: true, force: true });
  };
  // wait for the guest's own "ssh ready" line, then for a first ssh round trip
  const t0 = Date.now();
  while (!read().includes('KDT-SSH-READY')) {
    if (child.exitCode !== null) throw new Error(`qemu exited (${child.exitCode}): ${stderr}`);
    if (Date.now() - t0 > 300_000) {
      await stop();
      throw new Error(`the guest did not come up in 300 s; console:\n${read().slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return { build, state, port, sshConfig, console: read, stop };
}
