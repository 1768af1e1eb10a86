/**
 * Watches the DAP traffic of a vmcore session (a DebugAdapterTracker feeds it) for the panic stop, and
 * says when to open the Disassembly view: the stop is an exception and the top frame of the stopped
 * thread has no source to show. No `vscode` here.
 */
import type { DebugProtocol } from '@vscode/debugprotocol';

export interface PanicStop {
  threadId: number;
  description?: string;
  text?: string;
}

function hasSource(frame: DebugProtocol.StackFrame): boolean {
  const s = frame.source;
  if (!s) return false;
  if (s.presentationHint === 'deemphasize') return false;
  return Boolean(s.path) || (s.sourceReference ?? 0) > 0;
}

export class PanicStopWatcher {
  /** The last exception stop of the session. */
  panic: PanicStop | undefined;
  private awaitingTopFrameOf: number | undefined;
  private readonly stackRequests = new Map<number, { threadId: number; startFrame: number }>();

  /** A message VS Code sends to the adapter. */
  fromClient(message: DebugProtocol.ProtocolMessage): void {
    if (message.type !== 'request') return;
    const req = message as DebugProtocol.Request;
    if (req.command === 'stackTrace') {
      const args = req.arguments as DebugProtocol.StackTraceArguments;
      this.stackRequests.set(req.seq, { threadId: args.threadId, startFrame: args.startFrame ?? 0 });
    }
  }

  /**
   * A message the adapter sends to VS Code. Returns the thread whose top frame should be shown in the
   * Disassembly view, once, right after the panic stop.
   */
  fromAdapter(message: DebugProtocol.ProtocolMessage): { openDisassemblyFor: number } | undefined {
    if (message.type === 'event') {
      const ev = message as DebugProtocol.Event;
      if (ev.event === 'stopped') {
        const body = (ev as DebugProtocol.StoppedEvent).body;
        if (body.reason === 'exception' && typeof body.threadId === 'number') {
          this.panic = { threadId: body.threadId, description: body.description, text: body.text };
          this.awaitingTopFrameOf = body.threadId;
        }
      } else if (ev.event === 'terminated' || ev.event === 'exited') {
        this.awaitingTopFrameOf = undefined;
      }
      return undefined;
    }
    if (message.type !== 'response') return undefined;
    const res = message as DebugProtocol.Response;
    if (res.command !== 'stackTrace') return undefined;
    const req = this.stackRequests.get(res.request_seq);
    this.stackRequests.delete(res.request_seq);
    if (!req || req.threadId !== this.awaitingTopFrameOf || req.startFrame !== 0 || !res.success)
      return undefined;
    this.awaitingTopFrameOf = undefined;
    const top = (res as DebugProtocol.StackTraceResponse).body?.stackFrames?.[0];
    if (!top || hasSource(top) || !top.instructionPointerReference) return undefined;
    return { openDisassemblyFor: req.threadId };
  }
}
