/**
 * Remote fetch throughput against scp of the same file over the same loopback sshd and the same
 * ControlMaster connection (goal ≥ 0.8× scp). Only the transfer is timed; the sha256 verification
 * that follows it is reported in the name.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchFile } from '../../src/remote/fetch';
import { SshSession } from '../../src/remote/ssh';
import { startSshd } from '../support/sshd';
import type { Result } from './engine';

export async function benchFetch(): Promise<Result> {
  const mib = 256;
  const sshd = await startSshd();
  const dir = mkdtempSync(join(tmpdir(), 'kdd-bench-'));
  const controlDir = mkdtempSync(join(tmpdir(), 'kdd-cm-'));
  try {
    const src = join(dir, 'vmcore');
    const fd = openSync(src, 'w');
    const block = randomBytes(4 << 20);
    for (let off = 0; off < mib << 20; off += block.length) writeSync(fd, block);
    closeSync(fd);
    const s = new SshSession('testhost', { configFile: sshd.config, controlDir });
    await s.run(['true']);
    let scpBest = Number.POSITIVE_INFINITY;
    let fetchBest = Number.POSITIVE_INFINITY;
    let verifyBest = Number.POSITIVE_INFINITY;
    // Alternating rounds, best of 5 each: loopback ssh on 2 cores is noisy.
    for (let round = 0; round < 5; round++) {
      let t = performance.now();
      execFileSync('scp', [
        '-q',
        '-F',
        sshd.config,
        '-o',
        `ControlPath=${join(controlDir, '%C')}`,
        `testhost:${src}`,
        join(dir, 'scp.bin'),
      ]);
      scpBest = Math.min(scpBest, performance.now() - t);
      rmSync(join(dir, 'scp.bin'));
      t = performance.now();
      let downloaded = 0;
      await fetchFile(s, src, join(dir, 'fetched.bin'), {
        onProgress: (p) => {
          if (p.phase === 'verify' && !downloaded) downloaded = performance.now();
        },
      });
      fetchBest = Math.min(fetchBest, downloaded - t);
      verifyBest = Math.min(verifyBest, performance.now() - downloaded);
      rmSync(join(dir, 'fetched.bin'));
    }
    await s.disconnect();
    const ratio = scpBest / fetchBest;
    return {
      name: `remote fetch of ${mib} MiB over ssh (then sha256 verify: ${verifyBest.toFixed(0)} ms) vs scp on the same connection`,
      ours: `${((mib / fetchBest) * 1000).toFixed(0)} MiB/s`,
      reference: `${((mib / scpBest) * 1000).toFixed(0)} MiB/s`,
      ratio,
      goal: '≥ 0.8×',
      ok: ratio >= 0.8,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(controlDir, { recursive: true, force: true });
    await sshd.stop();
  }
}
