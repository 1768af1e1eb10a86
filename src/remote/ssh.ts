/**
 * SSH through the user's own OpenSSH client, as Remote-SSH does: ~/.ssh/config, agents, ProxyJump,
 * certificates and known_hosts all stay OpenSSH's business. One ControlMaster per host in a short
 * private directory (0700); BatchMode for background work; an SSH_ASKPASS bridge (askpass.ts) for
 * interactive questions. Host keys are always checked: StrictHostKeyChecking is never turned off
 * (a config that turns it off is overridden to "ask"), and a changed key is an error that shows the
 * fingerprint. Remote commands are argument lists, quoted for the remote shell (quote.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AskpassServer } from './askpass';
import { shJoin } from './quote';
import type { CommandRunner, RunOptions, RunResult } from './runner';
import type { RootAccess } from './state';

// ------------------------------------------------------------------------------------ hosts

export interface HostSpec {
  /** As the user wrote it. */
  text: string;
  /** What goes to ssh as the destination. */
  destination: string;
  user?: string;
  port?: number;
}

/**
 * Parse a host as ssh accepts it: an alias from ~/.ssh/config, host, user@host, or
 * ssh://[user@]host[:port] (IPv6 in brackets). Refuses anything ssh would read as an option.
 */
export function parseHostSpec(text: string): HostSpec {
  const t = text.trim();
  if (t === '') throw new Error('empty host name');
  if (t.startsWith('-'))
    throw new Error(`"${t}" is not a host name (it starts with "-", which ssh would read as an option)`);
  if (/[\s'"`$;&|<>\\]/.test(t.replace(/^ssh:\/\//, '')))
    throw new Error(`"${t}" is not a host name: it contains spaces or shell characters`);
  if (t.startsWith('ssh://')) {
    const m = /^ssh:\/\/(?:([^@/]+)@)?(\[[^\]]+\]|[^:/]+)(?::([0-9]+))?\/?$/.exec(t);
    if (!m) throw new Error(`"${t}" is not an ssh:// URL of the form ssh://[user@]host[:port]`);
    const host = m[2]!.replace(/^\[(.*)\]$/, '$1');
    const spec: HostSpec = { text: t, destination: host };
    if (m[1]) spec.user = decodeURIComponent(m[1]);
    if (m[3]) {
      const port = Number(m[3]);
      if (port < 1 || port > 65535) throw new Error(`"${t}": port ${port} is out of range`);
      spec.port = port;
    }
    return spec;
  }
  return { text: t, destination: t };
}

/**
 * Host aliases of an ssh config file (and the files it Includes), for listing in a tree. Patterns
 * (*, ?, !) are skipped. Connection parameters come from `ssh -G`, never from this parse.
 */
export async function listConfigHosts(file = join(homedir(), '.ssh', 'config')): Promise<string[]> {
  const { default: SSHConfig } = await import('ssh-config');
  const seen = new Set<string>();
  const out: string[] = [];
  const visit = (path: string, depth: number) => {
    if (depth > 8 || seen.has(path)) return;
    seen.add(path);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return;
    }
    const walk = (lines: Iterable<unknown>) => {
      for (const raw of lines) {
        const line = raw as { param?: string; value?: unknown; config?: Iterable<unknown> };
        if (!line.param) continue;
        const values = Array.isArray(line.value)
          ? (line.value as { val: string }[]).map((v) => v.val)
          : String(line.value ?? '').split(/\s+/);
        const p = line.param.toLowerCase();
        if (p === 'host') {
          for (const v of values) if (v && !/[*?!]/.test(v) && !out.includes(v)) out.push(v);
        } else if (p === 'include') {
          for (const v of values) for (const f of expandInclude(v, path)) visit(f, depth + 1);
        }
        if (line.config) walk(line.config);
      }
    };
    walk(SSHConfig.parse(text));
  };
  visit(file, 0);
  return out;
}

