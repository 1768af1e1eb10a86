/**
 * What the "Kdump Targets" tree shows for a host, as plain data (no vscode): the extension maps
 * these nodes to TreeItems; tests check them on recorded states.
 */
import { formatBytes } from './cli/args';
import type { DumpFile } from './parsers';
import type { TargetState } from './state';

/** Icon names: target-* map to the extension's media/{light,dark}/target-*.svg; others are codicons. */
export type NodeIcon =
  | 'target-armed'
  | 'target-unarmed'
  | 'target-error'
  | 'target'
  | 'busy'
  | 'ok'
  | 'warning'
  | 'error'
  | 'info'
  | 'dump'
  | 'dump-incomplete';

export interface TargetNode {
  /** Stable id (host + row). */
  id: string;
  host: string;
  label: string;
  description?: string;
  tooltip?: string;
  icon?: NodeIcon;
  /** For menus: kdumpTarget(.armed|.unarmed|.unreachable|.busy), kdumpDump, kdumpDumpIncomplete. */
  contextValue?: string;
  children?: TargetNode[];
  dump?: DumpFile;
}

export type TargetBadge = 'armed' | 'unarmed' | 'not-reserved' | 'unsupported' | 'unreachable' | 'unknown';

export function badge(state: TargetState | undefined): TargetBadge {
  if (!state) return 'unknown';
  if (!state.reachable) return 'unreachable';
  if (state.reservedBytes === null) return 'unsupported';
  if (state.reservedBytes === 0) return 'not-reserved';
  return state.captureLoaded ? 'armed' : 'unarmed';
}

const BADGE_TEXT: Record<TargetBadge, string> = {
  armed: 'armed',
  unarmed: 'reserved, not armed',
  'not-reserved': 'no memory reserved',
  unsupported: 'no kexec crash support',
  unreachable: 'unreachable',
  unknown: 'not read yet',
};

/** One host with its rows. `busy` is a line of what is going on (a crash in flight, a fetch). */
export function targetNode(host: string, state: TargetState | undefined, busy?: string): TargetNode {
  const b = badge(state);
  const id = (row: string) => `${host}::${row}`;
  const icon: NodeIcon = busy
    ? 'busy'
    : b === 'armed'
      ? 'target-armed'
      : b === 'unreachable' || b === 'unsupported'
        ? 'target-error'
        : b === 'unknown'
          ? 'target'
          : 'target-unarmed';
  const node: TargetNode = {
    id: id('host'),
    host,
    label: host,
    description: busy ?? `${BADGE_TEXT[b]}${state?.rebootPending ? ', reboot pending' : ''}`,
    icon,
    // `unsupported`: no kexec crash support in the running kernel, so no Load in its menu.
    contextValue: `kdumpTarget.${busy ? 'busy' : b === 'armed' || b === 'unreachable' || b === 'unsupported' ? b : 'unarmed'}`,
  };
  if (!state) return node;
  if (!state.reachable) {
    node.tooltip = state.error;
    node.children = [
      {
        id: id('error'),
        host,
        label: 'Cannot connect',
        description: state.error,
        tooltip: state.error,
        icon: 'error',
      },
    ];
    return node;
  }
  node.tooltip = `${state.hostname ?? host} — ${state.os ?? ''} ${state.kernelRelease ?? ''}`.trim();
  const rows: TargetNode[] = [];
  const row = (key: string, label: string, description: string, rowIcon?: NodeIcon, tooltip?: string) => {
    const r: TargetNode = { id: id(key), host, label, description };
    if (rowIcon) r.icon = rowIcon;
    if (tooltip) r.tooltip = tooltip;
    rows.push(r);
    return r;
  };
  row('kernel', 'Kernel', `${state.kernelRelease ?? '?'} ${state.arch ?? ''}`.trim(), 'info', state.os);
  row(
    'flavour',
    'Kdump tooling',
    state.flavour === 'none' ? 'none (kexec only)' : state.flavour,
    state.flavour === 'none' && !state.tools.kexec ? 'warning' : 'info',
    Object.entries(state.tools)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n'),
  );
  if (state.service) {
    const svc = state.service;
    row(
      'service',
      'Service',
      `${svc.unit} ${svc.enabled ?? '?'} / ${svc.active ?? '?'}`,
      svc.active === 'active' ? 'ok' : 'warning',
    );
  }
  row(
    'cmdline',
    'crashkernel= (running)',
    state.crashkernelCmdline || 'none',
    state.crashkernelCmdline ? 'ok' : 'warning',
    'from /proc/cmdline',
  );
  row(
    'bootloader',
    'crashkernel= (next boot)',
    state.crashkernelBootloader === null ? 'unknown' : state.crashkernelBootloader || 'none',
    state.rebootPending ? 'warning' : 'info',
    state.rebootPending
      ? `reboot pending: ${state.bootloaderSource}`
      : (state.bootloaderSource ?? 'no boot-loader config read'),
  );
  row(
    'reserved',
    'Reserved',
    state.reservedBytes === null
      ? 'unsupported'
      : `${formatBytes(state.reservedBytes)}${state.reservedRanges?.length ? ` at ${state.reservedRanges.map((r) => r.start).join(', ')}` : ''}`,
    state.reservedBytes ? 'ok' : 'error',
    state.reservedRanges === null ? '/proc/iomem addresses need root' : undefined,
  );
  row(
    'capture',
    'Capture kernel',
    state.captureLoaded === null ? 'unknown' : state.captureLoaded ? 'loaded' : 'not loaded',
    state.captureLoaded ? 'ok' : 'warning',
    state.toolVerdict?.text,
  );
  row(
    'security',
    'Lockdown / Secure Boot',
    `${state.lockdown ?? 'unknown'} / ${state.secureBoot === null ? 'unknown' : state.secureBoot ? 'on' : 'off'}`,
    'info',
  );
  row(
    'sysctl',
    'Panic settings',
    `panic=${state.sysctl.panic ?? '?'} panic_on_oops=${state.sysctl.panic_on_oops ?? '?'} sysrq=${state.sysctl.sysrq ?? '?'}`,
    state.sysctl.panic === 0 ? 'warning' : 'info',
    state.sysctl.panic === 0 ? 'kernel.panic=0: a failed capture leaves the machine hung' : undefined,
  );
  const dumps = row(
    'dumps',
    'Dumps',
    state.dumpDir === null
      ? 'remote target (not listed)'
      : state.dumpsError
        ? state.dumpsError
        : `${state.dumps.length} in ${state.dumpDir}`,
    state.dumpsError ? 'warning' : 'info',
  );
  dumps.children = state.dumps.map((d) => ({
    id: id(`dump:${d.path}`),
    host,
    label: d.path.slice((state.dumpDir?.length ?? 0) + 1) || d.path,
    description: `${formatBytes(d.bytes)}  ${d.time.replace('T', ' ').replace(/\.000Z$/, 'Z')}${d.complete ? '' : '  INCOMPLETE'}`,
    tooltip: d.complete ? d.path : `${d.path}: the capture kernel did not finish writing this dump`,
    icon: d.complete ? 'dump' : 'dump-incomplete',
    contextValue: d.complete ? 'kdumpDump' : 'kdumpDumpIncomplete',
    dump: d,
  }));
  for (const [i, p] of state.problems.entries()) {
    rows.push({ id: id(`problem:${i}`), host, label: p, icon: 'warning', tooltip: p });
  }
  node.children = rows;
  return node;
}
