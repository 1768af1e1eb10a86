/**
 * Parsers for each source of kdump state, one function per source, each taking the text the host
 * printed. None of them runs anything; the probe (probe.ts) collects the texts in one round trip.
 */
import { crashkernelTokens, splitCmdline } from './crashkernel';

/** `crashkernel=` tokens of /proc/cmdline, joined as written ('' when absent). */
export function cmdlineCrashkernel(cmdline: string): string {
  return crashkernelTokens(cmdline)
    .map((t) => `crashkernel=${t}`)
    .join(' ');
}

/** A sysfs/procfs integer file ("167772160\n"); undefined when empty or not a number. */
export function parseIntFile(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (!/^-?[0-9]+$/.test(t)) return undefined;
  return Number(t);
}

/** `/sys/kernel/security/lockdown`: "[none] integrity confidentiality" → the bracketed word. */
export function parseLockdown(
  text: string | undefined,
): 'none' | 'integrity' | 'confidentiality' | undefined {
  const m = text === undefined ? null : /\[(none|integrity|confidentiality)\]/.exec(text);
  return m ? (m[1] as 'none' | 'integrity' | 'confidentiality') : undefined;
}

/**
 * An efivars variable (`SecureBoot-8be4df61-…`, `SetupMode-…`) dumped with `od -An -t u1`: four
 * attribute bytes then the value byte.
 */
export function parseEfiVarByte(odOutput: string | undefined): number | undefined {
  if (odOutput === undefined) return undefined;
  const bytes = odOutput
    .trim()
    .split(/\s+/)
    .filter((s) => s !== '')
    .map(Number);
  return bytes.length >= 5 && bytes.every((b) => Number.isInteger(b)) ? bytes[4] : undefined;
}

export interface IomemRange {
  start: bigint;
  /** Inclusive, as /proc/iomem prints it. */
  end: bigint;
}

/**
 * The "Crash kernel" lines of /proc/iomem. Non-root readers see 00000000-00000000 (since Linux
 * 4.6): then `hidden` is true and no range is returned.
 */
export function parseIomemCrashKernel(iomem: string): { ranges: IomemRange[]; hidden: boolean } {
  const ranges: IomemRange[] = [];
  let hidden = false;
  for (const line of iomem.split('\n')) {
    const m = /^\s*([0-9a-fA-F]+)-([0-9a-fA-F]+)\s*:\s*Crash kernel\s*$/i.exec(line);
    if (!m) continue;
    const start = BigInt(`0x${m[1]}`);
    const end = BigInt(`0x${m[2]}`);
    if (start === 0n && end === 0n) hidden = true;
    else ranges.push({ start, end });
  }
  return { ranges, hidden };
}

/** Total bytes of iomem ranges (end inclusive). */
export function iomemBytes(ranges: readonly IomemRange[]): bigint {
  return ranges.reduce((s, r) => s + (r.end - r.start + 1n), 0n);
}

/** `/etc/os-release`: KEY=value lines, values optionally quoted. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let v = m[2]!;
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    out[m[1]!] = v.replace(/\\(["$`\\])/g, '$1');
  }
  return out;
}

/** `/proc/meminfo` MemTotal in bytes. */
export function parseMemTotal(meminfo: string): number | undefined {
  const m = /^MemTotal:\s+([0-9]+)\s*kB/m.exec(meminfo);
  return m ? Number(m[1]) * 1024 : undefined;
}

// ---------------------------------------------------------------- shell-variable config files

export interface ShellAssignment {
  file: string;
  line: number;
  name: string;
  /** Value after expansion of $VAR / ${VAR} (double quotes, bare words) using earlier assignments. */
  value: string;
  /** The value as written (without the name and =). */
  raw: string;
}

/**
 * Evaluate the simple `NAME=value` assignments of sourced shell files (/etc/default/grub and its
 * grub.d/*.cfg drop-ins, /etc/default/kdump-tools, /etc/sysconfig/kdump) in order. Handles
 * 'single', "double" (with $VAR, ${VAR}, \" escapes) and bare values, `export NAME=…`, comments.
 * Anything else (if/then, command substitution) is skipped: these files are data in practice.
 */
