/**
 * `vmcore target …`: the remote kdump core behind a command line, for scripts and fleets.
 * Each subcommand is `(args, io) => Promise<exit code>`; a CLI framework dispatches to
 * `targetCommand`. Exit codes: 0 success, 1 a host failed or refused, 2 usage error.
 */
import { mkdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { validateReservation } from '../crashkernel';
import { fetchFile, fetchSystemMap } from '../fetch';
import { forEachHost, newDumps, probeWithRoot, readBootId, waitForNewBoot } from '../ops';
import type { DumpFile } from '../parsers';
import {
  executePlan,
  formatPlan,
  type Plan,
  PlanRefused,
  planCrash,
  planLoad,
  planReservation,
  planUnload,
} from '../plan';
import { listDumps } from '../probe';
import { SshSession } from '../ssh';
import type { TargetState } from '../state';
import {
  type CliIo,
  flagNumber,
  flagString,
  formatBytes,
  type ParsedArgs,
  parseArgs,
  UsageError,
} from './args';

export type { CliIo } from './args';

export const TARGET_USAGE = `usage: vmcore target <command> [options]

  status HOST... [--json] [--concurrency N]     read kdump state (fleet: many hosts at once)
  load HOST... [--kernel K] [--initrd I] [--append A] [--dry-run]
                                               load the capture kernel (distro tool, else kexec -p)
  unload HOST... [--dry-run]                   unload it
  reserve HOST VALUE|default [--dry-run]       persist crashkernel=VALUE in the boot loader config
  crash HOST --confirm HOST [--force] [--no-wait] [--timeout SECONDS]
                                               TEST CRASH: panic the host, wait for the new boot,
                                               list the new dump
  dumps HOST [--json] [--dir DIR]              list dumps (complete / incomplete) in the dump directory
  fetch HOST [DUMP] [-o DIR] [--allow-incomplete] [--dir DIR]
                                               fetch a dump (default: the newest complete one) with
                                               resume and sha256 verification, plus its dmesg

HOST is anything ssh accepts: an alias from ~/.ssh/config, user@host, ssh://user@host:port.
Common options: --ssh-config FILE (ssh -F), --no-sudo (do not use root).`;

const COMMON_VALUED = ['--ssh-config'];
const COMMON_BOOL = ['--no-sudo', '-h', '--help'];

function sessionFor(host: string, p: ParsedArgs, io: CliIo): SshSession {
  const configFile = flagString(p, '--ssh-config');
  return new SshSession(host, {
    ...(configFile ? { configFile } : {}),
    batchMode: !io.interactive,
    sudoPassword: io.askSecret ? (_h, prompt) => io.askSecret!(prompt) : undefined,
  });
}

async function readState(s: SshSession, p: ParsedArgs, io: CliIo): Promise<TargetState> {
  if (p.flags.has('--no-sudo')) {
    const { probeTarget } = await import('../probe');
    return probeTarget(s, { root: false, rootAccess: 'unknown', signal: io.signal });
  }
  return probeWithRoot(s, { signal: io.signal, interactiveRoot: io.askSecret !== undefined });
}

/** The JSON shape of `status --json` (one object per host). */
export function statusJson(s: TargetState) {
  return {
    host: s.host,
    reachable: s.reachable,
    ...(s.error ? { error: s.error } : {}),
    hostname: s.hostname ?? null,
    kernelRelease: s.kernelRelease ?? null,
    arch: s.arch ?? null,
    os: s.os ?? null,
    bootId: s.bootId ?? null,
    root: s.root,
    flavour: s.flavour,
    crashkernelCmdline: s.crashkernelCmdline,
    crashkernelBootloader: s.crashkernelBootloader,
    bootloaderSource: s.bootloaderSource,
    rebootPending: s.rebootPending,
    reservedBytes: s.reservedBytes,
    reservedRanges: s.reservedRanges,
    captureLoaded: s.captureLoaded,
    kexecLoadDisabled: s.kexecLoadDisabled,
    service: s.service,
    toolVerdict: s.toolVerdict,
    lockdown: s.lockdown,
    secureBoot: s.secureBoot,
    sysctl: s.sysctl,
    memTotalBytes: s.memTotalBytes,
    dumpDir: s.dumpDir,
    dumps: s.dumps.map((d) => ({
      path: d.path,
      bytes: d.bytes,
      time: d.time,
      complete: d.complete,
      ...(d.dmesg ? { dmesg: d.dmesg } : {}),
    })),
    ...(s.dumpsError ? { dumpsError: s.dumpsError } : {}),
    problems: s.problems,
  };
}

function yesNo(v: boolean | null): string {
  return v === null ? 'unknown' : v ? 'yes' : 'no';
}

export function formatStatus(s: TargetState): string {
  if (!s.reachable) return `${s.host}: UNREACHABLE: ${s.error}`;
  const lines = [
    `${s.host}: ${s.hostname ?? ''} ${s.kernelRelease ?? ''} ${s.arch ?? ''}${s.os ? ` (${s.os})` : ''}`,
  ];
  const row = (k: string, v: string) => lines.push(`  ${k.padEnd(13)}${v}`);
  row(
    'flavour',
    `${s.flavour}${s.service ? `, ${s.service.unit} ${s.service.enabled ?? '?'}/${s.service.active ?? '?'}` : ''}`,
  );
  row('root', s.root);
  row(
    'crashkernel',
    `running: ${s.crashkernelCmdline || 'none'}; boot loader: ${s.crashkernelBootloader === null ? 'unknown' : s.crashkernelBootloader || 'none'}${s.rebootPending ? '  (REBOOT PENDING)' : ''}`,
  );
  row(
    'reserved',
    s.reservedBytes === null
      ? 'unsupported (no kexec crash support)'
      : `${formatBytes(s.reservedBytes)}${s.reservedRanges?.length ? ` at ${s.reservedRanges.map((r) => `${r.start}-${r.end}`).join(', ')}` : ''}`,
  );
  row('capture', s.captureLoaded === null ? 'unknown' : s.captureLoaded ? 'LOADED' : 'not loaded');
  if (s.toolVerdict)
    row(
      'tool says',
      s.toolVerdict.ready === undefined
        ? s.toolVerdict.text.split('\n')[0]!
        : s.toolVerdict.ready
          ? 'ready'
          : 'not ready',
    );
  row('lockdown', `${s.lockdown ?? 'unknown'}; secure boot: ${yesNo(s.secureBoot)}`);
  row(
    'sysctl',
    `kernel.panic=${s.sysctl.panic ?? '?'} panic_on_oops=${s.sysctl.panic_on_oops ?? '?'} sysrq=${s.sysctl.sysrq ?? '?'}`,
  );
  row(
    'dumps',
    s.dumpDir
      ? `${s.dumpDir}: ${s.dumpsError ? s.dumpsError : s.dumps.length === 0 ? 'none' : ''}`
      : 'not a local directory',
  );
  for (const d of s.dumps)
    lines.push(
      `    ${d.complete ? 'complete  ' : 'INCOMPLETE'} ${formatBytes(d.bytes).padStart(9)}  ${d.time}  ${d.path}`,
    );
  for (const pr of s.problems) lines.push(`  ! ${pr}`);
  return lines.join('\n');
}

function hostsOf(p: ParsedArgs, min = 1): string[] {
  if (p.positional.length < min) throw new UsageError('no host given');
  return p.positional;
}

async function status(args: string[], io: CliIo): Promise<number> {
  const p = parseArgs(args, [...COMMON_VALUED, '--concurrency'], [...COMMON_BOOL, '--json']);
  const hosts = hostsOf(p);
  const limit = flagNumber(p, '--concurrency', 8);
  const results = await forEachHost(hosts, limit, async (h) => {
    const s = sessionFor(h, p, io);
    try {
      return await readState(s, p, io);
    } finally {
      await s.disconnect();
    }
  });
  const states = results.map(
    (r) => r.value ?? ({ host: r.host, reachable: false, error: r.error } as TargetState),
  );
  if (p.flags.has('--json')) {
    io.out(
      `${JSON.stringify(
        states.map((s) => (s.reachable ? statusJson(s) : { host: s.host, reachable: false, error: s.error })),
        null,
        2,
      )}\n`,
    );
  } else {
    io.out(`${states.map(formatStatus).join('\n\n')}\n`);
  }
  return states.every((s) => s.reachable) ? 0 : 1;
}

async function runPlanned(
  args: string[],
  io: CliIo,
  valued: string[],
  bools: string[],
  make: (state: TargetState, p: ParsedArgs, session: SshSession) => Promise<Plan> | Plan,
  minPositional = 1,
): Promise<{ code: number; p: ParsedArgs }> {
  const p = parseArgs(
    args,
    [...COMMON_VALUED, ...valued, '--concurrency'],
    [...COMMON_BOOL, '--dry-run', ...bools],
  );
  const hosts = hostsOf(p, minPositional);
  const results = await forEachHost(hosts, flagNumber(p, '--concurrency', 4), async (h) => {
    const s = sessionFor(h, p, io);
    try {
      const state = await readState(s, p, io);
      if (!state.reachable) throw new Error(`${h}: unreachable: ${state.error}`);
      const plan = await make(state, p, s);
      io.out(`${formatPlan(plan)}\n`);
      if (p.flags.has('--dry-run')) return 'planned (dry run)';
      const done = await executePlan(s, plan, {
        signal: io.signal,
        onStep: (i, st) => io.err(`${h}: [${i + 1}/${plan.steps.length}] ${st.why}\n`),
      });
      const last = done[done.length - 1];
      return last ? last.stdout.trim() : 'done';
    } finally {
      await s.disconnect();
    }
  });
  for (const r of results) {
    if (r.ok) io.out(`${r.host}: ok${r.value ? ` (${r.value})` : ''}\n`);
    else io.err(`${r.error}\n`);
  }
  return { code: results.every((r) => r.ok) ? 0 : 1, p };
}

async function load(args: string[], io: CliIo): Promise<number> {
  const { code } = await runPlanned(
    args,
    io,
    ['--kernel', '--initrd', '--append'],
    [],
    async (state, p, s) => {
      const cmd = await s.run(['cat', '/proc/cmdline'], { signal: io.signal });
      const opts: Parameters<typeof planLoad>[2] = {};
      const k = flagString(p, '--kernel');
      const i = flagString(p, '--initrd');
      const a = flagString(p, '--append');
      if (k) opts.kernel = k;
      if (i) opts.initrd = i;
      if (a) opts.append = a;
      const plan = planLoad(state, cmd.stdout.trim(), opts);
      return plan;
    },
  );
  return code;
}

async function unload(args: string[], io: CliIo): Promise<number> {
  return (await runPlanned(args, io, [], [], (state) => planUnload(state))).code;
}

async function reserve(args: string[], io: CliIo): Promise<number> {
  const p = parseArgs(args, [...COMMON_VALUED], [...COMMON_BOOL, '--dry-run']);
  if (p.positional.length !== 2) {
    throw new UsageError(
      'reserve takes one HOST and one VALUE (e.g. 256M, 2G-64G:256M,64G-:512M, or default)',
    );
  }
  const [host, value] = p.positional as [string, string];
  const want = value === 'default' ? undefined : validateReservation(value).text;
  const s = sessionFor(host, p, io);
  try {
    const state = await readState(s, p, io);
    if (!state.reachable) throw new Error(`${host}: unreachable: ${state.error}`);
    const plan = planReservation(state, value);
    io.out(`${formatPlan(plan)}\n`);
    if (p.flags.has('--dry-run')) return 0;
    const done = await executePlan(s, plan, {
      signal: io.signal,
      onStep: (i, st) => io.err(`${host}: [${i + 1}/${plan.steps.length}] ${st.why}\n`),
    });
    for (const r of done) if (r.stdout.trim()) io.err(r.stdout);
    // re-read the boot configuration: the change must be there
    const after = await readState(s, p, io);
    if (want !== undefined && after.crashkernelBootloader !== want) {
      io.err(
        `${host}: after the change the boot configuration says "${after.crashkernelBootloader}", not "${want}"\n`,
      );
      return 1;
    }
    io.out(
      `${host}: next boot: ${after.crashkernelBootloader} (from ${after.bootloaderSource}); running: ${after.crashkernelCmdline || 'none'}${after.rebootPending ? '; reboot the host for it to take effect' : ''}\n`,
    );
    return 0;
  } catch (e) {
    if (e instanceof PlanRefused) {
      io.err(`${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    await s.disconnect();
  }
}

async function crash(args: string[], io: CliIo): Promise<number> {
  const p = parseArgs(
    args,
    [...COMMON_VALUED, '--confirm', '--timeout'],
    [...COMMON_BOOL, '--force', '--no-wait'],
  );
  if (p.positional.length !== 1) throw new UsageError('crash takes exactly one HOST (and --confirm HOST)');
  const host = p.positional[0]!;
  const s = sessionFor(host, p, io);
  try {
    const state = await readState(s, p, io);
    if (!state.reachable) throw new Error(`${host}: unreachable: ${state.error}`);
    const plan = planCrash(state, flagString(p, '--confirm'), { force: p.flags.has('--force') });
    io.out(`${formatPlan(plan)}\n`);
    const before = state.dumps;
    const oldBoot = state.bootId ?? (await readBootId(s, io.signal));
    const t0 = Date.now();
    await executePlan(s, plan, { signal: io.signal });
    io.err(`${host}: crash triggered (boot_id was ${oldBoot})\n`);
    if (p.flags.has('--no-wait')) return 0;
    const back = await waitForNewBoot(s, oldBoot, {
      signal: io.signal,
      timeoutMs: flagNumber(p, '--timeout', 900) * 1000,
      onProgress: (w) =>
        io.err(`${host}: waiting for the new boot… ${Math.round(w.seconds)} s (${w.last})\n`),
    });
    io.out(`${host}: back after ${((Date.now() - t0) / 1000).toFixed(1)} s with boot_id ${back.bootId}\n`);
    const after = state.dumpDir
      ? await listDumps(s, state.dumpDir, { root: state.root !== 'none', signal: io.signal })
      : [];
    const fresh = newDumps(before, after);
    if (fresh.length === 0) {
      io.err(
        `${host}: rebooted but no new dump appeared in ${state.dumpDir ?? 'the dump directory'}; check the reservation and the capture kernel's console\n`,
      );
      return 1;
    }
    for (const d of fresh)
      io.out(
        `${host}: new dump: ${d.path} ${formatBytes(d.bytes)} ${d.complete ? 'complete' : 'INCOMPLETE'}\n`,
      );
    return fresh.some((d) => d.complete) ? 0 : 1;
  } catch (e) {
    if (e instanceof PlanRefused) {
      io.err(`${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    await s.disconnect();
  }
}

async function dumpsOf(
  s: SshSession,
  p: ParsedArgs,
  io: CliIo,
): Promise<{ state: TargetState; dumps: DumpFile[]; dir: string }> {
  const state = await readState(s, p, io);
  if (!state.reachable) throw new Error(`${s.host}: unreachable: ${state.error}`);
  const dir = flagString(p, '--dir') ?? state.dumpDir;
  if (!dir) throw new Error(`${s.host}: the dump target is not a local directory; give one with --dir DIR`);
  const dumps =
    dir === state.dumpDir && !state.dumpsError
      ? state.dumps
      : await listDumps(s, dir, { root: state.root === 'root' || state.root === 'sudo', signal: io.signal });
  return { state, dumps, dir };
}

async function dumps(args: string[], io: CliIo): Promise<number> {
  const p = parseArgs(args, [...COMMON_VALUED, '--dir'], [...COMMON_BOOL, '--json']);
  if (p.positional.length !== 1) throw new UsageError('dumps takes one HOST');
  const s = sessionFor(p.positional[0]!, p, io);
  try {
    const { dumps: list, dir } = await dumpsOf(s, p, io);
    if (p.flags.has('--json')) io.out(`${JSON.stringify(list, null, 2)}\n`);
    else if (list.length === 0) io.out(`${s.host}: no dumps in ${dir}\n`);
    else
      for (const d of list)
        io.out(
          `${d.complete ? 'complete  ' : 'INCOMPLETE'} ${formatBytes(d.bytes).padStart(9)}  ${d.time}  ${d.path}\n`,
        );
    return 0;
  } finally {
    await s.disconnect();
  }
}

async function fetch(args: string[], io: CliIo): Promise<number> {
  const p = parseArgs(
    args,
    [...COMMON_VALUED, '-o', '--output', '--dir'],
    [...COMMON_BOOL, '--allow-incomplete'],
  );
  if (p.positional.length < 1 || p.positional.length > 2)
    throw new UsageError('fetch takes HOST and optionally DUMP');
  const [host, wanted] = p.positional as [string, string | undefined];
  const outDir = resolve(flagString(p, '-o') ?? flagString(p, '--output') ?? '.');
  const s = sessionFor(host, p, io);
  try {
    const { state, dumps: list } = await dumpsOf(s, p, io);
    const root = state.root === 'root' || state.root === 'sudo' || state.root === 'sudo-password';
    let dump: DumpFile | undefined;
    if (wanted) {
      dump = list.find((d) => d.path === wanted || d.path.endsWith(`/${wanted}`));
      if (!dump && wanted.startsWith('/'))
        dump = { path: wanted, bytes: 0, time: '', complete: !/incomplete/i.test(wanted) };
      if (!dump) throw new Error(`${host}: no dump "${wanted}"; see: vmcore target dumps ${host}`);
    } else {
      dump = list.find((d) => d.complete);
      if (!dump)
        throw new Error(
          `${host}: no complete dump found${list.length ? ` (only incomplete ones: ${list.map((d) => d.path).join(', ')})` : ''}`,
        );
    }
    // local name: <host>-<dump dir name>-<file> so dumps of several hosts can share a folder
    const dirName = basename(dump.path.slice(0, dump.path.lastIndexOf('/')));
    const safeHost = host.replace(/[^A-Za-z0-9._-]/g, '_');
    mkdirSync(outDir, { recursive: true });
    const local = join(outDir, `${safeHost}-${dirName}-${basename(dump.path)}`);
    let lastPct = -1;
    const r = await fetchFile(s, dump.path, local, {
      root,
      signal: io.signal,
      allowIncomplete: p.flags.has('--allow-incomplete'),
      onProgress: (pr) => {
        const pct = Math.floor((pr.bytes / Math.max(pr.total, 1)) * 100);
        if (pr.phase === 'verify') io.err(`${host}: verifying sha256…\n`);
        else if (pct >= lastPct + 10) {
          lastPct = pct;
          io.err(
            `${host}: ${pct}% ${formatBytes(pr.bytes)} of ${formatBytes(pr.total)} (${formatBytes(pr.bytesPerSecond)}/s)\n`,
          );
        }
      },
    });
    io.out(
      `${r.path}  ${formatBytes(r.bytes)}  sha256 ${r.sha256}  ${r.seconds.toFixed(1)} s${r.resumedFrom ? ` (resumed at ${formatBytes(r.resumedFrom)})` : ''}${r.complete ? '' : '  INCOMPLETE DUMP'}\n`,
    );
    if (state.kernelRelease) {
      const map = await fetchSystemMap(s, state.kernelRelease, outDir, { root, signal: io.signal });
      io.out(
        'path' in map
          ? `${map.path}  (System.map of the running kernel; check it matches the dump's)\n`
          : `System.map: ${map.skipped}\n`,
      );
    }
    if (dump.dmesg) {
      const d = await fetchFile(
        s,
        dump.dmesg,
        join(outDir, `${safeHost}-${dirName}-${basename(dump.dmesg)}`),
        { root, signal: io.signal },
      );
      io.out(`${d.path}  ${formatBytes(d.bytes)}  (kernel log saved by the capture kernel)\n`);
    }
    return 0;
  } finally {
    await s.disconnect();
  }
}

const COMMANDS: Record<string, (args: string[], io: CliIo) => Promise<number>> = {
  status,
  load,
  unload,
  reserve,
  crash,
  dumps,
  fetch,
};

/** `vmcore target <command> …` */
export async function targetCommand(args: string[], io: CliIo): Promise<number> {
  const [cmd, ...rest] = args;
  if (!cmd || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    io.out(`${TARGET_USAGE}\n`);
    return cmd ? 0 : 2;
  }
  const fn = COMMANDS[cmd];
  if (!fn) {
    io.err(`vmcore target: unknown command "${cmd}"\n\n${TARGET_USAGE}\n`);
    return 2;
  }
  if (rest.includes('-h') || rest.includes('--help')) {
    io.out(`${TARGET_USAGE}\n`);
    return 0;
  }
  try {
    return await fn(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`vmcore target ${cmd}: ${e.message}\n\n${TARGET_USAGE}\n`);
      return 2;
    }
    io.err(`vmcore target ${cmd}: ${(e as Error).message}\n`);
    return 1;
  }
}

export {
  crash as targetCrash,
  dumps as targetDumps,
  fetch as targetFetch,
  load as targetLoad,
  reserve as targetReserve,
  status as targetStatus,
  unload as targetUnload,
};