function expandInclude(pattern: string, from: string): string[] {
  let p = pattern.replace(/^~(?=\/)/, homedir());
  if (!p.startsWith('/'))
    p = join(from.endsWith('/config') ? from.slice(0, -'/config'.length) : join(homedir(), '.ssh'), p);
  if (!/[*?]/.test(p)) return [p];
  const dir = p.slice(0, p.lastIndexOf('/'));
  const glob = p.slice(p.lastIndexOf('/') + 1);
  const re = new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  try {
    return readdirSync(dir)
      .filter((f) => re.test(f))
      .sort()
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}

// ------------------------------------------------------------------------------------ errors

export type SshErrorKind =
  | 'host-key-changed'
  | 'host-key-unknown'
  | 'auth'
  | 'unreachable'
  | 'sudo'
  | 'other';

export class SshError extends Error {
  override readonly name = 'SshError';
  constructor(
    readonly kind: SshErrorKind,
    readonly host: string,
    message: string,
    readonly fingerprint?: string,
  ) {
    super(message);
  }
}

/** Recognise OpenSSH's own failures (exit 255) in stderr; undefined when the remote command failed. */
export function classifySshFailure(host: string, stderr: string): SshError | undefined {
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED/.test(stderr)) {
    const fp = /(SHA256:[A-Za-z0-9+/=]+)/.exec(stderr)?.[1];
    const offending = /Offending \S+ key in (\S+)/.exec(stderr)?.[1];
    return new SshError(
      'host-key-changed',
      host,
      `${host}: the host key has CHANGED (the host now presents ${fp ?? 'an unknown key'}). This can mean the machine was reinstalled — or that someone is intercepting the connection. Nothing was run. If you know why it changed, remove the old key${offending ? ` (${offending})` : ''} with: ssh-keygen -R <host> and connect again to check the new fingerprint.`,
      fp,
    );
  }
  if (/Host key verification failed/.test(stderr)) {
    const fp = /(SHA256:[A-Za-z0-9+/=]+)/.exec(stderr)?.[1];
    return new SshError(
      'host-key-unknown',
      host,
      `${host}: the host key is not known${fp ? ` (it presents ${fp})` : ''} and could not be confirmed. Connect once interactively (or use "Add Target", which asks) to check and accept it.`,
      fp,
    );
  }
  if (/Permission denied \(|Too many authentication failures|no more authentication methods/i.test(stderr)) {
    return new SshError(
      'auth',
      host,
      `${host}: authentication failed: ${lastLine(stderr)}. Check the user, key or agent (ssh -v ${host}).`,
    );
  }
  if (
    /Could not resolve hostname|Connection refused|Connection timed out|No route to host|Network is unreachable|Connection closed by|Connection reset|kex_exchange_identification|banner exchange|Operation timed out|connect to host/i.test(
      stderr,
    )
  ) {
    return new SshError('unreachable', host, `${host}: cannot connect: ${lastLine(stderr)}`);
  }
  return undefined;
}

function lastLine(s: string): string {
  return (
    s
      .trim()
      .split('\n')
      .filter((l) => l.trim() !== '')
      .pop() ?? ''
  ).trim();
}

// ------------------------------------------------------------------------------------ session

export interface SshOptions {
  /** `--ssh-config FILE`: passed as -F. */
  configFile?: string;
  /** Private directory for control sockets and the askpass helper; default: a new 0700 temp dir. */
  controlDir?: string;
  /** Never prompt (background refreshes). Default true unless an askpass server is given. */
  batchMode?: boolean;
  askpass?: AskpassServer;
  /** Asked once when sudo needs a password; kept in memory only. Undefined answer = no root. */
  sudoPassword?: (host: string, prompt: string) => Promise<string | undefined>;
  connectTimeoutSec?: number;
  /** Seconds an idle master stays up. */
  controlPersistSec?: number;
  /** The ssh binary (default "ssh" on PATH). */
  sshPath?: string;
  /** Extra environment for ssh. */
  env?: Record<string, string>;
}

let defaultDir: string | undefined;
/** A short private directory for control sockets (Unix socket paths are limited to ~104 bytes). */
export function privateDir(): string {
  if (!defaultDir) {
    defaultDir = mkdtempSync(join(tmpdir(), 'kdd-')); // mkdtemp creates it 0700
    const d = defaultDir;
    process.once('exit', () => {
      try {
        rmSync(d, { recursive: true, force: true });
      } catch {
        // best effort
      }
    });
  }
  return defaultDir;
}

const SUDO_MARKER = '[kdump-debug-sudo]';

export interface SshRunOptions extends RunOptions {
  /** Force BatchMode for this command (polling while a host reboots). */
  batch?: boolean;
  connectTimeoutSec?: number;
}

export class SshSession implements CommandRunner {
  readonly host: string;
  readonly spec: HostSpec;
  readonly controlDir: string;
  private rootAccess: RootAccess | undefined;
  private password: string | undefined;
  private resolved: Map<string, string> | undefined;

  constructor(
    host: string,
    readonly options: SshOptions = {},
  ) {
    this.spec = parseHostSpec(host);
    this.host = this.spec.text;
    this.controlDir = options.controlDir ?? privateDir();
  }

  private targetArgs(): string[] {
    const a: string[] = [];
    if (this.options.configFile) a.push('-F', this.options.configFile);
    if (this.spec.port !== undefined) a.push('-p', String(this.spec.port));
    if (this.spec.user !== undefined) a.push('-l', this.spec.user);
    return a;
  }

  /** `ssh -G`: the effective configuration for this host (hostname, user, port, stricthostkeychecking…). */
  async resolve(): Promise<Map<string, string>> {
    if (this.resolved) return this.resolved;
    const r = await this.spawnSsh(['-G', ...this.targetArgs(), '--', this.spec.destination], {}, true);
    if (r.code !== 0)
      throw new SshError('other', this.host, `${this.host}: ssh -G failed: ${lastLine(r.stderr)}`);
    const map = new Map<string, string>();
    for (const line of r.stdout.split('\n')) {
      const i = line.indexOf(' ');
      if (i > 0 && !map.has(line.slice(0, i))) map.set(line.slice(0, i), line.slice(i + 1));
    }
    this.resolved = map;
    return map;
  }

  private async connectionArgs(opts: SshRunOptions): Promise<string[]> {
    return [...this.targetArgs(), '-T', ...(await this.connectionOptions(opts))];
  }

  /** The `-o` options of every connection: the shared ControlMaster, keep-alives, batch mode, host keys. */
  private async connectionOptions(opts: SshRunOptions): Promise<string[]> {
    const cfg = await this.resolve();
    const batch = opts.batch ?? this.options.batchMode ?? !this.options.askpass;
    const a = [
      '-o',
      'ControlMaster=auto',
      '-o',
      `ControlPath=${join(this.controlDir, '%C')}`,
      '-o',
      `ControlPersist=${this.options.controlPersistSec ?? 60}`,
      '-o',
      'ServerAliveInterval=10',
      '-o',
      'ServerAliveCountMax=3',
      '-o',
      `ConnectTimeout=${opts.connectTimeoutSec ?? this.options.connectTimeoutSec ?? 15}`,
      '-o',
      'LogLevel=ERROR',
      '-o',
      `BatchMode=${batch ? 'yes' : 'no'}`,
    ];
    // host keys are always checked: a config that disables checking is overridden
    const strict = cfg.get('stricthostkeychecking');
    if (strict === 'false' || strict === 'no' || strict === 'off') a.push('-o', 'StrictHostKeyChecking=ask');
    return a;
  }

  /**
   * scp over SFTP (`-s`: never the legacy protocol, whose remote shell would expand the path) on this
   * session's ControlMaster. Only for plain absolute paths: SFTP globs `*?[` and scp splits `host:path`
   * at the first colon, so anything else streams through `cat` instead.
   */
  async copyFile(
    remotePath: string,
    localPath: string,
    opts: { signal?: AbortSignal } = {},
  ): Promise<RunResult | undefined> {
    if (!/^\/[A-Za-z0-9._+,@%/-]+$/.test(remotePath) || /[:[\]]/.test(this.spec.destination))
      return undefined;
    const args = ['-q', '-s'];
    if (this.options.sshPath) args.push('-S', this.options.sshPath);
    if (this.options.configFile) args.push('-F', this.options.configFile);
    if (this.spec.port !== undefined) args.push('-P', String(this.spec.port));
    if (this.spec.user !== undefined) args.push('-o', `User=${this.spec.user}`);
    // Batch mode: the copy rides the ControlMaster (or keys) and never asks anything; where it would
    // have to, it fails with nothing written and the fetch streams, asking through askpass as usual.
    args.push(
      ...(await this.connectionOptions({ batch: true })),
      '--',
      `${this.spec.destination}:${remotePath}`,
      localPath,
    );
    // An scp without -s (OpenSSH before 8.8) or a server without the SFTP subsystem fails with nothing
    // written, which the fetch already treats as "stream instead".
    try {
      return await this.spawnSsh(args, { signal: opts.signal, batch: true }, false, 'scp');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // no scp client
      throw e;
    }
  }

  private spawnSsh(
    args: string[],
    opts: SshRunOptions & { extraStdin?: string },
    plain = false,
    program: 'ssh' | 'scp' = 'ssh',
  ): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const cancelled = () => {
        const err = new Error(`${this.host}: cancelled`);
        err.name = 'AbortError';
        return err;
      };
      // Cancelled before it started: an 'abort' listener added now would never fire.
      if (opts.signal?.aborted) {
        reject(cancelled());
        return;
      }
      const env: Record<string, string | undefined> = { ...process.env, ...this.options.env };
      if (!plain && this.options.askpass && !opts.batch)
        Object.assign(env, this.options.askpass.env(this.host));
      else {
        delete env.SSH_ASKPASS;
        env.SSH_ASKPASS_REQUIRE = 'never';
      }
      let child: ChildProcess;
      try {
        child = spawn(program === 'scp' ? 'scp' : (this.options.sshPath ?? 'ssh'), args, {
          env,
          stdio: ['pipe', opts.stdoutFd ?? 'pipe', 'pipe'],
          detached: false,
        });
      } catch (e) {
        reject(e);
        return;
      }
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      let aborted = false;
      const kill = () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      };
      const timer = opts.timeoutMs
        ? setTimeout(() => {
            timedOut = true;
            kill();
          }, opts.timeoutMs)
        : undefined;
      const onAbort = () => {
        aborted = true;
        kill();
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (d: string) => {
        stderr += d;
      });
      if (opts.stdoutFd === undefined) {
        child.stdout!.setEncoding('utf8');
        child.stdout!.on('data', (d: string) => {
          stdout += d;
        });
      }
      child.stdin!.on('error', () => undefined);
      if (opts.extraStdin !== undefined || opts.stdin !== undefined) {
        const parts: Buffer[] = [];
        if (opts.extraStdin !== undefined) parts.push(Buffer.from(opts.extraStdin, 'utf8'));
        if (opts.stdin !== undefined) parts.push(Buffer.from(opts.stdin));
        child.stdin!.end(Buffer.concat(parts));
      } else child.stdin!.end();
      child.on('error', (e) => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        reject(
          (e as NodeJS.ErrnoException).code === 'ENOENT' && program === 'ssh'
            ? new SshError(
                'other',
                this.host,
                'the OpenSSH client "ssh" was not found on PATH; install OpenSSH (package openssh-client)',
              )
            : e,
        );
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        if (aborted) {
          reject(cancelled());
          return;
        }
        resolve({ code: timedOut ? null : code, stdout, stderr, timedOut });
      });
    });
  }

  /** How this session gets root (probed once: id -u, then sudo -n true). */
  async rootMode(signal?: AbortSignal): Promise<RootAccess> {
    if (!this.rootAccess) this.rootAccess = await this.probeRoot(signal);
    return this.rootAccess;
  }

  private async probeRoot(signal?: AbortSignal): Promise<RootAccess> {
    const id = await this.exec(['id', '-u'], { signal });
    if (id.code !== 0)
      throw new SshError('other', this.host, `${this.host}: id -u failed: ${lastLine(id.stderr)}`);
    if (id.stdout.trim() === '0') return 'root';
    const s = await this.exec(['sudo', '-n', 'true'], { signal });
    if (s.code === 0) return 'sudo';
    if (/password is required|a terminal is required|askpass/i.test(s.stderr)) return 'sudo-password';
    return 'none';
  }

  /** Run without root wrapping, throwing SshError for ssh's own failures. */
  private async exec(
    argv: readonly string[],
    opts: SshRunOptions & { extraStdin?: string },
  ): Promise<RunResult> {
    const args = [...(await this.connectionArgs(opts)), '--', this.spec.destination, shJoin(argv)];
    const r = await this.spawnSsh(args, opts);
    if (r.code === 255) {
      const e = classifySshFailure(this.host, r.stderr);
      if (e) throw e;
    }
    return r;
  }

  async run(argv: readonly string[], opts: SshRunOptions = {}): Promise<RunResult> {
    if (!opts.root) return this.exec(argv, opts);
    const mode = await this.rootMode(opts.signal);
    if (mode === 'root') return this.exec(argv, opts);
    if (mode === 'sudo') return this.exec(['sudo', '-n', '--', ...argv], opts);
    if (mode === 'none') {
      throw new SshError(
        'sudo',
        this.host,
        `${this.host}: this needs root, and the user may not use sudo. Log in as root or allow sudo.`,
      );
    }
    if (this.password === undefined) {
      const pw = await this.options.sudoPassword?.(this.host, `sudo password for ${this.host}`);
      if (pw === undefined) {
        throw new SshError('sudo', this.host, `${this.host}: sudo needs a password and none was given`);
      }
      this.password = pw;
    }
    // -k: ignore cached credentials so the password line is always consumed by sudo, never by the command
    const r = await this.exec(['sudo', '-k', '-S', '-p', SUDO_MARKER, '--', ...argv], {
      ...opts,
      extraStdin: `${this.password}\n`,
    });
    r.stderr = r.stderr.split(SUDO_MARKER).join('');
    if (r.code !== 0 && /incorrect password|Sorry, try again/i.test(r.stderr)) {
      this.password = undefined;
      throw new SshError('sudo', this.host, `${this.host}: the sudo password was not accepted`);
    }
    return r;
  }

  /** Give the session a sudo password (e.g. from SecretStorage when the user opted in). */
  setSudoPassword(pw: string | undefined): void {
    this.password = pw;
  }

  /** Close this host's ControlMaster (before waiting for a reboot, or when done). */
  async disconnect(): Promise<void> {
    const args = [
      ...this.targetArgs(),
      '-o',
      `ControlPath=${join(this.controlDir, '%C')}`,
      '-O',
      'exit',
      '--',
      this.spec.destination,
    ];
    await this.spawnSsh(args, { timeoutMs: 10_000 }, true).catch(() => undefined);
  }
}