export function evalShellAssignments(files: readonly { path: string; text: string }[]): {
  vars: Map<string, string>;
  assignments: ShellAssignment[];
} {
  const vars = new Map<string, string>();
  const assignments: ShellAssignment[] = [];
  const expand = (s: string) =>
    s.replace(
      /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g,
      (_m, a, b) => vars.get(a ?? b) ?? '',
    );
  for (const f of files) {
    const lines = f.text.split('\n');
    lines.forEach((line, i) => {
      const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
      if (!m) return;
      const name = m[1]!;
      const rest = m[2]!;
      let value = '';
      let j = 0;
      let ok = true;
      while (j < rest.length) {
        const c = rest[j]!;
        if (c === "'") {
          const k = rest.indexOf("'", j + 1);
          if (k < 0) {
            ok = false;
            break;
          }
          value += rest.slice(j + 1, k);
          j = k + 1;
        } else if (c === '"') {
          let k = j + 1;
          let seg = '';
          while (k < rest.length && rest[k] !== '"') {
            if (rest[k] === '\\' && k + 1 < rest.length && '"$`\\'.includes(rest[k + 1]!)) {
              seg += rest[k + 1] === '$' ? '\u0000' : rest[k + 1];
              k += 2;
            } else {
              seg += rest[k];
              k++;
            }
          }
          if (k >= rest.length) {
            ok = false;
            break;
          }
          if (seg.includes('$(') || seg.includes('`')) ok = false;
          value += expand(seg).replace(/\u0000/g, '$');
          j = k + 1;
        } else if (c === ' ' || c === '\t' || c === ';') {
          break;
        } else if (c === '#' && j === 0) {
          break;
        } else {
          let k = j;
          while (k < rest.length && !` \t;'"`.includes(rest[k]!)) k++;
          const seg = rest.slice(j, k);
          if (seg.includes('$(') || seg.includes('`')) ok = false;
          value += expand(seg);
          j = k;
        }
      }
      if (!ok) return;
      vars.set(name, value);
      assignments.push({ file: f.path, line: i + 1, name, value, raw: rest });
    });
  }
  return { vars, assignments };
}

export interface GrubDefaults {
  /** GRUB_CMDLINE_LINUX after all files: applies to every entry (incl. recovery). */
  linux: string;
  /** GRUB_CMDLINE_LINUX_DEFAULT after all files: normal entries only. */
  linuxDefault: string;
  /** `crashkernel=` tokens a normal entry gets (LINUX then LINUX_DEFAULT, as grub-mkconfig orders them). */
  crashkernel: string;
  /** Files whose assignments contain crashkernel=, in order (the last one wins). */
  crashkernelFiles: string[];
}

/** /etc/default/grub followed by /etc/default/grub.d/*.cfg (sorted), as update-grub sources them. */
export function parseGrubDefaults(files: readonly { path: string; text: string }[]): GrubDefaults {
  const ordered = [...files].sort((a, b) => {
    const ad = a.path.includes('/grub.d/') ? 1 : 0;
    const bd = b.path.includes('/grub.d/') ? 1 : 0;
    return ad - bd || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  });
  const { vars, assignments } = evalShellAssignments(ordered);
  const linux = vars.get('GRUB_CMDLINE_LINUX') ?? '';
  const linuxDefault = vars.get('GRUB_CMDLINE_LINUX_DEFAULT') ?? '';
  const crashkernelFiles: string[] = [];
  for (const a of assignments) {
    if (
      (a.name === 'GRUB_CMDLINE_LINUX' || a.name === 'GRUB_CMDLINE_LINUX_DEFAULT') &&
      /crashkernel=/.test(a.raw) &&
      !crashkernelFiles.includes(a.file)
    ) {
      crashkernelFiles.push(a.file);
    }
  }
  return {
    linux,
    linuxDefault,
    crashkernel: cmdlineCrashkernel(`${linux} ${linuxDefault}`),
    crashkernelFiles,
  };
}

