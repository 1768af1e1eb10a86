/**
 * Hover on a register name or a kernel address in a kernel log or a disassembly listing: the value
 * comes from the vmcore session's `evaluate` (context `hover`) for the selected frame. VS Code's own
 * debug hover only runs in the focused frame's source document, hence a plain HoverProvider here.
 */
import * as vscode from 'vscode';
import { addressHoverMarkdown, hoverTargetAt, registerHoverMarkdown } from './pure/hoverTarget';
import { dumpPathForLog, KERNEL_LOG_SCHEME } from './pure/kernelLog';
import { frameFor, type SessionRegistry } from './sessions';

export const DISASM_LANGUAGE = 'kdump-disasm';

export class RegisterHoverProvider implements vscode.HoverProvider {
  constructor(private readonly sessions: SessionRegistry) {}

  async provideHover(doc: vscode.TextDocument, pos: vscode.Position): Promise<vscode.Hover | undefined> {
    const mode = doc.languageId === DISASM_LANGUAGE ? 'disasm' : 'log';
    const target = hoverTargetAt(doc.lineAt(pos.line).text, pos.character, mode);
    if (!target) return undefined;
    const dump = doc.uri.scheme === KERNEL_LOG_SCHEME ? dumpPathForLog(doc.uri.path) : undefined;
    const session = (dump && this.sessions.pick(dump)) || this.sessions.pick();
    if (!session) return undefined;
    try {
      const frame = await frameFor(session, this.sessions.panicOf(session)?.threadId);
      const res = await session.customRequest('evaluate', {
        expression: target.expression,
        frameId: frame?.frameId,
        context: 'hover',
      });
      const result = typeof res?.result === 'string' ? res.result : undefined;
      if (!result) return undefined;
      const range = new vscode.Range(pos.line, target.start, pos.line, target.end);
      let text: string | undefined;
      if (target.kind === 'register') {
        const threads: { id: number; name: string }[] =
          (await session.customRequest('threads'))?.threads ?? [];
        const thread =
          threads.find((t) => t.id === frame?.threadId)?.name ?? `thread ${frame?.threadId ?? '?'}`;
        text = registerHoverMarkdown(
          target.expression,
          result,
          `selected frame of ${thread} (${session.name})`,
        );
      } else {
        text = addressHoverMarkdown(target.expression, result);
      }
      return text ? new vscode.Hover(new vscode.MarkdownString(text), range) : undefined;
    } catch {
      return undefined; // hovers fail silently: a missing value is not worth a popup
    }
  }
}
