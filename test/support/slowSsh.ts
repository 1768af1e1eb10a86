/**
 * An `ssh` program for SshSession's `sshPath` (and so scp's `-S`) that runs the real ssh and passes
 * its output on at a fixed rate. On loopback a copy outruns any kill, so a test that interrupts a
 * fetch halfway needs the bytes to arrive slowly enough that "halfway" exists.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function slowSshProgram(dir: string, bytesPerSecond: number): string {
  const path = join(dir, 'slow-ssh');
  writeFileSync(
    path,
    `#!${process.execPath}
const { spawn } = require('node:child_process');
const rate = ${bytesPerSecond};
const child = spawn('ssh', process.argv.slice(2), { stdio: ['inherit', 'pipe', 'inherit'] });
// Killed (scp kills its ssh, then waits for it): stop at once, without flushing to a reader that
// no longer reads.
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'])
  process.on(sig, () => {
    child.kill(sig);
    process.exit(143);
  });
const t0 = Date.now();
let sent = 0;
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  sent += chunk.length;
  const ahead = (sent / rate) * 1000 - (Date.now() - t0);
  if (ahead > 0) {
    child.stdout.pause();
    setTimeout(() => child.stdout.resume(), ahead);
  }
});
child.on('close', (code, signal) => {
  const done = () => process.exit(code ?? 128 + (signal === 'SIGTERM' ? 15 : 1));
  if (process.stdout.writableLength > 0) process.stdout.once('drain', done);
  else done();
});
`,
  );
  chmodSync(path, 0o755);
  return path;
}
