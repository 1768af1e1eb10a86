/**
 * Fetch a file (a vmcore) over the SSH connection: the transport's file copy where the login user can
 * read it (scp over SFTP), else `cat` (`tail -c +N` to resume) as root when needed, written by ssh
 * straight into the file; with progress, cancellation and resume. The data goes to NAME.part; NAME.part.json remembers the
 * remote size and mtime so a resume never splices two different files. Only after the sha256 of the
 * local copy equals the remote `sha256sum` is NAME.part renamed to NAME. A dump whose name says
 * "incomplete" is refused unless asked for explicitly, and then keeps that name.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  existsSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { isIncompleteName } from './parsers';
import { CommandError, type CommandRunner, type RunResult } from './runner';

export interface FetchProgress {
  bytes: number;
  total: number;
  /** Bytes already present from an earlier, interrupted fetch. */
  resumedFrom: number;
  bytesPerSecond: number;
  phase: 'download' | 'verify';
}

export interface FetchOptions {
  root?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: FetchProgress) => void;
  /** Fetch a dump whose name says it is incomplete (it is still never reported complete). */
  allowIncomplete?: boolean;
}

export interface FetchResult {
  path: string;
  bytes: number;
  sha256: string;
  resumedFrom: number;
  seconds: number;
  complete: boolean;
  /** How the bytes came: the transport's file copy (scp over SFTP) or a stream of `cat`/`tail`. */
  transport: 'copy' | 'stream';
}

interface PartInfo {
  host: string;
  remotePath: string;
  size: number;
  mtime: number;
}

async function remoteStat(runner: CommandRunner, path: string, root: boolean, signal?: AbortSignal) {
  const r = await runner.run(['stat', '-L', '-c', '%s %Y', '--', path], { root, signal, timeoutMs: 30_000 });
  if (r.code !== 0) throw new CommandError(runner.host, ['stat', path], r, `reading the size of ${path}`);
  const [size, mtime] = r.stdout.trim().split(' ').map(Number);
  if (!Number.isFinite(size) || !Number.isFinite(mtime))
    throw new Error(`${runner.host}: unexpected stat output for ${path}: ${r.stdout}`);
  return { size: size!, mtime: mtime! };
}

export async function remoteSha256(
  runner: CommandRunner,
  path: string,
  root: boolean,
  signal?: AbortSignal,
): Promise<string> {
  const r = await runner.run(['sha256sum', '--', path], { root, signal, timeoutMs: 3_600_000 });
  const m = /^([0-9a-f]{64})\b/.exec(r.stdout);
  if (r.code !== 0 || !m)
    throw new CommandError(runner.host, ['sha256sum', path], r, `computing sha256 of ${path}`);
  return m[1]!;
}

