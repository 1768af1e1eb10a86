/**
 * The kernel log of a dump as a read-only virtual document (scheme `kdump-log`, language `kernel-log`),
 * read from the session with the adapter's `kernelLog` custom request, opened at the panic line; and the
 * panic-line decoration in every kernel-log editor (virtual documents and log files alike).
 */
import * as vscode from 'vscode';
import {
  dumpPathForLog,
  findPanicLine,
  KERNEL_LOG_SCHEME,
  type KernelLogResponse,
  logPathForDump,
  panicLineOf,
  parseKernelLogResponse,
} from './pure/kernelLog';
import type { SessionRegistry } from './sessions';

export const KERNEL_LOG_LANGUAGE = 'kernel-log';

export class KernelLogProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly logs = new Map<string, KernelLogResponse>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [this.changed];

  constructor(private readonly sessions: SessionRegistry) {
    // A log document opened before its session was ready says so; refresh it once the session stops.
    this.disposables.push(
      sessions.onDidStop((s) => {
        const dump = s.configuration.vmcore;
        if (typeof dump === 'string' && !this.logs.has(dump)) this.changed.fire(uriForDump(dump));
      }),
    );
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const dump = dumpPathForLog(uri.path);
    if (!dump) return `Not a kernel-log document: ${uri.toString()}`;
    const log = await this.load(dump).catch((err: Error) => err);
    if (log instanceof Error) return `The kernel log of ${dump} could not be read: ${log.message}\n`;
    if (log) return log.text;
    return (
      `No debug session is open on ${dump}.\n` +
      'Open the dump (Kdump: Open Crash Dump…) and this document fills in with its kernel log.\n'
    );
  }

  /** The log of `dump` from its running session (cached: a dump does not change). */
  async load(dump: string): Promise<KernelLogResponse | undefined> {
    const cached = this.logs.get(dump);
    if (cached) return cached;
    const session = this.sessions.pick(dump);
    if (!session) return undefined;
    const log = parseKernelLogResponse(await session.customRequest('kernelLog'));
    this.logs.set(dump, log);
    return log;
  }

  panicLine(dump: string): number | undefined {
    const log = this.logs.get(dump);
    return log ? panicLineOf(log) : undefined;
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

export function uriForDump(dumpPath: string): vscode.Uri {
  return vscode.Uri.from({ scheme: KERNEL_LOG_SCHEME, path: logPathForDump(dumpPath) });
}

/** Open the kernel log of `dumpPath` and put the panic line in the middle of the editor. */
export async function showKernelLog(
  provider: KernelLogProvider,
  dumpPath: string,
): Promise<vscode.TextEditor> {
  const uri = uriForDump(dumpPath);
  await provider.load(dumpPath);
  let doc = await vscode.workspace.openTextDocument(uri);
  if (doc.languageId !== KERNEL_LOG_LANGUAGE)
    doc = await vscode.languages.setTextDocumentLanguage(doc, KERNEL_LOG_LANGUAGE);
  const line = provider.panicLine(dumpPath) ?? findPanicLine(doc.getText());
  const range = line === undefined ? undefined : new vscode.Range(line, 0, line, 0);
  const editor = await vscode.window.showTextDocument(doc, { preview: false, selection: range });
  if (range) editor.revealRange(range, vscode.TextEditorRevealType.InCenter);
  return editor;
}

/** Marks the panic line (whole line, overview ruler) in every visible kernel-log editor. */
export class PanicLineDecorator implements vscode.Disposable {
  private readonly type = vscode.window.createTextEditorDecorationType({
    isWholeLine: true,
    backgroundColor: new vscode.ThemeColor('kdump.panicLineBackground'),
    overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.errorForeground'),
    overviewRulerLane: vscode.OverviewRulerLane.Full,
  });
  private readonly disposables: vscode.Disposable[];

  constructor(private readonly provider: KernelLogProvider) {
    this.disposables = [
      this.type,
      vscode.window.onDidChangeVisibleTextEditors((editors) => this.decorateAll(editors)),
      vscode.workspace.onDidChangeTextDocument((e) =>
        this.decorateAll(vscode.window.visibleTextEditors.filter((ed) => ed.document === e.document)),
      ),
    ];
    this.decorateAll(vscode.window.visibleTextEditors);
  }

  private decorateAll(editors: readonly vscode.TextEditor[]): void {
    for (const e of editors) this.decorate(e);
  }

  decorate(editor: vscode.TextEditor): void {
    const doc = editor.document;
    if (doc.languageId !== KERNEL_LOG_LANGUAGE) return;
    const dump = doc.uri.scheme === KERNEL_LOG_SCHEME ? dumpPathForLog(doc.uri.path) : undefined;
    const line = (dump ? this.provider.panicLine(dump) : undefined) ?? findPanicLine(doc.getText());
    const ranges = line === undefined || line >= doc.lineCount ? [] : [doc.lineAt(line).range];
    editor.setDecorations(this.type, ranges);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
