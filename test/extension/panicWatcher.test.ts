import type { DebugProtocol } from '@vscode/debugprotocol';
import { describe, expect, it } from 'vitest';
import { PanicStopWatcher } from '../../src/extension/pure/panicWatcher';
import { rememberDump } from '../../src/extension/pure/recentDumps';

let seq = 0;
const request = (command: string, args: object): DebugProtocol.Request => ({
  seq: ++seq,
  type: 'request',
  command,
  arguments: args,
});
const stopped = (body: DebugProtocol.StoppedEvent['body']): DebugProtocol.StoppedEvent => ({
  seq: ++seq,
  type: 'event',
  event: 'stopped',
  body,
});
const stackResponse = (
  req: DebugProtocol.Request,
  frames: DebugProtocol.StackFrame[],
): DebugProtocol.StackTraceResponse => ({
  seq: ++seq,
  type: 'response',
  request_seq: req.seq,
  command: 'stackTrace',
  success: true,
  body: { stackFrames: frames, totalFrames: frames.length },
});
const frame = (extra: Partial<DebugProtocol.StackFrame> = {}): DebugProtocol.StackFrame => ({
  id: 1000,
  name: 'crash_setup_regs+0x2a',
  line: 0,
  column: 0,
  instructionPointerReference: '0xffffffffbad741ba',
  ...extra,
});

describe('PanicStopWatcher', () => {
  it('opens the Disassembly view once when the panic frame has no source', () => {
    const w = new PanicStopWatcher();
    expect(
      w.fromAdapter(
        stopped({
          reason: 'exception',
          threadId: 1,
          allThreadsStopped: true,
          description: 'Kernel panic - not syncing: sysrq triggered crash',
        }),
      ),
    ).toBeUndefined();
    expect(w.panic).toEqual({
      threadId: 1,
      description: 'Kernel panic - not syncing: sysrq triggered crash',
      text: undefined,
    });
    // a stackTrace for another thread, then a later page of the panicking one: not the top frame
    const other = request('stackTrace', { threadId: 2, startFrame: 0, levels: 1 });
    const page = request('stackTrace', { threadId: 1, startFrame: 1, levels: 20 });
    w.fromClient(other);
    w.fromClient(page);
    expect(w.fromAdapter(stackResponse(other, [frame()]))).toBeUndefined();
    expect(w.fromAdapter(stackResponse(page, [frame()]))).toBeUndefined();
    const top = request('stackTrace', { threadId: 1, startFrame: 0, levels: 1 });
    w.fromClient(top);
    expect(w.fromAdapter(stackResponse(top, [frame()]))).toEqual({ openDisassemblyFor: 1 });
    const again = request('stackTrace', { threadId: 1, levels: 20 });
    w.fromClient(again);
    expect(w.fromAdapter(stackResponse(again, [frame()]))).toBeUndefined();
  });

  it('does nothing when the frame has source, or no instruction pointer, or the stop is not a panic', () => {
    for (const f of [
      frame({ source: { path: '/usr/src/linux/kernel/panic.c' } }),
      frame({ source: { name: 'panic', sourceReference: 7 } }),
      frame({ instructionPointerReference: undefined }),
    ]) {
      const w = new PanicStopWatcher();
      w.fromAdapter(stopped({ reason: 'exception', threadId: 3 }));
      const r = request('stackTrace', { threadId: 3 });
      w.fromClient(r);
      expect(w.fromAdapter(stackResponse(r, [f]))).toBeUndefined();
    }
    // a deemphasized source is no source to show
    const w = new PanicStopWatcher();
    w.fromAdapter(stopped({ reason: 'exception', threadId: 3 }));
    const r = request('stackTrace', { threadId: 3 });
    w.fromClient(r);
    expect(
      w.fromAdapter(stackResponse(r, [frame({ source: { name: 'x', presentationHint: 'deemphasize' } })])),
    ).toEqual({ openDisassemblyFor: 3 });
    // a plain pause (a live dump with no panic)
    const live = new PanicStopWatcher();
    live.fromAdapter(stopped({ reason: 'pause', threadId: 1 }));
    const q = request('stackTrace', { threadId: 1 });
    live.fromClient(q);
    expect(live.fromAdapter(stackResponse(q, [frame()]))).toBeUndefined();
    expect(live.panic).toBeUndefined();
  });
});

describe('rememberDump', () => {
  it('newest first, no duplicates, bounded', () => {
    expect(rememberDump(['/a', '/b'], '/b')).toEqual(['/b', '/a']);
    expect(rememberDump(['/a', '/b', '/c'], '/d', 3)).toEqual(['/d', '/a', '/b']);
  });
});