export async function localSha256(path: string, signal?: AbortSignal): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { signal })) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function fetchFile(
  runner: CommandRunner,
  remotePath: string,
  localPath: string,
  options: FetchOptions = {},
): Promise<FetchResult> {
  const root = options.root ?? false;
  const base = remotePath.slice(remotePath.lastIndexOf('/') + 1);
  const incomplete = isIncompleteName(base);
  if (incomplete && !options.allowIncomplete) {
    throw new Error(
      `${runner.host}:${remotePath} is an incomplete dump (the capture kernel did not finish writing it); it is not fetched as a dump. Fetch it anyway with --allow-incomplete.`,
    );
  }
  const t0 = Date.now();
  const part = `${localPath}.part`;
  const infoPath = `${part}.json`;
  let info: PartInfo | undefined; // known once the remote stat answers
  let resumedFrom = 0;
  let bytes = 0;
  let lastReport = 0;
  const report = (phase: FetchProgress['phase'], force = false) => {
    const now = Date.now();
    if (!info || (!force && now - lastReport < 100)) return;
    lastReport = now;
    const secs = Math.max((now - t0) / 1000, 0.001);
    options.onProgress?.({
      bytes,
      total: info.size,
      resumedFrom,
      bytesPerSecond: (bytes - resumedFrom) / secs,
      phase,
    });
  };
  // Progress is the .part file's size, polled: the transport's process writes it, not JavaScript.
  let poll: ReturnType<typeof setInterval> | undefined;
  const startPolling = () => {
    poll ??= setInterval(() => {
      try {
        bytes = statSync(part).size;
        report('download');
      } catch {
        // not created yet
      }
    }, 50);
  };

  const statting = remoteStat(runner, remotePath, root, options.signal);
  // Nothing to resume: the copy need not wait for the stat's round trip, it starts at once (and is
  // stopped if the stat fails). A resume waits, to compare the stat with the .part's record.
  let early: Promise<RunResult | undefined> | undefined;
  const stopEarly = new AbortController();
  if (runner.copyFile && !(existsSync(part) && existsSync(infoPath))) {
    if (existsSync(part)) unlinkSync(part);
    const signal = options.signal ? AbortSignal.any([options.signal, stopEarly.signal]) : stopEarly.signal;
    early = runner.copyFile(remotePath, part, { signal });
    early.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
    startPolling();
  }
  let transport: FetchResult['transport'] = 'stream';
  try {
    let st: Awaited<typeof statting>;
    try {
      st = await statting;
    } catch (err) {
      stopEarly.abort();
      await early?.catch(() => undefined);
      throw err;
    }
    info = { host: runner.host, remotePath, size: st.size, mtime: st.mtime };

    let offset = 0;
    // (Not with an early copy: its .part is being written now, whatever a stale .part.json says.)
    if (!early && existsSync(part) && existsSync(infoPath)) {
      try {
        const old = JSON.parse(readFileSync(infoPath, 'utf8')) as PartInfo;
        const have = statSync(part).size;
        if (
          old.host === info.host &&
          old.remotePath === remotePath &&
          old.size === info.size &&
          old.mtime === info.mtime &&
          have <= info.size
        ) {
          offset = have;
        }
      } catch {
        offset = 0;
      }
    }
    if (offset === 0 && !early && existsSync(part)) unlinkSync(part);
    writeFileSync(infoPath, JSON.stringify(info));
    resumedFrom = offset;
    bytes = offset;

    if (offset < info.size || early) {
      startPolling();
      // A fresh fetch tries the transport's file copy first (scp over SFTP: faster than a command
      // channel). It reads as the login user: a dump only root can read, or a host without SFTP,
      // leaves nothing written and falls back to streaming, through sudo when asked.
      let r =
        offset === 0
          ? await (early ?? runner.copyFile?.(remotePath, part, { signal: options.signal }))
          : undefined;
      if (r?.code === 0) transport = 'copy';
      else if (r && existsSync(part) && statSync(part).size > 0) {
        throw new CommandError(
          runner.host,
          ['scp', remotePath],
          r,
          `copying ${remotePath} (kept ${part} to resume)`,
        );
      } else {
        // cat for a fresh fetch, tail -c +N to resume; both in busybox and coreutils. ssh writes the
        // bytes straight into the .part file.
        const fd = openSync(part, offset > 0 ? 'a' : 'w');
        try {
          const argv =
            offset === 0 ? ['cat', '--', remotePath] : ['tail', '-c', `+${offset + 1}`, '--', remotePath];
          r = await runner.run(argv, { root, signal: options.signal, stdoutFd: fd });
        } finally {
          closeSync(fd);
        }
        if (r.code !== 0)
          throw new CommandError(
            runner.host,
            ['cat', remotePath],
            r,
            `streaming ${remotePath} (kept ${part} to resume)`,
          );
      }
    }
  } finally {
    if (poll) {
      clearInterval(poll);
      bytes = existsSync(part) ? statSync(part).size : 0;
      report('download', true);
    }
  }
  const have = statSync(part).size;
  if (have !== info.size) {
    throw new Error(
      `${runner.host}:${remotePath}: got ${have} of ${info.size} bytes; ${part} is kept, fetch again to resume`,
    );
  }
  report('verify', true);
  const [local, remote, after] = await Promise.all([
    localSha256(part, options.signal),
    remoteSha256(runner, remotePath, root, options.signal),
    remoteStat(runner, remotePath, root, options.signal),
  ]);
  if (after.size !== info.size || after.mtime !== info.mtime) {
    unlinkSync(part);
    unlinkSync(infoPath);
    throw new Error(
      `${runner.host}:${remotePath} changed while it was fetched (still being written?); fetch it again later`,
    );
  }
  if (local !== remote) {
    unlinkSync(part);
    unlinkSync(infoPath);
    throw new Error(
      `${runner.host}:${remotePath}: sha256 mismatch (local ${local}, remote ${remote}); the partial copy was deleted, fetch again`,
    );
  }
  renameSync(part, localPath);
  unlinkSync(infoPath);
  return {
    path: localPath,
    bytes: info.size,
    sha256: local,
    resumedFrom,
    seconds: (Date.now() - t0) / 1000,
    complete: !incomplete,
    transport,
  };
}

/**
 * The crashed kernel's System.map from the host's /boot (for symbols when a dump lacks kallsyms).
 * Debian ships a placeholder of a few bytes pointing to the -dbg package: that one is not fetched.
 */
export async function fetchSystemMap(
  runner: CommandRunner,
  kernelRelease: string,
  localDir: string,
  options: { root?: boolean; signal?: AbortSignal } = {},
): Promise<{ path: string } | { skipped: string }> {
  const remote = `/boot/System.map-${kernelRelease}`;
  const st = await runner.run(['stat', '-L', '-c', '%s', '--', remote], {
    root: options.root,
    signal: options.signal,
  });
  if (st.code !== 0) return { skipped: `${remote} does not exist` };
  const size = Number(st.stdout.trim());
  if (!(size > 4096)) return { skipped: `${remote} is a ${size}-byte placeholder, not a symbol map` };
  const r = await fetchFile(runner, remote, `${localDir}/System.map-${kernelRelease}`, options);
  return { path: r.path };
}
