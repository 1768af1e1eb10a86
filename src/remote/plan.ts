/**
 * Planners: an intent (reserve X, load, unload, test crash) plus a host's state → the exact list
 * of commands that will run, shown to the user before anything changes. A planner never runs
 * anything; it refuses (PlanRefused) with reasons when the host is not in a state where the
 * intent is safe or possible.
 */

import { validateReservation } from './crashkernel';
import { cmdlineWithout } from './parsers';
import { shJoin, shScript } from './quote';
import { CommandError, type CommandRunner } from './runner';
import type { TargetState } from './state';

export interface PlannedCommand {
  argv: string[];
  root: boolean;
  /** Why this step runs, in plain words. */
  why: string;
  timeoutMs?: number;
  /** The command as the user can read it (every argument shell-quoted). */
  display: string;
}

export interface Plan {
  intent: 'reserve' | 'load' | 'unload' | 'crash' | 'reboot';
  host: string;
  summary: string;
  steps: PlannedCommand[];
  warnings: string[];
  /** What has to happen for the change to take effect. */
  after: 'nothing' | 'reboot' | 'crash-and-reboot';
}

export class PlanRefused extends Error {
  override readonly name = 'PlanRefused';
  constructor(
    readonly host: string,
    readonly reasons: string[],
  ) {
    super(`${host}: refused:\n  - ${reasons.join('\n  - ')}`);
  }
}

/** A tool by the absolute path the probe found (sudo and non-root PATHs often lack sbin), else by name. */
function tool(state: TargetState, name: string): string {
  const p = state.tools[name];
  return p?.startsWith('/') ? p : name;
}

function step(argv: string[], why: string, root = true, timeoutMs?: number): PlannedCommand {
  const s: PlannedCommand = { argv, root, why, display: (root ? 'as root: ' : '') + shJoin(argv) };
  if (timeoutMs !== undefined) s.timeoutMs = timeoutMs;
  return s;
}

/** Show a plan as text: one numbered line per command. */
export function formatPlan(plan: Plan): string {
  const lines = [`${plan.host}: ${plan.summary}`];
  for (const [i, s] of plan.steps.entries()) {
    lines.push(`  ${i + 1}. ${s.why}`, `     ${s.display.replace(/\n/g, '\n     ')}`);
  }
  for (const w of plan.warnings) lines.push(`  warning: ${w}`);
  if (plan.after === 'reboot') lines.push('  then: reboot the host for the new reservation to take effect');
  return lines.join('\n');
}

function requireReachable(state: TargetState): void {
  if (!state.reachable)
    throw new PlanRefused(state.host, [`the host is not reachable: ${state.error ?? 'unknown error'}`]);
  if (state.root === 'none') {
    throw new PlanRefused(state.host, [
      'this needs root: log in as root, allow sudo for this user, or give the sudo password when asked',
    ]);
  }
}

// ------------------------------------------------------------------------------------ reserve

/**
 * Replace a file atomically with the content in "$2": backup of the old file ("$1.kdump-debug.bak-$3"),
 * write a temp file in the same directory, fsync through `sync`, rename over, then compare.
 */
export const ATOMIC_WRITE_SCRIPT = `set -eu
f=$1; content=$2; stamp=$3
dir=$(dirname -- "$f")
mkdir -p -- "$dir"
tmp=$(mktemp "$dir/.kdump-debug.XXXXXX")
trap 'rm -f -- "$tmp"' EXIT
if [ -e "$f" ]; then cp -p -- "$f" "$f.kdump-debug.bak-$stamp"; echo "backup: $f.kdump-debug.bak-$stamp"; fi
printf '%s' "$content" > "$tmp"
chmod 644 -- "$tmp"
sync
mv -f -- "$tmp" "$f"
trap - EXIT
printf '%s' "$content" | cmp -s - "$f" || { echo "verification failed: $f does not hold what was written" >&2; exit 1; }
echo "wrote: $f"
`;

/** Set KEY="VALUE" in a shell-variable file (replace the first assignment or append), atomically with backup. */
export const SET_VAR_SCRIPT = `set -eu
f=$1; key=$2; value=$3; stamp=$4
[ -f "$f" ] || { echo "no such file: $f" >&2; exit 1; }
tmp=$(mktemp "$(dirname -- "$f")/.kdump-debug.XXXXXX")
trap 'rm -f -- "$tmp"' EXIT
cp -p -- "$f" "$f.kdump-debug.bak-$stamp"; echo "backup: $f.kdump-debug.bak-$stamp"
awk -v k="$key" -v v="$value" 'BEGIN{done=0} !done && $0 ~ "^[ \\t]*"k"=" {print k"=\\""v"\\""; done=1; next} {print} END{if(!done) print k"=\\""v"\\""}' "$f" > "$tmp"
chmod --reference="$f" "$tmp" 2>/dev/null || chmod 644 "$tmp"
sync
mv -f -- "$tmp" "$f"
trap - EXIT
grep -q "^$key=\\"$value\\"\\$" "$f" || { echo "verification failed: $key not set in $f" >&2; exit 1; }
echo "set $key in $f"
`;

