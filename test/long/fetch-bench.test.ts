/**
 * Fetch throughput against scp of the same file over the same loopback sshd (goal ≥ 0.8× scp).
 * The transfer alone is compared; the sha256 verification that follows is reported separately.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fetchFile } from '../../src/remote/fetch';
import { SshSession } from '../../src/remote/ssh';
import { startSshd, type TestSshd } from '../support/sshd';

const SIZE = 256 * 1024 * 1024;
let sshd: TestSshd;
let src: string;
let out: string;
beforeAll(async () => {
  sshd = await startSshd();
  const dir = mkdtempSync(join(tmpdir(), 'kdd-bench-'));
  src = join(dir, 'vmcore');
  const fd = openSync(src, 'w');
  const block = randomBytes(4 << 20);
  for (let off = 0; off < SIZE; off += block.length) writeSync(fd, block);
  closeSync(fd);
  out = mkdtempSync(join(tmpdir(), 'kdd-bench-out-'));
});
afterAll(async () => {
  await sshd?.stop();
  rmSync(out, { recursive: true, force: true });
  rmSync(src.slice(0, src.lastIndexOf('/')), { recursive: true, force: true });
});

it('fetch is at least 0.8x as fast as scp', async () => {
  const s = new SshSession('testhost', {
    configFile: sshd.config,
    controlDir: mkdtempSync(join(tmpdir(), 'kdd-cm-')),
  });
  await s.run(['true']); // master up, as in the extension
  const mibs = (bytes: number, ms: number) => bytes / 2 ** 20 / (ms / 1000);
  const results: { scp: number[]; fetch: number[]; verifyMs: number[] } = {
    scp: [],
    fetch: [],
    verifyMs: [],
  };
  for (let round = 0; round < 3; round++) {
    let t = Date.now();
    execFileSync('scp', ['-q', '-F', sshd.config, `testhost:${src}`, join(out, 'scp.bin')]);
    results.scp.push(mibs(SIZE, Date.now() - t));
    rmSync(join(out, 'scp.bin'));
    t = Date.now();
    let downloaded = 0;
    await fetchFile(s, src, join(out, 'fetched.bin'), {
      onProgress: (p) => {
        if (p.phase === 'verify' && !downloaded) downloaded = Date.now();
      },
    });
    results.fetch.push(mibs(SIZE, downloaded - t));
    results.verifyMs.push(Date.now() - downloaded);
    rmSync(join(out, 'fetched.bin'));
  }
  await s.disconnect();
  const best = (a: number[]) => Math.max(...a);
  console.log(
    `fetch ${best(results.fetch).toFixed(0)} MiB/s vs scp ${best(results.scp).toFixed(0)} MiB/s (ratio ${(best(results.fetch) / best(results.scp)).toFixed(2)}); sha256 verify of ${SIZE >> 20} MiB: ${Math.min(...results.verifyMs)} ms`,
  );
  expect(best(results.fetch) / best(results.scp)).toBeGreaterThanOrEqual(0.8);
});
