/**
 * The read-only probe: one constant shell script run on the host (no user text in it), printing
 * sections that parsers.ts reads. A second small call lists the dump directory.
 */
import {
  cmdlineCrashkernel,
  type DumpFile,
  evalShellAssignments,
  grubbyEntryFor,
  iomemBytes,
  kdumpConfPath,
  parseDumpListing,
  parseEfiVarByte,
  parseGrubbyInfo,
  parseGrubDefaults,
  parseIntFile,
  parseIomemCrashKernel,
  parseKdumpConfigShow,
  parseKdumpctlStatus,
  parseLockdown,
  parseMemTotal,
  parseOsRelease,
  parseSystemctlWord,
  suseSaveDir,
} from './parsers';
import { shScript } from './quote';
import type { CommandRunner } from './runner';
import type { Flavour, RootAccess, ServiceState, TargetState } from './state';

const EFI_GUID = '8be4df61-93ca-11d2-aa0d-00e098032b8c';

/** Files the probe prints verbatim when readable. */
export const PROBE_FILES = [
  '/etc/os-release',
  '/proc/cmdline',
  '/proc/sys/kernel/random/boot_id',
  '/sys/kernel/kexec/crash_size',
  '/sys/kernel/kexec_crash_size',
  '/sys/kernel/kexec/crash_loaded',
  '/sys/kernel/kexec_crash_loaded',
  '/sys/kernel/security/lockdown',
  '/proc/sys/kernel/kexec_load_disabled',
  '/proc/sys/kernel/panic',
  '/proc/sys/kernel/panic_on_oops',
  '/proc/sys/kernel/sysrq',
  '/etc/default/grub',
  '/etc/default/kdump-tools',
  '/etc/kdump.conf',
  '/etc/sysconfig/kdump',
] as const;

const TOOLS = [
  'kdumpctl',
  'kdump-config',
  'kdumptool',
  'kexec',
  'grubby',
  'update-grub',
  'grub-mkconfig',
  'grub2-mkconfig',
  'makedumpfile',
  'systemctl',
  'sha256sum',
  'sudo',
  'mokutil',
];

export const PROBE_SCRIPT = `
# non-root users (and sudo without secure_path) often lack the sbin directories
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin; export PATH
s() { printf '\\n@@kdd %s\\n' "$1"; }
f() { for p in "$@"; do if [ -f "$p" ] && [ -r "$p" ]; then s "file $p"; cat -- "$p" 2>/dev/null; fi; done; }
s id; id -u; id -un 2>/dev/null
s uname; uname -r; uname -m
s hostname; cat /proc/sys/kernel/hostname 2>/dev/null
f ${PROBE_FILES.join(' ')}
for p in /etc/default/grub.d/*.cfg; do f "$p"; done
s meminfo; grep MemTotal /proc/meminfo
s iomem; grep -i 'crash kernel' /proc/iomem 2>/dev/null
[ -d /sys/firmware/efi ] && s efi
for v in SecureBoot SetupMode; do p=/sys/firmware/efi/efivars/$v-${EFI_GUID}; if [ -r "$p" ]; then s "efivar $v"; od -An -t u1 "$p"; fi; done
s tools
for t in ${TOOLS.join(' ')}; do p=$(command -v "$t" 2>/dev/null) && echo "$t $p"; done
[ -x /usr/lib/kdump/load.sh ] && echo "load.sh /usr/lib/kdump/load.sh"
if command -v systemctl >/dev/null 2>&1; then
  for u in kdump kdump-tools; do s "unit $u"; systemctl is-enabled "$u.service" 2>/dev/null; echo; systemctl is-active "$u.service" 2>/dev/null; done
fi
if command -v kdumpctl >/dev/null 2>&1; then s kdumpctl-status; kdumpctl status 2>&1; echo "@@rc $?"; fi
if command -v kdump-config >/dev/null 2>&1; then s kdump-config-show; kdump-config show 2>&1; fi
if command -v grubby >/dev/null 2>&1; then s grubby; grubby --info=ALL 2>&1; fi
s boot; ls -1 /boot 2>/dev/null
s end
`;

/** The dump listing: every regular file one and two levels below "$1" as SIZE MTIME PATH. */
export const LIST_DUMPS_SCRIPT = `
[ -d "$1" ] || { echo "no such directory: $1" >&2; exit 3; }
for p in "$1"/* "$1"/*/*; do
  [ -f "$p" ] && stat -c '%s %Y %n' -- "$p"
done
exit 0
`;