/** The drop-in kdump-tools ships, which update-grub sources after /etc/default/grub. */
export const DEBIAN_DROPIN = '/etc/default/grub.d/kdump-tools.cfg';
/** Our own drop-in for hosts without kdump-tools. */
export const OWN_DROPIN = '/etc/default/grub.d/kdump-debug.cfg';

export interface ReserveOptions {
  /** Backup suffix; default: UTC time stamp. */
  stamp?: string;
}

function stampNow(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
}

/**
 * Plan a persistent `crashkernel=` change. `value` is "default" (the distro tool's default where
 * it has one) or a value in the crashkernel grammar ("256M", "2G-64G:256M,64G-:512M",
 * "crashkernel=512M,high crashkernel=72M,low").
 */
export function planReservation(state: TargetState, value: string, options: ReserveOptions = {}): Plan {
  requireReachable(state);
  const stamp = options.stamp ?? stampNow();
  const warnings: string[] = [];
  const steps: PlannedCommand[] = [];
  const tools = state.tools;
  let text: string | undefined;
  if (value !== 'default') {
    const v = validateReservation(value);
    text = v.text;
    warnings.push(...v.warnings);
  }
  const grubConfigured = state.bootloaderSource?.startsWith('/etc/default/grub') === true;

  if (state.flavour === 'kdumpctl' || tools.grubby) {
    if (tools.grubby) {
      steps.push(
        step(
          shScript(
            'set -e; d=/boot/loader/entries; [ -d "$d" ] || exit 0; mkdir -p /var/backups; tar -C /boot/loader -cf "/var/backups/kdump-debug-loader-entries-$1.tar" entries; echo "backup: /var/backups/kdump-debug-loader-entries-$1.tar"',
            stamp,
          ),
          'back up the boot loader entries',
        ),
      );
    }
    if (text === undefined) {
      if (!tools.kdumpctl)
        throw new PlanRefused(state.host, ['"default" needs kdumpctl on this host; give a size instead']);
      steps.push(
        step(
          [tool(state, 'kdumpctl'), 'reset-crashkernel', '--kernel=ALL'],
          "set every boot entry to kdumpctl's default",
        ),
      );
    } else {
      steps.push(
        step(
          [tool(state, 'grubby'), '--update-kernel=ALL', '--remove-args=crashkernel'],
          'drop the old crashkernel= from every entry',
        ),
        step(
          [tool(state, 'grubby'), '--update-kernel=ALL', `--args=${text}`],
          `add ${text} to every boot entry`,
        ),
      );
    }
    if (state.arch === 's390x') steps.push(step(['zipl'], 'write the s390x boot record'));
    steps.push(step([tool(state, 'grubby'), '--info=ALL'], 're-read the boot entries to verify', true));
  } else if (state.flavour === 'suse') {
    if (text === undefined) {
      steps.push(
        step(
          shScript(SET_VAR_SCRIPT, '/etc/sysconfig/kdump', 'KDUMP_CRASHKERNEL', 'auto', stamp),
          'let kdumptool compute the size (KDUMP_CRASHKERNEL=auto)',
        ),
      );
    } else {
      steps.push(
        step(
          shScript(SET_VAR_SCRIPT, '/etc/sysconfig/kdump', 'KDUMP_CRASHKERNEL', text, stamp),
          `set KDUMP_CRASHKERNEL="${text}"`,
        ),
      );
    }
    steps.push(step([tool(state, 'kdumptool'), 'commandline', '-u'], 'write it to the boot loader (pbl)'));
  } else if (tools['update-grub'] || tools['grub-mkconfig'] || tools['grub2-mkconfig'] || grubConfigured) {
    const dropin = state.flavour === 'kdump-tools' ? DEBIAN_DROPIN : OWN_DROPIN;
    const v = text ?? (state.flavour === 'kdump-tools' ? 'crashkernel=384M-:128M' : undefined);
    if (v === undefined)
      throw new PlanRefused(state.host, [
        'this host has no distro default for crashkernel=; give a size such as 256M',
      ]);
    if (text === undefined) warnings.push(`"default" here is Debian kdump-tools' preset ${v}`);
    const others = (state.bootloaderSource ?? '')
      .split(', ')
      .filter((f) => f.startsWith('/etc/default/grub') && f !== dropin && state.crashkernelBootloader);
    if (others.length) {
      warnings.push(
        `${others.join(', ')} also set crashkernel=; the drop-in is read last so its value wins, but remove the old one to avoid confusion`,
      );
    }
    const content = `# written by kdump-debug ${stamp}; the previous file is kept as ${dropin}.kdump-debug.bak-${stamp}\nGRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT ${v}"\n`;
    steps.push(
      step(
        shScript(ATOMIC_WRITE_SCRIPT, dropin, content, stamp),
        `write ${dropin} (backup kept, atomic rename)`,
      ),
    );
    if (tools['update-grub'])
      steps.push(step([tool(state, 'update-grub')], 'regenerate grub.cfg', true, 300_000));
    else if (tools['grub2-mkconfig'])
      steps.push(
        step(
          [tool(state, 'grub2-mkconfig'), '-o', '/boot/grub2/grub.cfg'],
          'regenerate grub.cfg',
          true,
          300_000,
        ),
      );
    else if (tools['grub-mkconfig'])
      steps.push(
        step(
          [tool(state, 'grub-mkconfig'), '-o', '/boot/grub/grub.cfg'],
          'regenerate grub.cfg',
          true,
          300_000,
        ),
      );
    else warnings.push('no grub-mkconfig/update-grub found: regenerate the boot loader config yourself');
  } else {
    throw new PlanRefused(state.host, [
      'no supported boot loader configuration found (grubby, /etc/default/grub, SUSE kdump): add crashkernel= to the kernel command line with your boot loader, then reboot',
    ]);
  }
  if (state.memTotalBytes !== null && state.memTotalBytes < 2 * 2 ** 30 && text === undefined) {
    warnings.push('the host has less than 2 GiB of RAM: the distro default ranges may reserve nothing there');
  }
  return {
    intent: 'reserve',
    host: state.host,
    summary: `persist ${text ?? 'the distro default crashkernel='} for the next boot (now: ${state.crashkernelCmdline || 'none'})`,
    steps,
    warnings,
    after: 'reboot',
  };
}

