/**
 * Multi-step operations on top of the runner: the reboot wait after a test crash, finding the new
 * dump, and fleet-wide work with a concurrency limit.
 */
import type { DumpFile } from './parsers';
import { probeTarget } from './probe';
import type { CommandRunner, RunOptions, RunResult } from './runner';
import type { TargetState } from './state';

/** A runner that can drop its shared connection and poll without prompting (SshSession). */
export interface ReconnectingRunner extends CommandRunner {
  disconnect?(): Promise<void>;
  run(
    argv: readonly string[],
    options?: RunOptions & { batch?: boolean; connectTimeoutSec?: number },
  ): Promise<RunResult>;
}

export interface WaitProgress {
  seconds: number;
  attempts: number;
  /** What the last attempt saw. */
  last: 'unreachable' | 'same-boot' | 'error';
  detail?: string;
}

export async function readBootId(runner: ReconnectingRunner, signal?: AbortSignal): Promise<string> {
  const r = await runner.run(['cat', '/proc/sys/kernel/random/boot_id'], { signal, timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`${runner.host}: cannot read boot_id: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/**
 * Wait until the host answers with a boot_id different from `oldBootId` (it crashed, dumped and
 * rebooted). Connection failures while it is down are expected and not errors.
 */
export async function waitForNewBoot(
  runner: ReconnectingRunner,
  oldBootId: string,
  options: {
    signal?: AbortSignal;
    timeoutMs?: number;
    onProgress?: (p: WaitProgress) => void;
    firstDelayMs?: number;
  } = {},
): Promise<{ bootId: string; seconds: number }> {
  const t0 = Date.now();
  const timeout = options.timeoutMs ?? 15 * 60_000;
  let attempts = 0;
  let delay = options.firstDelayMs ?? 3_000;
  const sleep = (ms: number) =>
    new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, ms);
      options.signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          reject(options.signal!.reason ?? new Error('cancelled'));
        },
        { once: true },
      );
    });
  await runner.disconnect?.();
  for (;;) {
    options.signal?.throwIfAborted();
    await sleep(delay);
    attempts++;
    let last: WaitProgress['last'] = 'unreachable';
    let detail: string | undefined;
    try {
      // drop a master that may still point at the dead kernel, then one short, non-interactive try
      await runner.disconnect?.();
      const r = await runner.run(['cat', '/proc/sys/kernel/random/boot_id'], {
        signal: options.signal,
        timeoutMs: 20_000,
        batch: true,
        connectTimeoutSec: 5,
      });
      const id = r.stdout.trim();
      if (r.code === 0 && /^[0-9a-f-]{36}$/.test(id)) {
        if (id !== oldBootId) return { bootId: id, seconds: (Date.now() - t0) / 1000 };
        last = 'same-boot';
      } else {
        last = 'error';
        detail = r.stderr.trim();
      }
    } catch (e) {
      if (options.signal?.aborted) throw e;
      const kind = (e as { kind?: string }).kind;
      if (kind === 'host-key-changed') throw e; // never retried past: a changed key is not a reboot
      detail = (e as Error).message;
    }
    const seconds = (Date.now() - t0) / 1000;
    options.onProgress?.({ seconds, attempts, last, ...(detail ? { detail } : {}) });
    if (Date.now() - t0 > timeout) {
      throw new Error(
        `${runner.host}: no new boot after ${Math.round(seconds)} s (last: ${last}${detail ? `: ${detail}` : ''}). The capture kernel may have hung: check the console or BMC.`,
      );
    }
    delay = Math.min(delay * 1.5, 5_000);
  }
}

/** Dumps present after a crash that were not in the baseline (by path), newest first. */
export function newDumps(before: readonly DumpFile[], after: readonly DumpFile[]): DumpFile[] {
  const seen = new Set(before.map((d) => `${d.path}\0${d.time}`));
  return after.filter((d) => !seen.has(`${d.path}\0${d.time}`));
}

export interface HostResult<T> {
  host: string;
  ok: boolean;
  value?: T;
  error?: string;
}

/** Run `fn` for every host, at most `limit` at a time; one result per host, in input order. */
export async function forEachHost<T>(
  hosts: readonly string[],
  limit: number,
  fn: (host: string) => Promise<T>,
): Promise<HostResult<T>[]> {
  const results: HostResult<T>[] = new Array(hosts.length);
  let next = 0;
  const worker = async () => {
    while (next < hosts.length) {
      const i = next++;
      const host = hosts[i]!;
      try {
        results[i] = { host, ok: true, value: await fn(host) };
      } catch (e) {
        results[i] = { host, ok: false, error: (e as Error).message };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, hosts.length)) }, worker));
  return results;
}

/** Probe with root when the session can get it without asking. */
export async function probeWithRoot(
  runner: ReconnectingRunner & { rootMode?(signal?: AbortSignal): Promise<TargetState['root']> },
  options: { signal?: AbortSignal; interactiveRoot?: boolean } = {},
): Promise<TargetState> {
  let mode: TargetState['root'] = 'unknown';
  try {
    mode = runner.rootMode ? await runner.rootMode(options.signal) : 'unknown';
  } catch (e) {
    if (options.signal?.aborted) throw e;
    return probeTarget(runner, { root: false, rootAccess: 'unknown', signal: options.signal });
  }
  const root =
    mode === 'root' || mode === 'sudo' || (mode === 'sudo-password' && options.interactiveRoot === true);
  return probeTarget(runner, { root, rootAccess: mode, signal: options.signal });
}
