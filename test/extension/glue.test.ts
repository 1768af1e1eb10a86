/**
 * The glue of src/extension with the real adapter on a real dump, VS Code itself stubbed thinly
 * (test/support/vscodeStub.ts): the hover provider and the kernel-log document provider, fed through
 * the same DAP messages VS Code would carry. The real VS Code run is test/long/e2e.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as vscode from 'vscode';
import { RegisterHoverProvider } from '../../src/extension/hover';
import { KernelLogProvider, uriForDump } from '../../src/extension/kernelLogDocument';
import { SessionRegistry } from '../../src/extension/sessions';
import { corpus, VMCORES } from '../support/corpus';
import { InlineAdapter } from '../support/inlineAdapter';

const stub = vscode as unknown as typeof import('../support/vscodeStub');

const pos = (line: number, character: number) =>
  new stub.Position(line, character) as unknown as vscode.Position;

function hoverText(h: vscode.Hover | undefined): string {
  if (!h) throw new Error('no hover');
  return (h.contents[0] as unknown as { value: string }).value;
}

function textDocument(lines: string[], languageId: string, uri = stub.Uri.file('/ws/vmcore-dmesg.txt')) {
  return { languageId, uri, lineAt: (n: number) => ({ text: lines[n]! }) } as unknown as vscode.TextDocument;
}

describe('glue on the real adapter: kdump-sysrq/vmcore.elf-d31', () => {
  const dump = corpus().find((d) => d.name === 'kdump-sysrq/vmcore.elf-d31')!;
  const panicCpu: number = dump.truth.crash_summary.panic_cpu;
  const rip: string = dump.truth.summary_per_cpu[panicCpu].rip;
  const reference = readFileSync(join(VMCORES, 'kdump-sysrq/logs/dmesg.txt'), 'utf8');
  const lines = reference.split('\n');
  const adapter = new InlineAdapter();
  const opened: { threadId: number }[] = [];
  const sessions = new SessionRegistry((_s, threadId) => opened.push({ threadId }), undefined);
  const session = adapter.session('s1', dump.path);

  beforeAll(async () => {
    const tracker = sessions.createDebugAdapterTracker(session as unknown as vscode.DebugSession);
    adapter.tracker = tracker as never;
    await adapter.start(dump.path);
    // VS Code asks for the threads and the top frame of the stopped thread next
    await adapter.request('threads');
    await adapter.request('stackTrace', { threadId: panicCpu + 1, startFrame: 0, levels: 1 });
  });
  afterAll(() => adapter.stop());

  it('the tracker saw the panic stop and asks for the Disassembly view (the top frame has no source)', () => {
    expect(sessions.panicOf(session as unknown as vscode.DebugSession)).toMatchObject({
      threadId: panicCpu + 1,
      description: dump.truth.crash_summary.panic_message,
    });
    expect(opened).toEqual([{ threadId: panicCpu + 1 }]);
    expect(sessions.pick(dump.path)).toBe(session);
  });

  it('hover on RIP in a kernel log: the value of rip in the panic frame (no frame selected yet)', async () => {
    stub.debug.activeStackItem = undefined;
    const i = lines.findIndex((l) => l.includes('RIP: 0033:0x47b7a0'));
    const hover = await new RegisterHoverProvider(sessions).provideHover(
      textDocument(lines, 'kernel-log'),
      pos(i, lines[i]!.indexOf('RIP') + 1),
    );
    const text = hoverText(hover);
    expect(text).toMatch(new RegExp(`^\\*\\*rip\\*\\* = \`${rip}\\b`));
    expect(text).toContain(`selected frame of CPU ${panicCpu} · pid 136 · sh`);
    expect(hover?.range).toMatchObject({
      start: { character: lines[i]!.indexOf('RIP') },
      end: { character: lines[i]!.indexOf('RIP') + 3 },
    });
  });

  it('hover follows the selected frame: rsp is the saved one in frame 0, higher up the stack in frame 1', async () => {
    const st = await adapter.request('stackTrace', { threadId: panicCpu + 1, startFrame: 0, levels: 2 });
    const doc = textDocument(['RSP: 0018:ffff'], 'kernel-log');
    const at = pos(0, 1);
    const provider = new RegisterHoverProvider(sessions);
    const value = async (frameId: number) => {
      stub.debug.activeStackItem = new stub.DebugStackFrame(session, panicCpu + 1, frameId);
      const h = await provider.provideHover(doc, at);
      return BigInt(/`(0x[0-9a-f]+)/.exec(hoverText(h))![1]!);
    };
    const sp0 = await value(st.stackFrames[0].id);
    const sp1 = await value(st.stackFrames[1].id);
    expect(sp0).toBe(BigInt(dump.truth.summary_per_cpu[panicCpu].rsp));
    expect(sp1).toBeGreaterThan(sp0);
    stub.debug.activeStackItem = undefined;
  });

  it('hover on a kernel address: its symbol; nothing on prose, short numbers or unknown names', async () => {
    const provider = new RegisterHoverProvider(sessions);
    const doc = textDocument(
      [`stack word ${rip.slice(2)} here`, 'EXT4-fs (vda): mounted', 'foo: 0x10'],
      'kernel-log',
    );
    const h = await provider.provideHover(doc, pos(0, 14));
    expect(hoverText(h)).toMatch(new RegExp(`^\`${rip}\` → \`${rip} <__crash_kexec\\+0x11a>\`$`));
    expect(await provider.provideHover(doc, pos(1, 6))).toBeUndefined();
    expect(await provider.provideHover(doc, pos(2, 1))).toBeUndefined();
    expect(await provider.provideHover(doc, pos(2, 7))).toBeUndefined();
  });

  it('the kernel-log document is the dump’s own log, equal to makedumpfile --dump-dmesg, opened at the panic', async () => {
    const logs = new KernelLogProvider(sessions);
    const text = await logs.provideTextDocumentContent(uriForDump(dump.path) as never);
    expect(text).toBe(reference.endsWith('\n') ? reference : `${reference}\n`);
    const panicLine = lines.findIndex((l) => l.includes(dump.truth.crash_summary.panic_message));
    expect(logs.panicLine(dump.path)).toBe(panicLine);
    logs.dispose();
  });

  it('a kernel-log document with no session says how to get one; the session ends cleanly', async () => {
    const logs = new KernelLogProvider(sessions);
    const text = await logs.provideTextDocumentContent(uriForDump('/nowhere/vmcore') as never);
    expect(text).toBe(
      'No debug session is open on /nowhere/vmcore.\nOpen the dump (Kdump: Open Crash Dump…) and this document fills in with its kernel log.\n',
    );
    stub.debug.fireTerminated(session);
    expect(sessions.sessions()).toEqual([]);
    logs.dispose();
  });
});
