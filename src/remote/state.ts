/** What the tree view, the CLI and the planners know about one kdump target. */
import type { DumpFile } from './parsers';

export type Flavour = 'kdumpctl' | 'kdump-tools' | 'suse' | 'none';

/** How root commands run: logged in as root, sudo without a password, sudo with one, or not at all. */
export type RootAccess = 'root' | 'sudo' | 'sudo-password' | 'none';

export interface ServiceState {
  unit: string;
  /** `systemctl is-enabled` word (enabled, disabled, static, masked, not-found…). */
  enabled?: string;
  /** `systemctl is-active` word (active, inactive, failed…). */
  active?: string;
}

export interface TargetState {
  host: string;
  reachable: boolean;
  /** Why the host could not be read (when not reachable), or a partial-read problem. */
  error?: string;
  hostname?: string;
  kernelRelease?: string;
  arch?: string;
  os?: string;
  bootId?: string;
  root: RootAccess | 'unknown';
  flavour: Flavour;
  /** Tool name → path on the host. */
  tools: Record<string, string>;
  /** `crashkernel=` tokens of /proc/cmdline ('' = none). */
  crashkernelCmdline: string | null;
  /** `crashkernel=` the boot loader config gives the next boot (null = unknown / not readable). */
  crashkernelBootloader: string | null;
  /** Where crashkernelBootloader was read from. */
  bootloaderSource: string | null;
  /** Boot-loader config differs from the running kernel's command line. */
  rebootPending: boolean;
  /** Bytes reserved (crash_size); null = the kernel has no kexec crash support. */
  reservedBytes: number | null;
  /** Reserved physical ranges from /proc/iomem (null = hidden from a non-root reader). */
  reservedRanges: { start: string; end: string }[] | null;
  captureLoaded: boolean | null;
  /** The sysfs file captureLoaded was read from (new /sys/kernel/kexec/ name first). */
  crashLoadedFile: string | null;
  kexecLoadDisabled: boolean | null;
  service: ServiceState | null;
  /** The distro tool's own verdict (kdumpctl status / kdump-config show). */
  toolVerdict: { ready: boolean | undefined; text: string } | null;
  lockdown: 'none' | 'integrity' | 'confidentiality' | null;
  secureBoot: boolean | null;
  sysctl: { panic: number | null; panic_on_oops: number | null; sysrq: number | null };
  memTotalBytes: number | null;
  /** /boot file names (for the capture kernel and System.map). */
  bootFiles: string[];
  /** The local dump directory the distro config names (null = remote target or unknown). */
  dumpDir: string | null;
  dumps: DumpFile[];
  dumpsError?: string;
  /** Plain-language problems derived from the above (shown as warnings). */
  problems: string[];
}

export type { DumpFile };