// ------------------------------------------------------------------------------------ load

export interface LoadOptions {
  /** Capture kernel image (flavour "none"); default /boot/vmlinuz-<release>. */
  kernel?: string;
  /** Capture initrd (flavour "none"); default: a kdump initrd found in /boot or /var/lib/kdump. */
  initrd?: string;
  /** Capture command line; default: the running one minus crashkernel= etc. plus kdump arguments. */
  append?: string;
}

/** Words removed from the running command line for the capture kernel (Debian + kdump-utils lists). */
const CAPTURE_DROP = [
  'crashkernel',
  'BOOT_IMAGE',
  'hugepages',
  'hugepagesz',
  'abm',
  'panic_on_warn',
  'kdump_test_id',
];

function captureAppend(state: TargetState, cmdline: string): string {
  const words = cmdlineWithout(cmdline, CAPTURE_DROP);
  const extra =
    state.arch === 'x86_64' || state.arch === 'i686'
      ? ['reset_devices', 'nr_cpus=1', 'irqpoll', 'usbcore.nousb', 'panic=10']
      : ['reset_devices', 'nr_cpus=1', 'irqpoll', 'panic=10'];
  for (const e of extra) {
    const key = e.split('=')[0]!;
    if (!words.some((w) => w === e || w.startsWith(`${key}=`))) words.push(e);
  }
  return words.join(' ');
}

function loadPreconditions(state: TargetState): string[] {
  const reasons: string[] = [];
  if (state.reservedBytes === null)
    reasons.push('the kernel has no kexec crash support (no /sys/kernel/kexec_crash_size)');
  else if (state.reservedBytes === 0)
    reasons.push(
      'no memory is reserved for a capture kernel: configure crashkernel= ("Configure Crash Kernel Reservation") and reboot',
    );
  if (state.kexecLoadDisabled)
    reasons.push('kexec is disabled until the next reboot (kernel.kexec_load_disabled=1)');
  return reasons;
}

/** Does kexec need the file-load syscall (-s) on this host? */
export function needsFileLoad(state: TargetState): boolean {
  return state.secureBoot === true || (state.lockdown !== null && state.lockdown !== 'none');
}

/**
 * Plan loading the capture kernel. `cmdline` is the running kernel's /proc/cmdline (for flavour
 * "none", to derive the capture command line).
 */
