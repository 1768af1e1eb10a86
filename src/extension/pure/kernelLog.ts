/** The kernel log document of a dump: its virtual path and where the panic is. No `vscode` here. */

/** URI scheme of the read-only kernel-log documents, one per dump. */
export const KERNEL_LOG_SCHEME = 'kdump-log';
/** File extension that maps the document to the `kernel-log` language. */
export const KERNEL_LOG_EXTENSION = '.dmesg';

/** The document path for a dump: the dump's own path with `.dmesg` appended (the tab shows its name). */
export function logPathForDump(dumpPath: string): string {
  return dumpPath + KERNEL_LOG_EXTENSION;
}

/** The dump a kernel-log document path belongs to. */
export function dumpPathForLog(logPath: string): string | undefined {
  return logPath.endsWith(KERNEL_LOG_EXTENSION) ? logPath.slice(0, -KERNEL_LOG_EXTENSION.length) : undefined;
}

/** What the adapter's `kernelLog` custom request answers. */
export interface KernelLogResponse {
  text: string;
  /** 0-based line of the panic message in `text`, when the adapter found one. */
  panicLine?: number;
}

/** Accept the adapter's answer only in the agreed shape; anything else is reported, not guessed at. */
export function parseKernelLogResponse(body: unknown): KernelLogResponse {
  if (!body || typeof body !== 'object' || typeof (body as { text?: unknown }).text !== 'string') {
    throw new Error('the debug adapter answered "kernelLog" without a "text" string');
  }
  const { text, panicLine } = body as { text: string; panicLine?: unknown };
  const line =
    typeof panicLine === 'number' && Number.isInteger(panicLine) && panicLine >= 0 ? panicLine : undefined;
  return line === undefined ? { text } : { text, panicLine: line };
}

// A log line may carry a syslog level (<3>), a timestamp and a printk caller id ([T123]/[C1]).
const PREFIX = String.raw`^(?:<\d+>)?(?:\[\s*\d+\.\d+\]\s*)?(?:\[\s*[TC]\d+\]\s*)?`;
const PANIC = new RegExp(`${PREFIX}Kernel panic - not syncing`);
const OOPS = new RegExp(
  PREFIX +
    String.raw`(?:BUG:|kernel BUG at|Oops[:\s]|general protection fault|Unable to handle kernel|Internal error:|WARNING: CPU:)`,
);
const SYSRQ = new RegExp(`${PREFIX}sysrq: (?:SysRq : )?Trigger a crash`);

/**
 * The 0-based line to show first: the panic message, else the last oops/BUG header, else the sysrq
 * crash trigger; undefined when the log says nothing about a crash (a live snapshot).
 */
export function findPanicLine(text: string): number | undefined {
  const lines = text.split(/\r?\n/);
  let oops: number | undefined;
  let sysrq: number | undefined;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (PANIC.test(l)) return i;
    if (OOPS.test(l)) oops = i;
    else if (SYSRQ.test(l)) sysrq = i;
  }
  return oops ?? sysrq;
}

/** The panic line from the adapter when it gave one within the text, else found in the text. */
export function panicLineOf(log: KernelLogResponse): number | undefined {
  const lineCount = log.text.split(/\r?\n/).length;
  if (log.panicLine !== undefined && log.panicLine < lineCount) return log.panicLine;
  return findPanicLine(log.text);
}