export interface GrubbyEntry {
  index: number;
  kernel: string;
  args: string;
  title?: string;
  initrd?: string;
}

/** `grubby --info=ALL`: blocks of key=value lines starting at `index=N`. */
export function parseGrubbyInfo(text: string): GrubbyEntry[] {
  const entries: GrubbyEntry[] = [];
  let cur: Partial<GrubbyEntry> & Record<string, unknown> = {};
  const flush = () => {
    if (cur.index !== undefined && cur.kernel !== undefined) {
      entries.push({
        index: cur.index,
        kernel: cur.kernel,
        args: cur.args ?? '',
        title: cur.title,
        initrd: cur.initrd,
      });
    }
    cur = {};
  };
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let v = m[2]!;
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
    if (m[1] === 'index') {
      flush();
      cur.index = Number(v);
    } else if (m[1] === 'kernel' || m[1] === 'args' || m[1] === 'title' || m[1] === 'initrd') {
      cur[m[1]] = v;
    }
  }
  flush();
  return entries;
}

/** The grubby entry for a running kernel release (else the first entry). */
export function grubbyEntryFor(entries: readonly GrubbyEntry[], release: string): GrubbyEntry | undefined {
  return (
    entries.find((e) => e.kernel.endsWith(`vmlinuz-${release}`) || e.kernel.endsWith(`/${release}`)) ??
    entries[0]
  );
}

// ---------------------------------------------------------------- tools and services

export interface KdumpctlStatus {
  operational: boolean | undefined;
  messages: string[];
  lastTest?: string;
}

/**
 * `kdumpctl status` (messages on stderr prefixed "kdump: "; exit 0 operational, 3 not). Pass
 * stdout+stderr together and the exit code.
 */
export function parseKdumpctlStatus(text: string, exitCode: number | null): KdumpctlStatus {
  const messages = text
    .split('\n')
    .map((l) => l.replace(/^kdump:\s*/, '').trim())
    .filter((l) => l !== '');
  let operational: boolean | undefined;
  if (messages.some((m) => /Kdump is operational/i.test(m))) operational = true;
  if (messages.some((m) => /Kdump is not operational|not operational/i.test(m))) operational = false;
  if (operational === undefined && exitCode === 0) operational = true;
  if (operational === undefined && exitCode === 3) operational = false;
  const lastTest = messages.find((m) => /vmcore creation test|Require manual check/i.test(m));
  return lastTest ? { operational, messages, lastTest } : { operational, messages };
}

export interface KdumpConfigShow {
  fields: Record<string, string>;
  ready: boolean | undefined;
  coreDir?: string;
  kexecCommand?: string;
}

/** `kdump-config show` / `kdump-config status` (Debian/Ubuntu kdump-tools). */
export function parseKdumpConfigShow(text: string): KdumpConfigShow {
  const fields: Record<string, string> = {};
  const lines = text.split('\n');
  let kexecCommand: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^kexec command:\s*$/.test(line.trim())) {
      const next = lines
        .slice(i + 1)
        .map((l) => l.trim())
        .find((l) => l !== '');
      if (next) kexecCommand = next;
      continue;
    }
    const m = /^([A-Za-z_][A-Za-z0-9_ ]*?)\s*:\s*(.*)$/.exec(line);
    if (m && !line.startsWith(' ')) fields[m[1]!.trim()] = m[2]!.trim();
  }
  const state = fields['current state'];
  const ready = state === undefined ? undefined : /^ready to kdump/i.test(state);
  const out: KdumpConfigShow = { fields, ready };
  if (fields.KDUMP_COREDIR) out.coreDir = fields.KDUMP_COREDIR;
  if (kexecCommand) out.kexecCommand = kexecCommand;
  return out;
}

