/**
 * The SSH layer against a real OpenSSH server (Debian openssh-server) started by the test on
 * 127.0.0.1 with its own keys and config: commands, quoting of hostile arguments, ControlMaster,
 * host-key checks, the askpass bridge, and a fetch that is killed halfway, resumes and verifies.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AskpassPrompt, AskpassServer } from '../../src/remote/askpass';
import { fetchFile } from '../../src/remote/fetch';
import { waitForNewBoot } from '../../src/remote/ops';
import { probeTarget } from '../../src/remote/probe';
import { shScript } from '../../src/remote/quote';
import { listConfigHosts, parseHostSpec, SshError, SshSession } from '../../src/remote/ssh';
import { HOSTILE } from '../support/hostile';
import { slowSshProgram } from '../support/slowSsh';
import { keygen, SSHD, startSshd, type TestSshd } from '../support/sshd';
import { cleanTmp, tmp } from '../support/tmp';

const available = SSHD !== undefined;
if (!available && process.env.CI) throw new Error('sshd is missing: .ci/run must install openssh-server');

describe.skipIf(!available)('SSH against a real sshd', () => {
  let sshd: TestSshd;
  let controlDir: string;
  const sessions: SshSession[] = [];
  const session = (host: string, opts: ConstructorParameters<typeof SshSession>[1] = {}) => {
    const s = new SshSession(host, { configFile: sshd.config, controlDir, ...opts });
    sessions.push(s);
    return s;
  };

  beforeAll(async () => {
    sshd = await startSshd();
    controlDir = tmp('kdd-cm-');
  });
  afterAll(async () => {
    for (const s of sessions) await s.disconnect();
    await sshd?.stop();
    cleanTmp();
  });

  it('runs a command and keeps one ControlMaster per host in a private directory', async () => {
    const s = session('testhost');
    const r = await s.run(['uname', '-s']);
    expect(r).toMatchObject({ code: 0, stdout: 'Linux\n' });
    expect(statSync(controlDir).mode & 0o777).toBe(0o700);
    const sockets = readdirSync(controlDir);
    expect(sockets).toHaveLength(1);
    expect(sockets[0]).toMatch(/^[0-9a-f]{40}$/);
    const logins = () => (sshd.log().match(/Accepted publickey for root/g) ?? []).length;
    const before = logins();
    for (let i = 0; i < 5; i++) expect((await s.run(['true'])).code).toBe(0);
    expect(logins()).toBe(before); // multiplexed over the master: no new login per command
    expect(readdirSync(controlDir)).toEqual(sockets);
    expect(await s.rootMode()).toBe('root');
  });

  it('passes hostile arguments through unchanged', async () => {
    const s = session('testhost');
    const r = await s.run(['printf', '%s\\0', ...HOSTILE]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\0').slice(0, -1)).toEqual(HOSTILE);
    // and as positional parameters of a constant script, incl. a file whose name starts with "-"
    const dir = tmp('kdd-q-');
    const name = "-rf $(touch PWNED); 'x' \n`id`";
    const w = await s.run(shScript('cd "$1" && printf %s "$3" > "./$2" && ls -A', dir, name, 'data'));
    expect(w.code).toBe(0);
    expect(readdirSync(dir)).toEqual([name]);
    expect(readFileSync(join(dir, name), 'utf8')).toBe('data');
    expect(existsSync(join(dir, 'PWNED'))).toBe(false);
    expect(existsSync('/tmp/kdd-pwned')).toBe(false);
  });

  it('returns remote exit status and stderr; streams stdin', async () => {
    const s = session('testhost');
    const r = await s.run(['sh', '-c', 'echo oops >&2; exit 7']);
    expect(r).toMatchObject({ code: 7, stderr: 'oops\n' });
    const c = await s.run(['sha256sum'], { stdin: 'hello\n' });
    expect(c.stdout.split(' ')[0]).toBe(createHash('sha256').update('hello\n').digest('hex'));
    const u = await s.run(['sha256sum'], { stdin: 'pässwörd ✓\n' });
    expect(u.stdout.split(' ')[0]).toBe(
      createHash('sha256').update(Buffer.from('pässwörd ✓\n', 'utf8')).digest('hex'),
    );
  });

  it('accepts ssh:// URLs and refuses option-like hosts', async () => {
    expect(parseHostSpec('ssh://root@127.0.0.1:2222')).toEqual({
      text: 'ssh://root@127.0.0.1:2222',
      destination: '127.0.0.1',
      user: 'root',
      port: 2222,
    });
    expect(parseHostSpec('ssh://[::1]:22').destination).toBe('::1');
    expect(() => parseHostSpec('-oProxyCommand=touch /tmp/x')).toThrow(/starts with "-"/);
    expect(() => parseHostSpec('host;reboot')).toThrow(/shell characters/);
    // a URL host resolved through the same known_hosts and key (config for 127.0.0.1 itself)
    sshd.addHost(
      `Host 127.0.0.1\n  IdentityFile ${sshd.userKey}\n  IdentitiesOnly yes\n  UserKnownHostsFile ${sshd.knownHosts}\n  GlobalKnownHostsFile /dev/null\n`,
    );
    const s = session(`ssh://root@127.0.0.1:${sshd.port}`);
    expect((await s.run(['id', '-un'])).stdout).toBe('root\n');
    expect(await listConfigHosts(sshd.config)).toEqual(['testhost', '127.0.0.1']);
  });

  it('refuses a changed host key, shows the fingerprint, runs nothing', async () => {
    const otherKey = join(sshd.dir, 'other_host');
    keygen(otherKey);
    const kh = join(sshd.dir, 'known_hosts_changed');
    writeFileSync(
      kh,
      `[127.0.0.1]:${sshd.port} ${readFileSync(`${otherKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`,
    );
    sshd.addHost(
      `Host changed\n  HostName 127.0.0.1\n  Port ${sshd.port}\n  User root\n  IdentityFile ${sshd.userKey}\n  IdentitiesOnly yes\n  UserKnownHostsFile ${kh}\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking no\n`,
    );
    const marker = join(sshd.dir, 'ran');
    // own control directory: a master already verified for testhost would otherwise carry the command
    const s = session('changed', { controlDir: tmp('kdd-cm-') });
    const err = await s.run(['touch', marker]).catch((e) => e);
    expect(err).toBeInstanceOf(SshError);
    expect(err.kind).toBe('host-key-changed');
    expect(err.fingerprint).toBe(sshd.fingerprint);
    expect(err.message).toContain(sshd.fingerprint);
    expect(err.message).toMatch(/CHANGED/);
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses an unknown host key in batch mode', async () => {
    const kh = join(sshd.dir, 'known_hosts_empty');
    writeFileSync(kh, '');
    sshd.addHost(
      `Host unknown\n  HostName 127.0.0.1\n  Port ${sshd.port}\n  User root\n  IdentityFile ${sshd.userKey}\n  IdentitiesOnly yes\n  UserKnownHostsFile ${kh}\n  GlobalKnownHostsFile /dev/null\n`,
    );
    const err = await session('unknown', {
      batchMode: true,
      controlDir: tmp('kdd-cm-'),
    })
      .run(['true'])
      .catch((e) => e);
    expect(err).toBeInstanceOf(SshError);
    expect(err.kind).toBe('host-key-unknown');
    expect(readFileSync(kh, 'utf8')).toBe('');
  });

  it('brings host-key and passphrase questions to the askpass callback', async () => {
    const key = join(sshd.dir, 'id_pass');
    keygen(key, 'correct horse');
    writeFileSync(
      join(sshd.dir, 'authorized_keys'),
      `${readFileSync(join(sshd.dir, 'authorized_keys'), 'utf8')}${readFileSync(`${key}.pub`, 'utf8')}`,
    );
    const kh = join(sshd.dir, 'known_hosts_ask');
    writeFileSync(kh, '');
    sshd.addHost(
      `Host asking\n  HostName 127.0.0.1\n  Port ${sshd.port}\n  User root\n  IdentityFile ${key}\n  IdentitiesOnly yes\n  UserKnownHostsFile ${kh}\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking ask\n`,
    );
    const prompts: AskpassPrompt[] = [];
    const dir = tmp('kdd-ap-');
    const askpass = new AskpassServer(dir, async (p) => {
      prompts.push(p);
      if (p.kind === 'host-key') return p.fingerprint === sshd.fingerprint ? 'yes' : 'no';
      if (p.kind === 'passphrase') return 'correct horse';
      return undefined;
    });
    await askpass.start();
    try {
      // declining the host key: nothing runs, nothing is added
      const declining = new AskpassServer(tmp('kdd-ap-'), async (p) =>
        p.kind === 'host-key' ? 'no' : undefined,
      );
      await declining.start();
      const no = await session('asking', {
        askpass: declining,
        controlDir: tmp('kdd-cm-'),
      })
        .run(['true'])
        .catch((e) => e);
      await declining.close();
      expect(no).toBeInstanceOf(SshError);
      expect(readFileSync(kh, 'utf8')).toBe('');

      const s = session('asking', { askpass, controlDir: tmp('kdd-cm-') });
      const r = await s.run(['echo', 'in']);
      expect(r.stdout).toBe('in\n');
      expect(prompts.map((p) => p.kind)).toEqual(['host-key', 'passphrase']);
      expect(prompts[0]!.fingerprint).toBe(sshd.fingerprint);
      expect(prompts[0]!.text).toMatch(/continue connecting/);
      expect(prompts[0]!.host).toBe('asking');
      expect(prompts[1]!.text).toMatch(/passphrase for key/);
      expect(readFileSync(kh, 'utf8')).toContain(sshd.hostKeyPub.split(' ')[1]);
      // the master is up: the next command asks nothing
      await s.run(['true']);
      expect(prompts).toHaveLength(2);

      // A fetch with no master yet: the batch-mode copy asks nothing and fails with nothing written,
      // the stream asks for the passphrase once, through askpass, and the file arrives verified.
      const src = join(tmp('kdd-remote-'), 'dump.202612061900');
      writeFileSync(src, randomBytes(1024 * 1024));
      const fresh = session('asking', { askpass, controlDir: tmp('kdd-cm-') });
      const dest = join(tmp('kdd-local-'), 'dump.202612061900');
      const r2 = await fetchFile(fresh, src, dest);
      expect(readFileSync(dest).equals(readFileSync(src))).toBe(true);
      expect(prompts.map((p) => p.kind)).toEqual(['host-key', 'passphrase', 'passphrase']);
      // with the master up, the next fetch copies
      rmSync(dest);
      expect((await fetchFile(fresh, src, dest)).transport).toBe('copy');
      expect(r2.sha256).toBe(createHash('sha256').update(readFileSync(src)).digest('hex'));
      expect(prompts).toHaveLength(3);
    } finally {
      await askpass.close();
    }
  });

  it('fetches a file killed halfway, resumes from the .part and verifies sha256', async () => {
    const remoteDir = tmp('kdd-remote-');
    const src = join(remoteDir, 'dump.202611220805');
    const size = 32 * 1024 * 1024 + 12345;
    const fd = openSync(src, 'w');
    for (let off = 0; off < size; off += 1 << 20) writeSync(fd, randomBytes(Math.min(1 << 20, size - off)));
    closeSync(fd);
    const want = createHash('sha256').update(readFileSync(src)).digest('hex');
    const outDir = tmp('kdd-local-');
    const dest = join(outDir, 'dump.202611220805');
    // The first fetch (scp over SFTP) comes through an ssh that passes 8 MiB/s, so the kill at 4 MiB
    // lands mid-file; unthrottled on loopback the copy can finish before the kill arrives.
    const slow = session('testhost', { sshPath: slowSshProgram(tmp('kdd-slow-'), 8 * 1024 * 1024) });

    const ac = new AbortController();
    const first = await fetchFile(slow, src, dest, {
      root: true,
      signal: ac.signal,
      onProgress: (p) => {
        if (p.phase === 'download' && p.bytes > 4 * 1024 * 1024) ac.abort();
      },
    }).catch((e) => e);
    expect(first.name).toBe('AbortError');
    expect(existsSync(dest)).toBe(false);
    const partSize = statSync(`${dest}.part`).size;
    expect(partSize).toBeGreaterThan(4 * 1024 * 1024);
    expect(partSize).toBeLessThan(size / 2);
    expect(readFileSync(`${dest}.part`).equals(readFileSync(src).subarray(0, partSize))).toBe(true);

    // A later session (full speed) resumes where the copy stopped.
    const progress: number[] = [];
    const second = await fetchFile(session('testhost'), src, dest, {
      root: true,
      onProgress: (p) => progress.push(p.bytes),
    });
    expect(second).toMatchObject({
      path: dest,
      bytes: size,
      sha256: want,
      resumedFrom: partSize,
      complete: true,
      transport: 'stream', // a resume appends with tail -c +N
    });
    expect(progress[0]).toBeGreaterThanOrEqual(partSize); // counting starts at the resume point
    expect(progress[progress.length - 1]).toBe(size);
    expect(createHash('sha256').update(readFileSync(dest)).digest('hex')).toBe(want);
    expect(readdirSync(outDir)).toEqual(['dump.202611220805']);
  });

  it('copies a plain path with scp over SFTP, streams a path scp cannot take; both verified', async () => {
    const remoteDir = tmp('kdd-remote-');
    const outDir = tmp('kdd-local-');
    const s = session('testhost');
    for (const [name, transport] of [
      ['dump.202612061200', 'copy'],
      ['dump with space [1]', 'stream'],
      ["it's:odd*", 'stream'],
    ] as const) {
      const src = join(remoteDir, name);
      writeFileSync(src, randomBytes(5 * 1024 * 1024 + 7));
      const r = await fetchFile(s, src, join(outDir, name));
      expect(r, name).toMatchObject({ transport, bytes: 5 * 1024 * 1024 + 7, complete: true });
      expect(r.sha256).toBe(createHash('sha256').update(readFileSync(src)).digest('hex'));
      expect(readFileSync(join(outDir, name)).equals(readFileSync(src))).toBe(true);
    }
    expect(readdirSync(outDir).sort()).toEqual(['dump with space [1]', 'dump.202612061200', "it's:odd*"]);
  });

  it('a stale .part.json with no .part starts a fresh copy, never a resume into it', async () => {
    const src = join(tmp('kdd-remote-'), 'vmcore');
    writeFileSync(src, randomBytes(8 * 1024 * 1024));
    const dest = join(tmp('kdd-local-'), 'vmcore');
    const size = statSync(src).size;
    const mtime = Math.floor(statSync(src).mtimeMs / 1000);
    writeFileSync(`${dest}.part.json`, JSON.stringify({ host: 'testhost', remotePath: src, size, mtime }));
    const r = await fetchFile(session('testhost'), src, dest);
    expect(r).toMatchObject({ transport: 'copy', resumedFrom: 0, bytes: size });
    expect(readFileSync(dest).equals(readFileSync(src))).toBe(true);
  });

  it('streams from a server without the SFTP subsystem (nothing half-copied left behind)', async () => {
    const bare = await startSshd({ sftp: false });
    try {
      const src = join(tmp('kdd-remote-'), 'vmcore');
      writeFileSync(src, randomBytes(2 * 1024 * 1024));
      const dest = join(tmp('kdd-local-'), 'vmcore');
      const s = new SshSession('testhost', { configFile: bare.config, controlDir: tmp('kdd-cm-') });
      const r = await fetchFile(s, src, dest);
      expect(r.transport).toBe('stream');
      expect(readFileSync(dest).equals(readFileSync(src))).toBe(true);
      await s.disconnect();
    } finally {
      await bare.stop();
    }
  });

  it('never passes a corrupted resume off as the file', async () => {
    const remoteDir = tmp('kdd-remote-');
    const src = join(remoteDir, 'vmcore');
    writeFileSync(src, randomBytes(3 * 1024 * 1024));
    const dest = join(tmp('kdd-local-'), 'vmcore');
    const s = session('testhost');
    const slow = session('testhost', { sshPath: slowSshProgram(tmp('kdd-slow-'), 2 * 1024 * 1024) });
    const ac = new AbortController();
    await fetchFile(slow, src, dest, {
      signal: ac.signal,
      onProgress: (p) => p.bytes > 1024 * 1024 && ac.abort(),
    }).catch(() => undefined);
    expect(statSync(`${dest}.part`).size).toBeLessThan(3 * 1024 * 1024);
    // flip a byte in the part: the resumed copy must fail verification and be dropped
    const fd = openSync(`${dest}.part`, 'r+');
    writeSync(fd, Buffer.from([0xff ^ readFileSync(`${dest}.part`)[100]!]), 0, 1, 100);
    closeSync(fd);
    const err = await fetchFile(s, src, dest).catch((e) => e);
    expect(err.message).toMatch(/sha256 mismatch/);
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.part`)).toBe(false);
    // and a fresh fetch gets it right
    expect((await fetchFile(s, src, dest)).sha256).toBe(
      createHash('sha256').update(readFileSync(src)).digest('hex'),
    );
  });

  it('runs nothing once cancelled', async () => {
    const marker = join(tmp('kdd-q-'), 'ran');
    const err = await session('testhost')
      .run(['touch', marker], { signal: AbortSignal.abort() })
      .catch((e) => e);
    expect(err).toMatchObject({ name: 'AbortError', message: 'testhost: cancelled' });
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses an incomplete dump unless asked, and never calls it complete', async () => {
    const remoteDir = tmp('kdd-remote-');
    const src = join(remoteDir, 'dump-incomplete');
    writeFileSync(src, 'partial');
    const dest = join(tmp('kdd-local-'), 'dump-incomplete');
    const s = session('testhost');
    await expect(fetchFile(s, src, dest)).rejects.toThrow(/incomplete dump/);
    expect(existsSync(dest)).toBe(false);
    const r = await fetchFile(s, src, dest, { allowIncomplete: true });
    expect(r.complete).toBe(false);
  });

  it('probes this machine over ssh', async () => {
    const s = session('testhost');
    const state = await probeTarget(s, { root: true, rootAccess: 'root' });
    expect(state.reachable).toBe(true);
    expect(state.kernelRelease).toBe(execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim());
    expect(state.bootId).toBe(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    expect(state.root).toBe('root');
  });

  it('stops waiting for a reboot when cancelled, and sees an unchanged boot as not rebooted', async () => {
    const s = session('testhost');
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const seen: string[] = [];
    const ac = new AbortController();
    const t0 = Date.now();
    const err = await waitForNewBoot(s, bootId, {
      signal: ac.signal,
      firstDelayMs: 100,
      onProgress: (p) => {
        seen.push(p.last);
        if (p.attempts >= 2) ac.abort();
      },
    }).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(seen).toEqual(['same-boot', 'same-boot']);
    expect(Date.now() - t0).toBeLessThan(15_000);
  });

  it('lists hosts of an ssh config with its Includes, skipping patterns', async () => {
    const dir = tmp('kdd-cfg-');
    mkdirSync(join(dir, 'conf.d'));
    writeFileSync(
      join(dir, 'config'),
      `Include ${join(dir, 'conf.d')}/*.conf\nHost lab1 lab2\n  User root\nHost *.example !bad\n  User x\n`,
    );
    writeFileSync(join(dir, 'conf.d', 'a.conf'), 'Host fleet-a\n  HostName 10.0.0.1\n');
    writeFileSync(join(dir, 'conf.d', 'b.conf'), 'Match host foo\n  User y\nHost fleet-b\n');
    expect(await listConfigHosts(join(dir, 'config'))).toEqual(['fleet-a', 'fleet-b', 'lab1', 'lab2']);
  });

  it('reports an unreachable host as such', async () => {
    sshd.addHost(`Host closedport\n  HostName 127.0.0.1\n  Port 1\n  User root\n`);
    const state = await probeTarget(session('closedport'), { root: false });
    expect(state.reachable).toBe(false);
    expect(state.error).toMatch(/cannot connect: .*Connection refused/);
  });
});
