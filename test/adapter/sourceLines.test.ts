/**
 * Source files for stack frames in the debug adapter: with `kernelSource`, the files the vmlinux's
 * line tables name are found in that tree by their trailing directories and given as `path`; files
 * that are nowhere get a de-emphasized placeholder whose `source` request explains; a `kernelSource`
 * that is not a folder stops the launch naming the attribute.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceLocator } from '../../src/adapter/sourceFiles';
import { corpus } from '../support/corpus';
import { launchDump, startAdapter, VSCODE_CLIENT } from '../support/dapClient';
import { vmlinuxPath } from '../support/debianKernel';
import { cleanTmp, tmp } from '../support/tmp';

afterAll(cleanTmp);

/** A stand-in kernel tree holding a few of the files the crashing stack runs through. */
function fakeKernelTree(): string {
  const root = tmp('kdump-ksrc-');
  for (const file of ['kernel/panic.c', 'drivers/tty/sysrq.c', 'arch/x86/entry/entry_64.S', 'panic.c']) {
    mkdirSync(join(root, file, '..'), { recursive: true });
    writeFileSync(join(root, file), `/* ${file} */\n`);
  }
  return root;
}

describe('SourceLocator', () => {
  it('maps recorded build paths into a kernel tree by their trailing directories, never by a bare name', async () => {
    const root = fakeKernelTree();
    const locate = new SourceLocator(root);
    expect(await locate.locate('debian/build/build_amd64_none_amd64/kernel/panic.c')).toBe(
      join(root, 'kernel/panic.c'),
    );
    expect(await locate.locate('/build/reproducible-path/linux-6.1.192/arch/x86/entry/entry_64.S')).toBe(
      join(root, 'arch/x86/entry/entry_64.S'),
    );
    expect(await locate.locate('debian/build/build_amd64_none_amd64/./drivers/tty/../tty/sysrq.c')).toBe(
      join(root, 'drivers/tty/sysrq.c'),
    );
    // `panic.c` exists at the top of the tree, but mm/panic.c is not kernel/panic.c nor ./panic.c.
    expect(await locate.locate('debian/build/mm/panic.c')).toBeUndefined();
    expect(await locate.locate('include/linux/kexec.h')).toBeUndefined();
  });

  it('without a tree, only an absolute path that exists', async () => {
    const root = fakeKernelTree();
    const locate = new SourceLocator();
    expect(await locate.locate(join(root, 'kernel/panic.c'))).toBe(join(root, 'kernel/panic.c'));
    expect(await locate.locate('kernel/panic.c')).toBeUndefined();
    expect(await locate.locate('/nonexistent/kernel/panic.c')).toBeUndefined();
  });
});

const dump = corpus().find((d) => d.truth.arch === 'x86_64' && d.truth.drgn?.crashing_cpu_stack_trace);

describe.runIf(dump)('stack frames with kernelSource', () => {
  let dc: DebugClient;
  let frames: DebugProtocol.StackFrame[];
  const tree = fakeKernelTree();
  beforeAll(async () => {
    dc = await startAdapter();
    const stopped = await launchDump(dc, {
      vmcore: dump!.path,
      vmlinux: vmlinuxPath(dump!.truth.kernel.osrelease),
      kernelSource: tree,
    });
    frames = (await dc.stackTraceRequest({ threadId: stopped.body.threadId! })).body.stackFrames;
  });
  afterAll(async () => {
    await dc?.stop();
  });

  it('files in the tree are plain paths VS Code opens, at the line and column', () => {
    const panic = frames.find((f) => f.name === 'panic+0x13d')!;
    expect(panic).toMatchObject({
      source: { name: 'panic.c', path: join(tree, 'kernel/panic.c') },
      line: 358,
      column: 3,
      instructionPointerReference: '0xffffffffbb601ded',
    });
    expect(panic.source!.presentationHint).toBeUndefined();
    expect(frames.find((f) => f.name.startsWith('entry_SYSCALL_64'))!.source).toEqual({
      name: 'entry_64.S',
      path: join(tree, 'arch/x86/entry/entry_64.S'),
    });
  });

  it('files not in the tree get a placeholder document that says where the file was', async () => {
    const top = frames[0]!;
    expect(top).toMatchObject({ name: '__crash_kexec+0x11a', line: 115, column: 15 });
    expect(top.source).toMatchObject({
      name: 'kexec.h',
      presentationHint: 'deemphasize',
      origin: 'not on this machine: debian/build/build_amd64_none_amd64/arch/x86/include/asm/kexec.h',
    });
    const r = await dc.send('source', { source: top.source, sourceReference: top.source!.sourceReference });
    expect(r.body.content).toContain('debian/build/build_amd64_none_amd64/arch/x86/include/asm/kexec.h');
    expect(r.body.content).toContain(`It is not under "kernelSource" (${tree})`);
    expect(r.body.content).toContain('Disassembly view');
    // The same file twice gets the same reference.
    const inode = frames.filter((f) => f.source?.name === 'inode.c');
    expect(new Set(inode.map((f) => f.source!.sourceReference)).size).toBe(1);
  });

  it('the Frame scope and bt in the Debug Console show file:line', async () => {
    const panicIndex = frames.findIndex((f) => f.name === 'panic+0x13d');
    const scopes = (await dc.scopesRequest({ frameId: frames[panicIndex]!.id })).body.scopes;
    const frameScope = scopes.find((s) => s.name === 'Frame')!;
    const vars = (await dc.variablesRequest({ variablesReference: frameScope.variablesReference })).body
      .variables;
    expect(vars.find((v) => v.name === 'source')?.value).toBe(
      'debian/build/build_amd64_none_amd64/kernel/panic.c:358:3',
    );
    const bt = await dc.evaluateRequest({ expression: 'bt', context: 'repl', frameId: frames[0]!.id });
    expect(bt.body.result).toMatch(
      /panic\+0x13d at ffffffffbb601ded\n {4}debian\/build\/build_amd64_none_amd64\/kernel\/panic\.c: 358\n/,
    );
  });
});

describe.runIf(dump)('a kernelSource that cannot be used', () => {
  let dc: DebugClient;
  beforeAll(async () => {
    dc = await startAdapter();
    await dc.initializeRequest(VSCODE_CLIENT);
  });
  afterAll(async () => {
    await dc?.stop();
  });

  it('stops the launch, naming the attribute', async () => {
    const file = join(fakeKernelTree(), 'panic.c');
    await expect(dc.launchRequest({ vmcore: dump!.path, kernelSource: file } as never)).rejects.toThrow(
      /^kernelSource: .*panic\.c is not a folder/,
    );
  });
});