export function planLoad(state: TargetState, cmdline: string, options: LoadOptions = {}): Plan {
  requireReachable(state);
  const reasons = loadPreconditions(state);
  if (reasons.length) throw new PlanRefused(state.host, reasons);
  const warnings: string[] = [];
  const steps: PlannedCommand[] = [];
  const verify = step(['cat', loadedPath(state)], 'verify: 1 means the capture kernel is loaded', false);
  switch (state.flavour) {
    case 'kdumpctl':
      steps.push(
        step(
          [tool(state, 'kdumpctl'), 'restart'],
          'load the capture kernel with kdumpctl (rebuilds the kdump initrd if needed)',
          true,
          600_000,
        ),
      );
      break;
    case 'kdump-tools':
      steps.push(
        step(
          [tool(state, 'kdump-config'), state.captureLoaded ? 'reload' : 'load'],
          'load the capture kernel with kdump-tools',
          true,
          600_000,
        ),
      );
      break;
    case 'suse':
      steps.push(
        step(
          [tool(state, 'systemctl'), 'restart', 'kdump.service'],
          'load the capture kernel with the kdump service',
          true,
          600_000,
        ),
      );
      break;
    case 'none': {
      if (!state.tools.kexec)
        throw new PlanRefused(state.host, ['kexec is not installed (package kexec-tools)']);
      const rel = state.kernelRelease ?? '';
      const kernel =
        options.kernel ?? (state.bootFiles.includes(`vmlinuz-${rel}`) ? `/boot/vmlinuz-${rel}` : undefined);
      if (!kernel)
        throw new PlanRefused(state.host, [
          `no /boot/vmlinuz-${rel}; pass the capture kernel with --kernel PATH`,
        ]);
      const initrdCandidates = [`initrd.img-${rel}`, `initramfs-${rel}kdump.img`, `initramfs-${rel}.img`];
      const found = initrdCandidates.find((c) => state.bootFiles.includes(c));
      const initrd = options.initrd ?? (found ? `/boot/${found}` : undefined);
      if (!initrd) {
        throw new PlanRefused(state.host, [
          `no initrd for the capture kernel found in /boot (looked for ${initrdCandidates.join(', ')}); pass one with --initrd PATH`,
        ]);
      }
      const append = options.append ?? captureAppend(state, cmdline);
      const argv = [tool(state, 'kexec'), '-p'];
      if (needsFileLoad(state)) {
        argv.push('-s');
        warnings.push(
          'lockdown/Secure Boot is active: loading with kexec_file_load (-s); the kernel must be signed',
        );
      }
      argv.push(kernel, `--initrd=${initrd}`, `--append=${append}`);
      steps.push(step(argv, 'load the capture kernel with kexec', true, 120_000));
      break;
    }
  }
  steps.push(verify);
  if (state.sysctl.panic === 0) warnings.push('kernel.panic=0: a failed capture would leave the host hung');
  return {
    intent: 'load',
    host: state.host,
    summary: `load the capture kernel (${state.flavour === 'none' ? 'kexec -p' : state.flavour})`,
    steps,
    warnings,
    after: 'nothing',
  };
}

function loadedPath(state: TargetState): string {
  return state.crashLoadedFile ?? '/sys/kernel/kexec_crash_loaded';
}

export function planUnload(state: TargetState): Plan {
  requireReachable(state);
  const steps: PlannedCommand[] = [];
  switch (state.flavour) {
    case 'kdumpctl':
      steps.push(step([tool(state, 'kdumpctl'), 'stop'], 'unload the capture kernel with kdumpctl'));
      break;
    case 'kdump-tools':
      steps.push(step([tool(state, 'kdump-config'), 'unload'], 'unload the capture kernel with kdump-tools'));
      break;
    case 'suse':
      steps.push(
        step(
          [tool(state, 'systemctl'), 'stop', 'kdump.service'],
          'unload the capture kernel (stop the kdump service)',
        ),
      );
      break;
    case 'none': {
      if (!state.tools.kexec)
        throw new PlanRefused(state.host, ['kexec is not installed (package kexec-tools)']);
      steps.push(
        step(
          needsFileLoad(state)
            ? [tool(state, 'kexec'), '-s', '-p', '-u']
            : [tool(state, 'kexec'), '-p', '-u'],
          'unload the capture kernel',
        ),
      );
      break;
    }
  }
  steps.push(step(['cat', loadedPath(state)], 'verify: 0 means no capture kernel is loaded', false));
  return {
    intent: 'unload',
    host: state.host,
    summary: 'unload the capture kernel',
    steps,
    warnings: [],
    after: 'nothing',
  };
}

// ------------------------------------------------------------------------------------ crash