/** Split probe output into sections: "file /proc/cmdline" → text. */
export function splitSections(out: string): Map<string, string> {
  const map = new Map<string, string>();
  const parts = out.split(/\n@@kdd /);
  for (const part of parts.slice(1)) {
    const nl = part.indexOf('\n');
    const name = nl < 0 ? part : part.slice(0, nl);
    map.set(name, nl < 0 ? '' : part.slice(nl + 1));
  }
  return map;
}

export function detectFlavour(tools: Record<string, string>): Flavour {
  if (tools.kdumpctl) return 'kdumpctl';
  if (tools['kdump-config']) return 'kdump-tools';
  if (tools.kdumptool || tools['load.sh']) return 'suse';
  return 'none';
}

function normalizeCk(s: string | null): string {
  return (s ?? '').trim().split(/\s+/).filter(Boolean).join(' ');
}

/** Build a TargetState from probe output (pure: unit-tested on recorded outputs). */
export function parseProbe(host: string, out: string, root: RootAccess | 'unknown'): TargetState {
  const sec = splitSections(out);
  const file = (p: string) => sec.get(`file ${p}`);
  const lines = (name: string) =>
    (sec.get(name) ?? '')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '');
  const [, user] = lines('id');
  const [kernelRelease, arch] = lines('uname');
  const tools: Record<string, string> = {};
  for (const l of lines('tools')) {
    const i = l.indexOf(' ');
    if (i > 0) tools[l.slice(0, i)] = l.slice(i + 1);
  }
  const flavour = detectFlavour(tools);
  const cmdline = file('/proc/cmdline');
  const problems: string[] = [];

  // boot-loader persistence
  let crashkernelBootloader: string | null = null;
  let bootloaderSource: string | null = null;
  const grubFiles = [...sec.entries()]
    .filter(([k]) => k === 'file /etc/default/grub' || /^file \/etc\/default\/grub\.d\/.*\.cfg$/.test(k))
    .map(([k, text]) => ({ path: k.slice(5), text }));
  const grubbyText = sec.get('grubby');
  if (grubbyText !== undefined && kernelRelease) {
    const entry = grubbyEntryFor(parseGrubbyInfo(grubbyText), kernelRelease);
    if (entry) {
      crashkernelBootloader = cmdlineCrashkernel(entry.args);
      bootloaderSource = `grubby entry ${entry.index} (${entry.kernel})`;
    }
  } else if (flavour === 'suse' && file('/etc/sysconfig/kdump') !== undefined) {
    const v = evalShellAssignments([
      { path: '/etc/sysconfig/kdump', text: file('/etc/sysconfig/kdump')! },
    ]).vars.get('KDUMP_CRASHKERNEL');
    if (v !== undefined && v !== 'auto' && v !== '') {
      crashkernelBootloader = v
        .split(/\s+/)
        .filter(Boolean)
        .map((t) => (t.startsWith('crashkernel=') ? t : `crashkernel=${t}`))
        .join(' ');
      bootloaderSource = '/etc/sysconfig/kdump KDUMP_CRASHKERNEL';
    }
  } else if (grubFiles.length > 0) {
    const g = parseGrubDefaults(grubFiles);
    crashkernelBootloader = g.crashkernel;
    bootloaderSource = g.crashkernelFiles.length ? g.crashkernelFiles.join(', ') : '/etc/default/grub';
  }
  const crashkernelCmdline = cmdline === undefined ? null : cmdlineCrashkernel(cmdline);
  const rebootPending =
    crashkernelBootloader !== null &&
    crashkernelCmdline !== null &&
    normalizeCk(crashkernelBootloader) !== normalizeCk(crashkernelCmdline);

  const sizeText = file('/sys/kernel/kexec/crash_size') ?? file('/sys/kernel/kexec_crash_size');
  const reservedBytes = parseIntFile(sizeText) ?? null;
  const crashLoadedFile =
    ['/sys/kernel/kexec/crash_loaded', '/sys/kernel/kexec_crash_loaded'].find((p) => file(p) !== undefined) ??
    null;
  const loadedText = crashLoadedFile ? file(crashLoadedFile) : undefined;
  const loaded = parseIntFile(loadedText);
  const iomem = parseIomemCrashKernel(sec.get('iomem') ?? '');
  const reservedRanges = iomem.hidden
    ? null
    : iomem.ranges.map((r) => ({ start: `0x${r.start.toString(16)}`, end: `0x${r.end.toString(16)}` }));
  if (reservedBytes !== null && !iomem.hidden && reservedRanges && reservedRanges.length > 0) {
    const sum = Number(iomemBytes(iomem.ranges));
    // crash_size covers the main chunk; a ,low chunk shows as a second iomem line
    if (sum < reservedBytes)
      problems.push(`/proc/iomem shows ${sum} bytes reserved but crash_size says ${reservedBytes}`);
  }

  // service
  let service: ServiceState | null = null;
  const unitName = flavour === 'kdump-tools' ? 'kdump-tools' : flavour === 'none' ? undefined : 'kdump';
  if (unitName && sec.has(`unit ${unitName}`)) {
    const [enabledText = '', activeText = ''] = (sec.get(`unit ${unitName}`) ?? '').split('\n\n');
    service = { unit: `${unitName}.service` };
    const en = parseSystemctlWord(enabledText);
    const ac = parseSystemctlWord(activeText);
    if (en) service.enabled = en;
    if (ac) service.active = ac;
  }

  let toolVerdict: TargetState['toolVerdict'] = null;
  const kstatus = sec.get('kdumpctl-status');
  if (kstatus !== undefined) {
    const m = /@@rc ([0-9]+)/.exec(kstatus);
    const text = kstatus.replace(/@@rc [0-9]+\s*$/, '').trim();
    const st = parseKdumpctlStatus(text, m ? Number(m[1]) : null);
    toolVerdict = { ready: st.operational, text };
  }
  const kshow = sec.get('kdump-config-show');
  let coreDir: string | undefined;
  if (kshow !== undefined) {
    const st = parseKdumpConfigShow(kshow);
    toolVerdict = { ready: st.ready, text: kshow.trim() };
    coreDir = st.coreDir;
  }

  // dump directory from the distro config
  let dumpDir: string | null = '/var/crash';
  if (flavour === 'kdump-tools') {
    const cfg = file('/etc/default/kdump-tools');
    const v = cfg ? evalShellAssignments([{ path: '/etc/default/kdump-tools', text: cfg }]).vars : new Map();
    dumpDir = v.get('KDUMP_COREDIR') || coreDir || '/var/crash';
    if (v.get('SSH') || v.get('NFS') || v.get('FTP'))
      problems.push(
        'dumps go to a remote target (SSH/NFS/FTP in /etc/default/kdump-tools); only local dumps are listed',
      );
  } else if (flavour === 'kdumpctl') {
    const cfg = file('/etc/kdump.conf');
    const c = kdumpConfPath(cfg ?? '');
    dumpDir = c.local ? c.path : null;
    if (!c.local)
      problems.push('/etc/kdump.conf names a remote or separate-device target; dumps there are not listed');
  } else if (flavour === 'suse') {
    const cfg = file('/etc/sysconfig/kdump');
    const v = cfg ? evalShellAssignments([{ path: '/etc/sysconfig/kdump', text: cfg }]).vars : new Map();
    dumpDir = suseSaveDir(v.get('KDUMP_SAVEDIR')) ?? null;
  }

  const sb = parseEfiVarByte(sec.get('efivar SecureBoot'));
  const setup = parseEfiVarByte(sec.get('efivar SetupMode'));
  const secureBoot = sb === undefined ? (sec.has('efi') ? false : null) : sb === 1 && setup !== 1;
  const lockdown = parseLockdown(file('/sys/kernel/security/lockdown')) ?? null;
  const disabled = parseIntFile(file('/proc/sys/kernel/kexec_load_disabled'));
  const sysctl = {
    panic: parseIntFile(file('/proc/sys/kernel/panic')) ?? null,
    panic_on_oops: parseIntFile(file('/proc/sys/kernel/panic_on_oops')) ?? null,
    sysrq: parseIntFile(file('/proc/sys/kernel/sysrq')) ?? null,
  };
  const os = parseOsRelease(file('/etc/os-release') ?? '');

  if (reservedBytes === null)
    problems.push('the kernel has no kexec crash support (no crash_size in /sys/kernel)');
  else if (reservedBytes === 0)
    problems.push(
      crashkernelCmdline
        ? `${crashkernelCmdline} is on the command line but nothing is reserved (too little RAM for the ranges, or the reservation failed at boot)`
        : 'no memory is reserved for a capture kernel: configure crashkernel= and reboot',
    );
  if (loaded === 0) problems.push('no capture kernel is loaded: a panic now would not produce a dump');
  if (disabled === 1) problems.push('kexec is disabled until reboot (kernel.kexec_load_disabled=1)');
  if (sysctl.panic === 0)
    problems.push('kernel.panic=0: if the capture fails the machine hangs until power-cycled');
  if (rebootPending)
    problems.push(
      `reboot pending: the boot loader has ${quotedOrNone(crashkernelBootloader)} but the running kernel has ${quotedOrNone(crashkernelCmdline)}`,
    );

  return {
    host,
    reachable: true,
    hostname: lines('hostname')[0],
    kernelRelease,
    arch,
    os: os.PRETTY_NAME ?? os.NAME,
    bootId: file('/proc/sys/kernel/random/boot_id')?.trim(),
    // the access mode the caller found (a probe run through sudo also sees uid 0)
    root: root === 'unknown' && (user === 'root' || lines('id')[0] === '0') ? 'root' : root,
    flavour,
    tools,
    crashkernelCmdline,
    crashkernelBootloader,
    bootloaderSource,
    rebootPending,
    reservedBytes,
    reservedRanges,
    captureLoaded: loaded === undefined ? null : loaded === 1,
    crashLoadedFile,
    kexecLoadDisabled: disabled === undefined ? null : disabled === 1,
    service,
    toolVerdict,
    lockdown,
    secureBoot,
    sysctl,
    memTotalBytes: parseMemTotal(sec.get('meminfo') ?? '') ?? null,
    bootFiles: lines('boot'),
    dumpDir,
    dumps: [],
    problems,
  };
}

