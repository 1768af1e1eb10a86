/**
 * A real OpenSSH server for tests: `sshd -D -e -f CONFIG` on 127.0.0.1 and a free port, with host and
 * user keys generated in a temp dir and a config of its own. No system configuration is touched
 * (except that sshd insists on its privilege-separation directory /run/sshd existing).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SSHD = ['/usr/sbin/sshd', '/usr/bin/sshd'].find((p) => existsSync(p));

export interface TestSshd {
  dir: string;
  port: number;
  /** The ports of {@link SshdOptions.extraPorts}, with known_hosts entries of their own. */
  extraPorts: number[];
  /** ssh_config with Host "testhost" (key auth, known host) for the client side. */
  config: string;
  hostKeyPub: string;
  /** `SHA256:…` of the server's host key. */
  fingerprint: string;
  userKey: string;
  knownHosts: string;
  /** Append more client config. */
  addHost(block: string): void;
  log(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function waitPort(port: number, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = new Socket();
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
      s.connect(port, '127.0.0.1');
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not listen on 127.0.0.1:${port} within ${ms} ms`);
}

export function keygen(path: string, passphrase = '', comment = 'kdump-debug-test'): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', comment, '-f', path]);
}

export function fingerprintOf(pubPath: string): string {
  const out = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubPath], { encoding: 'utf8' });
  return /(SHA256:\S+)/.exec(out)![1]!;
}

export interface SshdOptions {
  /** Listen on this many more ports (same host key, known_hosts entries written), e.g. for `Match LocalPort`. */
  extraPorts?: number;
  /** Lines appended to sshd_config (Match blocks go last), given the extra ports. */
  sshdConfig?: (extraPorts: number[]) => string[];
  /** Serve the SFTP subsystem (default true); false is a server scp cannot copy from. */
  sftp?: boolean;
}

export async function startSshd(options: SshdOptions = {}): Promise<TestSshd> {
  if (!SSHD)
    throw new Error(
      'sshd not found: install the Debian package openssh-server (apt-get install -y openssh-server)',
    );
  const dir = mkdtempSync(join(tmpdir(), 'kdd-sshd-'));
  const port = await freePort();
  const extraPorts: number[] = [];
  for (let i = 0; i < (options.extraPorts ?? 0); i++) {
    let p = await freePort();
    while (p === port || extraPorts.includes(p)) p = await freePort();
    extraPorts.push(p);
  }
  keygen(join(dir, 'host_ed25519'));
  keygen(join(dir, 'id_ed25519'));
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'id_ed25519.pub')));
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const sshdConfig = join(dir, 'sshd_config');
  writeFileSync(
    sshdConfig,
    [
      `Port ${port}`,
      ...extraPorts.map((p) => `Port ${p}`),
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_ed25519')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      'MaxSessions 50',
      'MaxStartups 50',
      ...(options.sftp === false ? [] : ['Subsystem sftp internal-sftp']),
      'LogLevel VERBOSE',
      ...(options.sshdConfig?.(extraPorts) ?? []),
      '',
    ].join('\n'),
  );
  const knownHosts = join(dir, 'known_hosts');
  const hostKeyPub = readFileSync(join(dir, 'host_ed25519.pub'), 'utf8')
    .trim()
    .split(' ')
    .slice(0, 2)
    .join(' ');
  writeFileSync(knownHosts, [port, ...extraPorts].map((p) => `[127.0.0.1]:${p} ${hostKeyPub}\n`).join(''));
  const config = join(dir, 'ssh_config');
  writeFileSync(
    config,
    [
      'Host testhost',
      '  HostName 127.0.0.1',
      `  Port ${port}`,
      '  User root',
      `  IdentityFile ${join(dir, 'id_ed25519')}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${knownHosts}`,
      '  GlobalKnownHostsFile /dev/null',
      '  StrictHostKeyChecking yes',
      '',
    ].join('\n'),
  );
  let log = '';
  const child: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', sshdConfig], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    log += d;
  });
  for (const p of [port, ...extraPorts]) {
    await waitPort(p, 10_000).catch((e) => {
      child.kill();
      throw new Error(`${(e as Error).message}\n${log}`);
    });
  }
  return {
    dir,
    port,
    extraPorts,
    config,
    hostKeyPub,
    fingerprint: fingerprintOf(join(dir, 'host_ed25519.pub')),
    userKey: join(dir, 'id_ed25519'),
    knownHosts,
    addHost(block: string) {
      writeFileSync(config, `${readFileSync(config, 'utf8')}${block}\n`);
    },
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