/** `systemctl is-enabled` / `is-active` outputs (one word). */
export function parseSystemctlWord(text: string | undefined): string | undefined {
  const w = text?.trim().split('\n')[0]?.trim();
  return w ? w : undefined;
}

/** `/etc/kdump.conf` (RHEL): the local dump path, or undefined when the target is remote/raw. */
export function kdumpConfPath(text: string): { path: string; local: boolean } {
  let path = '/var/crash';
  let local = true;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^(\S+)\s+(.+)$/.exec(line);
    if (!m) continue;
    if (m[1] === 'path') path = m[2]!.trim();
    else if (m[1] === 'ssh' || m[1] === 'nfs' || m[1] === 'raw') local = false;
    else if (/^(ext[234]|xfs|btrfs|minix|virtiofs)$/.test(m[1]!)) local = false;
  }
  return { path, local };
}

/** SUSE `KDUMP_SAVEDIR` (URL or path) → local directory, or undefined for remote targets. */
export function suseSaveDir(value: string | undefined): string | undefined {
  if (!value) return '/var/crash';
  if (value.startsWith('file://')) return value.slice('file://'.length) || '/';
  if (value.startsWith('/')) return value;
  return undefined;
}

// ---------------------------------------------------------------- dump directory

export interface DumpFile {
  path: string;
  bytes: number;
  /** Modification time, ISO 8601. */
  time: string;
  complete: boolean;
  /** The kernel log saved beside it (dmesg.<stamp>, vmcore-dmesg.txt, dmesg), when there is one. */
  dmesg?: string;
}

const COMPLETE_DUMP = /^(vmcore|vmcore\.flat|dump\.[0-9]+(\.(gz|bz2|lz4|xz|zst))?|vmcore\.[0-9]+)$/;
const INCOMPLETE_DUMP =
  /^(vmcore-incomplete|vmcore\.flat-incomplete|dump-incomplete(\.(gz|bz2|lz4|xz|zst))?|vmcore\.[0-9]+-incomplete)$/;
const DMESG = /^(dmesg\.[0-9]+|vmcore-dmesg\.txt|dmesg|dmesg\.txt)$/;

/** Is a file name a dump that a capture kernel is still writing or gave up on? */
export function isIncompleteName(name: string): boolean {
  return /incomplete/i.test(name);
}

/**
 * The dump listing the probe prints: one `SIZE MTIME PATH` line per file (`stat -c '%s %Y %n'`).
 * Returns the dumps (complete and incomplete), newest first, each with its dmesg file.
 */
export function parseDumpListing(text: string): DumpFile[] {
  const files: { path: string; bytes: number; mtime: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9]+) ([0-9]+) (\/.*)$/.exec(line);
    if (m) files.push({ bytes: Number(m[1]), mtime: Number(m[2]), path: m[3]! });
  }
  const dirOf = (p: string) => p.slice(0, p.lastIndexOf('/'));
  const baseOf = (p: string) => p.slice(p.lastIndexOf('/') + 1);
  const dumps: DumpFile[] = [];
  for (const f of files) {
    const base = baseOf(f.path);
    const complete = COMPLETE_DUMP.test(base);
    const incomplete = INCOMPLETE_DUMP.test(base);
    if (!complete && !incomplete) continue;
    const dmesg = files.find((g) => dirOf(g.path) === dirOf(f.path) && DMESG.test(baseOf(g.path)));
    const d: DumpFile = {
      path: f.path,
      bytes: f.bytes,
      time: new Date(f.mtime * 1000).toISOString(),
      complete: complete && !isIncompleteName(base),
    };
    if (dmesg) d.dmesg = dmesg.path;
    dumps.push(d);
  }
  return dumps.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : a.path < b.path ? 1 : -1));
}

/** Words of a command line other than crashkernel= (used to derive a capture kernel's command line). */
export function cmdlineWithout(cmdline: string, drop: readonly string[]): string[] {
  return splitCmdline(cmdline).filter((w) => {
    const key = w.includes('=') ? w.slice(0, w.indexOf('=')) : w;
    return !drop.includes(key);
  });
}