/** The detached trigger: the ssh command returns before the kernel panics. */
export const CRASH_SCRIPT = 'sync; (sleep 2; echo c > /proc/sysrq-trigger) > /dev/null 2>&1 < /dev/null &';

/** The pre-flight gate of a test crash (kdump-arming.md §4.2): hard refusals and soft warnings. */
export function crashChecks(
  state: TargetState,
  confirm: string | undefined,
): { hard: string[]; soft: string[] } {
  const hard: string[] = [];
  const soft: string[] = [];
  if (confirm !== state.host) {
    hard.push(
      confirm === undefined
        ? `a test crash needs the host name typed as confirmation: --confirm ${state.host}`
        : `the confirmation "${confirm}" does not match the host "${state.host}"`,
    );
  }
  if (state.captureLoaded !== true)
    hard.push('no capture kernel is loaded: a crash now would produce no dump; load it first');
  if (!state.reservedBytes) hard.push('no memory is reserved for a capture kernel');
  if (state.dumpDir === null)
    soft.push('the dump target is not a local directory; the new dump will not be found automatically');
  if (state.sysctl.panic === 0)
    soft.push('kernel.panic=0: if the capture kernel fails, the host hangs until power-cycled');
  if (state.rebootPending)
    soft.push('a reboot is pending with a different crashkernel= (the next boot will differ from now)');
  return { hard, soft };
}

/**
 * Plan a test crash. `confirm` must equal the host name the user sees (the name they typed);
 * `force` accepts the soft warnings (kernel.panic=0, reboot pending) but never the hard ones.
 */
export function planCrash(
  state: TargetState,
  confirm: string | undefined,
  options: { force?: boolean } = {},
): Plan {
  requireReachable(state);
  const { hard, soft } = crashChecks(state, confirm);
  if (hard.length) throw new PlanRefused(state.host, hard);
  if (soft.length && !options.force)
    throw new PlanRefused(state.host, [...soft, 'pass --force to crash anyway']);
  return {
    intent: 'crash',
    host: state.host,
    summary: `CRASH ${state.host} (${state.hostname ?? ''} ${state.kernelRelease ?? ''}) with sysrq-trigger "c"; it will panic, save a dump and reboot`,
    steps: [
      step(
        ['sh', '-c', CRASH_SCRIPT],
        'sync, then panic the kernel two seconds later (detached)',
        true,
        30_000,
      ),
    ],
    warnings: soft,
    after: 'crash-and-reboot',
  };
}

// ------------------------------------------------------------------------------------ execute

export interface StepResult {
  step: PlannedCommand;
  stdout: string;
  stderr: string;
}

/** Run a plan's steps in order; stops at the first failure with a CommandError naming the step. */
export async function executePlan(
  runner: CommandRunner,
  plan: Plan,
  options: { signal?: AbortSignal; onStep?: (index: number, step: PlannedCommand) => void } = {},
): Promise<StepResult[]> {
  const results: StepResult[] = [];
  for (const [i, s] of plan.steps.entries()) {
    options.signal?.throwIfAborted();
    options.onStep?.(i, s);
    const r = await runner.run(s.argv, {
      root: s.root,
      signal: options.signal,
      timeoutMs: s.timeoutMs ?? 120_000,
    });
    if (r.code !== 0) throw new CommandError(runner.host, s.argv, r, `step ${i + 1} (${s.why})`);
    results.push({ step: s, stdout: r.stdout, stderr: r.stderr });
  }
  return results;
}

// ------------------------------------------------------------------------------------ reboot

/** Detached reboot, so the ssh command returns first. */
export const REBOOT_SCRIPT =
  'sync; (sleep 2; if command -v systemctl > /dev/null 2>&1; then systemctl reboot; else reboot; fi) > /dev/null 2>&1 < /dev/null &';

/** Plan a reboot (to apply a new reservation); `confirm` must equal the host name. */
export function planReboot(state: TargetState, confirm: string | undefined): Plan {
  requireReachable(state);
  if (confirm !== state.host) {
    throw new PlanRefused(state.host, [
      confirm === undefined
        ? `a reboot needs the host name typed as confirmation (${state.host})`
        : `the confirmation "${confirm}" does not match the host "${state.host}"`,
    ]);
  }
  return {
    intent: 'reboot',
    host: state.host,
    summary: `REBOOT ${state.host} (${state.hostname ?? ''} ${state.kernelRelease ?? ''})${state.rebootPending ? ` so that ${state.crashkernelBootloader} takes effect` : ''}`,
    steps: [
      step(['sh', '-c', REBOOT_SCRIPT], 'sync, then reboot two seconds later (detached)', true, 30_000),
    ],
    warnings: [],
    after: 'nothing',
  };
}
