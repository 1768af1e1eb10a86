/**
 * `vmcore target …` against the real sshd of test/support/sshd.ts (this machine as the target):
 * fleet status with an unreachable host, dumps and fetch from a dump directory, and the crash gate.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliIo, targetCommand } from '../../src/remote/cli/target';
import { privateDir } from '../../src/remote/ssh';
import { SSHD, startSshd, type TestSshd } from '../support/sshd';
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

describe.skipIf(SSHD === undefined)('vmcore target against a real sshd', () => {
  let sshd: TestSshd;
  let dumpDir: string;
  beforeAll(async () => {
    sshd = await startSshd();
    sshd.addHost(`Host closedport\n  HostName 127.0.0.1\n  Port 1\n  User root\n  ConnectTimeout 3\n`);
    sshd.addHost(
      `Host second\n  HostName localhost\n  HostKeyAlias [127.0.0.1]:${sshd.port}\n  Port ${sshd.port}\n  User root\n  IdentityFile ${sshd.userKey}\n  IdentitiesOnly yes\n  UserKnownHostsFile ${sshd.knownHosts}\n  GlobalKnownHostsFile /dev/null\n`,
    );
    // a Debian-style dump directory: one complete dump with its dmesg, one the capture kernel left unfinished
    dumpDir = tmp('kdd-crash-');
    mkdirSync(join(dumpDir, '202611220805'));
    mkdirSync(join(dumpDir, '202611220930'));
    writeFileSync(join(dumpDir, '202611220805', 'dump.202611220805'), randomBytes(2 * 1024 * 1024 + 7));
    writeFileSync(join(dumpDir, '202611220805', 'dmesg.202611220805'), '[ 1.0] sysrq: Trigger a crash\n');
    writeFileSync(join(dumpDir, '202611220930', 'dump-incomplete'), randomBytes(1000));
    utimesSync(join(dumpDir, '202611220805', 'dump.202611220805'), 1795334739, 1795334739);
    utimesSync(join(dumpDir, '202611220930', 'dump-incomplete'), 1795339800, 1795339800);
  });
  afterAll(async () => {
    await sshd?.stop();
    cleanTmp();
    rmSync(privateDir(), { recursive: true, force: true }); // the CLI's own control-socket directory
  });

  it('status --json over a fleet: one result per host, unreachable ones marked', async () => {
    const io = captureIo();
    const code = await targetCommand(
      [
        'status',
        'testhost',
        'closedport',
        'second',
        '--json',
        '--concurrency',
        '2',
        '--ssh-config',
        sshd.config,
      ],
      io,
    );
    expect(code).toBe(1);
    const out = JSON.parse(io.stdout) as Record<string, unknown>[];
    expect(out.map((h) => [h.host, h.reachable])).toEqual([
      ['testhost', true],
      ['closedport', false],
      ['second', true],
    ]);
    const me = out[0]!;
    expect(me.kernelRelease).toBe(execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim());
    expect(me.bootId).toBe(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    expect(me.root).toBe('root');
    for (const key of [
      'flavour',
      'crashkernelCmdline',
      'crashkernelBootloader',
      'rebootPending',
      'reservedBytes',
      'captureLoaded',
      'service',
      'lockdown',
      'sysctl',
      'dumps',
    ]) {
      expect(me).toHaveProperty(key);
    }
    const sysctl = (name: string) =>
      existsSync(`/proc/sys/kernel/${name}`)
        ? Number(readFileSync(`/proc/sys/kernel/${name}`, 'utf8'))
        : null;
    expect(me.sysctl).toEqual({
      panic: sysctl('panic'),
      panic_on_oops: sysctl('panic_on_oops'),
      sysrq: sysctl('sysrq'),
    });
    expect(String(out[1]!.error)).toMatch(/Connection refused/);
  });

  it('dumps --json lists complete and incomplete dumps', async () => {
    const io = captureIo();
    expect(
      await targetCommand(['dumps', 'testhost', '--dir', dumpDir, '--json', '--ssh-config', sshd.config], io),
    ).toBe(0);
    expect(JSON.parse(io.stdout)).toEqual([
      {
        path: join(dumpDir, '202611220930', 'dump-incomplete'),
        bytes: 1000,
        time: '2026-11-22T09:30:00.000Z',
        complete: false,
      },
      {
        path: join(dumpDir, '202611220805', 'dump.202611220805'),
        bytes: 2 * 1024 * 1024 + 7,
        time: '2026-11-22T08:05:39.000Z',
        complete: true,
        dmesg: join(dumpDir, '202611220805', 'dmesg.202611220805'),
      },
    ]);
  });

  it('fetch takes the newest complete dump and its dmesg, verified', async () => {
    const out = tmp('kdd-out-');
    const io = captureIo();
    expect(
      await targetCommand(
        ['fetch', 'testhost', '-o', out, '--dir', dumpDir, '--ssh-config', sshd.config],
        io,
      ),
    ).toBe(0);
    expect(readdirSync(out).sort()).toEqual([
      'testhost-202611220805-dmesg.202611220805',
      'testhost-202611220805-dump.202611220805',
    ]);
    const want = createHash('sha256')
      .update(readFileSync(join(dumpDir, '202611220805', 'dump.202611220805')))
      .digest('hex');
    expect(io.stdout).toContain(`sha256 ${want}`);
    const inc = captureIo();
    expect(
      await targetCommand(
        ['fetch', 'testhost', 'dump-incomplete', '-o', out, '--dir', dumpDir, '--ssh-config', sshd.config],
        inc,
      ),
    ).toBe(1);
    expect(inc.stderr).toMatch(/incomplete dump/);
  });

  it('refuses to crash without the typed host name, and on a host with nothing loaded', async () => {
    const a = captureIo();
    expect(await targetCommand(['crash', 'testhost', '--ssh-config', sshd.config], a)).toBe(1);
    expect(a.stderr).toMatch(/--confirm testhost/);
    const b = captureIo();
    expect(
      await targetCommand(['crash', 'testhost', '--confirm', 'second', '--ssh-config', sshd.config], b),
    ).toBe(1);
    expect(b.stderr).toMatch(/does not match/);
    const c = captureIo();
    expect(
      await targetCommand(
        ['crash', 'testhost', '--confirm', 'testhost', '--force', '--ssh-config', sshd.config],
        c,
      ),
    ).toBe(1);
    expect(c.stderr).toMatch(/no capture kernel is loaded|no memory is reserved/);
  });

  it('is wired into the built vmcore CLI (dist/cli.js target …)', () => {
    const cli = join(__dirname, '../../dist/cli.js');
    const out = execFileSync(
      process.execPath,
      [cli, 'target', 'status', 'testhost', '--json', '--ssh-config', sshd.config],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const [me] = JSON.parse(out) as { host: string; reachable: boolean; bootId: string }[];
    expect(me).toMatchObject({ host: 'testhost', reachable: true });
    expect(me!.bootId).toBe(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    expect(execFileSync(process.execPath, [cli, '--help'], { encoding: 'utf8' })).toMatch(
      /^ {2}target {2}remote kdump over SSH/m,
    );
  });

  it('usage errors exit 2', async () => {
    const io = captureIo();
    expect(await targetCommand(['status'], io)).toBe(2);
    expect(io.stderr).toMatch(/no host given/);
    expect(await targetCommand(['frobnicate'], captureIo())).toBe(2);
    expect(await targetCommand(['status', '-oProxyCommand=x'], captureIo())).toBe(2);
  });
});