/** A state for a host that could not be reached. */
export function unreachableState(host: string, error: string): TargetState {
  return {
    host,
    reachable: false,
    error,
    root: 'unknown',
    flavour: 'none',
    tools: {},
    crashkernelCmdline: null,
    crashkernelBootloader: null,
    bootloaderSource: null,
    rebootPending: false,
    reservedBytes: null,
    reservedRanges: null,
    captureLoaded: null,
    crashLoadedFile: null,
    kexecLoadDisabled: null,
    service: null,
    toolVerdict: null,
    lockdown: null,
    secureBoot: null,
    sysctl: { panic: null, panic_on_oops: null, sysrq: null },
    memTotalBytes: null,
    bootFiles: [],
    dumpDir: null,
    dumps: [],
    problems: [error],
  };
}

export interface ProbeOptions {
  /** Run the probe as root (addresses in /proc/iomem, grubby, kdump-config show, root-only dumps). */
  root: boolean;
  rootAccess?: RootAccess | 'unknown';
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** List the dumps in a directory on the host. */
export async function listDumps(
  runner: CommandRunner,
  dir: string,
  options: { root: boolean; signal?: AbortSignal },
): Promise<DumpFile[]> {
  const r = await runner.run(shScript(LIST_DUMPS_SCRIPT, dir), {
    root: options.root,
    signal: options.signal,
    timeoutMs: 30_000,
  });
  if (r.code !== 0)
    throw new Error(`${runner.host}: cannot list ${dir}: ${r.stderr.trim() || `exit status ${r.code}`}`);
  return parseDumpListing(r.stdout);
}

/** Read everything about a host in two round trips. Never throws for an unreachable host. */
export async function probeTarget(runner: CommandRunner, options: ProbeOptions): Promise<TargetState> {
  let r: Awaited<ReturnType<CommandRunner['run']>>;
  try {
    r = await runner.run(['sh', '-c', PROBE_SCRIPT], {
      root: options.root,
      signal: options.signal,
      timeoutMs: options.timeoutMs ?? 60_000,
    });
  } catch (e) {
    if (options.signal?.aborted) throw e;
    return unreachableState(runner.host, (e as Error).message);
  }
  if (!r.stdout.includes('@@kdd end')) {
    const why = r.timedOut ? 'timed out' : r.stderr.trim() || `ssh exited with status ${r.code}`;
    return unreachableState(runner.host, why);
  }
  const state = parseProbe(runner.host, r.stdout, options.rootAccess ?? (options.root ? 'root' : 'none'));
  if (state.dumpDir) {
    try {
      state.dumps = await listDumps(runner, state.dumpDir, { root: options.root, signal: options.signal });
    } catch (e) {
      if (options.signal?.aborted) throw e;
      // The state belongs to the host already: its name need not lead the message again.
      const message = (e as Error).message;
      state.dumpsError = message.startsWith(`${runner.host}: `)
        ? message.slice(runner.host.length + 2)
        : message;
    }
  }
  return state;
}

/** A crashkernel= value for a message: quoted, or `none` when there is none. */
function quotedOrNone(value: string | null | undefined): string {
  return value ? `"${value}"` : 'none';
}
