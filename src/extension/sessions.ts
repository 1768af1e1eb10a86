/** Which vmcore sessions are running, what each one's panic stop was, and the DAP-traffic tracker. */
import { appendFileSync } from 'node:fs';
import * as vscode from 'vscode';
import { DEBUG_TYPE } from './pure/launchConfig';
import { PanicStopWatcher } from './pure/panicWatcher';

export class SessionRegistry implements vscode.DebugAdapterTrackerFactory, vscode.Disposable {
  private readonly watchers = new Map<string, { session: vscode.DebugSession; watcher: PanicStopWatcher }>();
  private readonly stoppedEmitter = new vscode.EventEmitter<vscode.DebugSession>();
  /** A vmcore session reported its (first or later) stop: its state can now be read. */
  readonly onDidStop = this.stoppedEmitter.event;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    /** Called when a panic stop's top frame has no source. */
    private readonly onPanicWithoutSource: (session: vscode.DebugSession, threadId: number) => void,
    /** When set (KDUMP_DEBUG_DAP_TRACE), every DAP message is appended to this file as one JSON line. */
    private readonly traceFile = process.env.KDUMP_DEBUG_DAP_TRACE,
  ) {
    this.disposables.push(
      vscode.debug.onDidTerminateDebugSession((s) => this.watchers.delete(s.id)),
      this.stoppedEmitter,
    );
  }

  createDebugAdapterTracker(session: vscode.DebugSession): vscode.DebugAdapterTracker {
    const watcher = new PanicStopWatcher();
    this.watchers.set(session.id, { session, watcher });
    const trace = (dir: string, m: unknown) => {
      if (this.traceFile)
        appendFileSync(this.traceFile, JSON.stringify({ session: session.id, dir, m }) + '\n');
    };
    return {
      onWillReceiveMessage: (m) => {
        trace('to-adapter', m);
        watcher.fromClient(m);
      },
      onDidSendMessage: (m) => {
        trace('from-adapter', m);
        const action = watcher.fromAdapter(m);
        if (m.type === 'event' && m.event === 'stopped') this.stoppedEmitter.fire(session);
        if (action) this.onPanicWithoutSource(session, action.openDisassemblyFor);
      },
      onError: (e) => trace('error', String(e)),
    };
  }

  panicOf(session: vscode.DebugSession): PanicStopWatcher['panic'] {
    return this.watchers.get(session.id)?.watcher.panic;
  }

  /** The vmcore session to act on: the active one, else the one on `dumpPath`, else the only one. */
  pick(dumpPath?: string): vscode.DebugSession | undefined {
    const active = vscode.debug.activeDebugSession;
    const all = [active, ...this.sessions()].filter((s): s is vscode.DebugSession => s?.type === DEBUG_TYPE);
    if (dumpPath) return all.find((s) => s.configuration.vmcore === dumpPath);
    return all[0];
  }

  /** Every running vmcore session (VS Code's API has no list of sessions; the trackers saw each start). */
  sessions(): vscode.DebugSession[] {
    return [...this.watchers.values()].map((w) => w.session);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

/** The frame to evaluate in: the focused frame of `session`, else the top frame of the focused thread or of the panic. */
export async function frameFor(
  session: vscode.DebugSession,
  fallbackThread: number | undefined,
): Promise<{ frameId: number; threadId: number } | undefined> {
  const item = vscode.debug.activeStackItem;
  if (item instanceof vscode.DebugStackFrame && item.session.id === session.id) {
    return { frameId: item.frameId, threadId: item.threadId };
  }
  const threadId =
    item instanceof vscode.DebugThread && item.session.id === session.id ? item.threadId : fallbackThread;
  if (threadId === undefined) return undefined;
  const st = await session.customRequest('stackTrace', { threadId, startFrame: 0, levels: 1 });
  const id = st?.stackFrames?.[0]?.id;
  return typeof id === 'number' ? { frameId: id, threadId } : undefined;
}
