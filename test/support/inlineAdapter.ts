/**
 * The real debug adapter (VmcoreDebugSession) run in-process the way VS Code runs an inline adapter
 * (handleMessage / onDidSendMessage), wrapped as the little of vscode.DebugSession the glue uses
 * (id, type, name, configuration, customRequest). Every message also goes through a DebugAdapterTracker
 * when one is given, as VS Code would do.
 */
import type { DebugProtocol } from '@vscode/debugprotocol';
import { VmcoreDebugSession } from '../../src/adapter/session';

export interface Tracker {
  onWillReceiveMessage?(m: DebugProtocol.ProtocolMessage): void;
  onDidSendMessage?(m: DebugProtocol.ProtocolMessage): void;
}

export interface FakeSession {
  id: string;
  type: string;
  name: string;
  configuration: { vmcore: string; [k: string]: unknown };
  // biome-ignore lint/suspicious/noExplicitAny: DAP bodies, typed as vscode.DebugSession.customRequest types them
  customRequest(command: string, args?: unknown): Promise<any>;
}

export class InlineAdapter {
  readonly adapter = new VmcoreDebugSession();
  readonly events: DebugProtocol.Event[] = [];
  private seq = 1;
  private readonly pending = new Map<number, (r: DebugProtocol.Response) => void>();
  private readonly eventWaiters: { event: string; resolve: (e: DebugProtocol.Event) => void }[] = [];
  tracker: Tracker | undefined;

  constructor() {
    (
      this.adapter as unknown as { onDidSendMessage(l: (m: DebugProtocol.ProtocolMessage) => void): void }
    ).onDidSendMessage((m) => {
      this.tracker?.onDidSendMessage?.(m);
      if (m.type === 'response') {
        const r = m as DebugProtocol.Response;
        this.pending.get(r.request_seq)?.(r);
        this.pending.delete(r.request_seq);
      } else if (m.type === 'event') {
        const e = m as DebugProtocol.Event;
        this.events.push(e);
        for (const w of this.eventWaiters.filter((x) => x.event === e.event)) w.resolve(e);
      }
    });
  }

  /** Send a request; resolves with the body, rejects with the adapter's message on failure. */
  // biome-ignore lint/suspicious/noExplicitAny: DAP bodies, typed as vscode.DebugSession.customRequest types them
  request(command: string, args: unknown = {}): Promise<any> {
    const req: DebugProtocol.Request = { seq: this.seq++, type: 'request', command, arguments: args };
    return new Promise((resolve, reject) => {
      this.pending.set(req.seq, (r) => (r.success ? resolve(r.body) : reject(new Error(r.message))));
      this.tracker?.onWillReceiveMessage?.(req);
      (this.adapter as unknown as { handleMessage(m: DebugProtocol.ProtocolMessage): void }).handleMessage(
        req,
      );
    });
  }

  waitForEvent(event: string): Promise<DebugProtocol.Event> {
    const seen = this.events.find((e) => e.event === event);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.eventWaiters.push({ event, resolve }));
  }

  /** initialize → launch → configurationDone, as VS Code does; resolves at the stop. */
  async start(vmcore: string): Promise<DebugProtocol.StoppedEvent> {
    await this.request('initialize', {
      adapterID: 'vmcore',
      pathFormat: 'path',
      linesStartAt1: true,
      columnsStartAt1: true,
      supportsMemoryReferences: true,
    });
    const launched = this.request('launch', { type: 'vmcore', request: 'launch', name: 'test', vmcore });
    await this.request('configurationDone');
    await launched;
    return (await this.waitForEvent('stopped')) as DebugProtocol.StoppedEvent;
  }

  session(id: string, vmcore: string): FakeSession {
    return {
      id,
      type: 'vmcore',
      name: `Crash dump: ${id}`,
      configuration: { type: 'vmcore', request: 'launch', vmcore },
      customRequest: (command, args) => this.request(command, args),
    };
  }

  async stop(): Promise<void> {
    await this.request('disconnect').catch(() => undefined);
  }
}
