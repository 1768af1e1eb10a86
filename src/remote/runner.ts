/**
 * The seam between the kdump logic and a transport. The SSH layer implements it for real hosts;
 * unit tests of parsers and planners use a fake that replays recorded outputs.
 *
 * Commands are argument lists. Whoever implements this must pass them on without letting a shell
 * re-split them (see quote.ts for the quoting the SSH implementation uses).
 */

export interface RunOptions {
  /** Bytes written to the command's standard input, then closed. */
  stdin?: string | Uint8Array;
  /** Run as root (directly when logged in as root, else through sudo). */
  root?: boolean;
  signal?: AbortSignal;
  /** Kill the command after this many milliseconds (the result then has `timedOut`). */
  timeoutMs?: number;
  /**
   * Write standard output straight into this open file descriptor (the transport's process writes
   * it; no copy through JavaScript) instead of collecting it; `stdout` stays ''.
   */
  stdoutFd?: number;
}

export interface RunResult {
  /** Exit status of the remote command; null when it was killed or the connection failed. */
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut?: boolean;
}

export interface CommandRunner {
  /** What the user calls this host (alias, user@host, ssh:// URL). */
  readonly host: string;
  run(argv: readonly string[], options?: RunOptions): Promise<RunResult>;
  /**
   * Optional: copy a remote file, as the login user, into `localPath` (created or truncated) with the
   * transport's own file copy (scp over SFTP for SSH), which outpaces streaming `cat` through a command
   * channel. Resolves undefined when this path or host cannot be copied that way (the caller streams).
   */
  copyFile?(
    remotePath: string,
    localPath: string,
    options?: { signal?: AbortSignal },
  ): Promise<RunResult | undefined>;
}

/** A command that exited non-zero, with what it printed. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    readonly host: string,
    readonly argv: readonly string[],
    readonly result: RunResult,
    what?: string,
  ) {
    const err = result.stderr.trim().split('\n').slice(-6).join('\n');
    const status = result.timedOut
      ? 'timed out'
      : result.code === null
        ? 'was killed'
        : `exited with status ${result.code}`;
    super(`${host}: ${what ?? argv.join(' ')} ${status}${err ? `:\n${err}` : ''}`);
  }
}

/** Run and require exit status 0. */
export async function runChecked(
  runner: CommandRunner,
  argv: readonly string[],
  options?: RunOptions & { what?: string },
): Promise<RunResult> {
  const r = await runner.run(argv, options);
  if (r.code !== 0) throw new CommandError(runner.host, argv, r, options?.what);
  return r;
}
