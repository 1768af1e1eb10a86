/** The Kdump commands (palette, explorer context menu, walkthrough links). */
import * as vscode from 'vscode';
import { activeDumpCandidate, pickDumpFile, startDumpSession } from './debugConfig';
import { type KernelLogProvider, showKernelLog } from './kernelLogDocument';
import { checkDumpFile } from './pure/dumpCheck';
import type { SessionRegistry } from './sessions';

const OPEN_DISASSEMBLY = 'debug.action.openDisassemblyView';

/** Check by content, then start a session; a non-dump gets a clear error, not a failed session. */
export async function openDumpChecked(path: string): Promise<boolean> {
  const check = await checkDumpFile(path);
  if (!check.ok) {
    void vscode.window.showErrorMessage(`Not opened as a crash dump: ${check.message}`);
    return false;
  }
  return startDumpSession(path);
}

async function askToOpenDump(why: string): Promise<void> {
  const open = 'Open Crash Dump…';
  if ((await vscode.window.showInformationMessage(why, open)) === open) {
    await vscode.commands.executeCommand('kdump.openCrashDump');
  }
}

export function registerCommands(sessions: SessionRegistry, logs: KernelLogProvider): vscode.Disposable[] {
  const reg = vscode.commands.registerCommand;
  return [
    reg('kdump.openCrashDump', async () => {
      const path = await pickDumpFile();
      return path ? openDumpChecked(path) : false;
    }),
    // Explorer context menu: shown on every file; the content decides.
    reg('kdump.openAsCrashDump', async (uri?: vscode.Uri) => {
      const path = uri?.fsPath ?? (await activeDumpCandidate()) ?? (await pickDumpFile());
      return path ? openDumpChecked(path) : false;
    }),
    reg('kdump.openDumpPath', (path: string) => openDumpChecked(path)),
    // `${command:PickVmcore}` in launch.json: the chosen path, or undefined to cancel the launch.
    reg('kdump.pickVmcore', () => pickDumpFile()),
    reg('kdump.showKernelLog', async () => {
      const session = sessions.pick();
      const dump = session?.configuration.vmcore;
      if (!session || typeof dump !== 'string') {
        return askToOpenDump('The kernel log comes from an open crash dump: open one first.');
      }
      try {
        await showKernelLog(logs, dump);
      } catch (err) {
        void vscode.window.showErrorMessage(
          `Cannot show the kernel log of ${dump}: ${(err as Error).message}`,
        );
      }
    }),
    reg('kdump.openDisassemblyAtPanic', async () => {
      const session = sessions.pick();
      if (!session) return askToOpenDump('Open a crash dump first: the disassembly is read from it.');
      const panic = sessions.panicOf(session);
      if (!panic) {
        void vscode.window.showInformationMessage(
          `${session.name} did not stop on a panic (no exception stop): select a frame and use "Open Disassembly View".`,
        );
        return;
      }
      // The Disassembly view shows the focused frame, and extensions cannot focus one: VS Code focuses
      // no frame by itself when no frame has source, so the user picks it in Call Stack.
      const item = vscode.debug.activeStackItem;
      if (
        !(item instanceof vscode.DebugStackFrame) ||
        item.session.id !== session.id ||
        item.threadId !== panic.threadId
      ) {
        const threads: { id: number; name: string }[] =
          (await session.customRequest('threads'))?.threads ?? [];
        const name = threads.find((t) => t.id === panic.threadId)?.name ?? `thread ${panic.threadId}`;
        void vscode.window.showInformationMessage(
          `Select the top frame of the panicking CPU (${name}) in the Call Stack view, then run this again.`,
        );
        return;
      }
      await vscode.commands.executeCommand(OPEN_DISASSEMBLY);
    }),
  ];
}

/**
 * After the panic stop, when the top frame has no source, show the Disassembly view. The command shows
 * the focused frame, and VS Code focuses no frame by itself when none has source (its "top stack frame"
 * is the first frame with source): so the view opens as soon as a frame of the panicking CPU is focused,
 * right away if one already is, else on the user's first click in Call Stack. Once per panic stop.
 */
export function openDisassemblyOnPanic(session: vscode.DebugSession, threadId: number): void {
  if (!vscode.workspace.getConfiguration('kdump').get<boolean>('openDisassemblyOnPanic', true)) return;
  const focused = () => {
    const item = vscode.debug.activeStackItem;
    return (
      item instanceof vscode.DebugStackFrame && item.session.id === session.id && item.threadId === threadId
    );
  };
  const open = () => void vscode.commands.executeCommand(OPEN_DISASSEMBLY);
  if (focused()) {
    open();
    return;
  }
  const subs: vscode.Disposable[] = [];
  const done = () => {
    for (const s of subs) s.dispose();
  };
  subs.push(
    vscode.debug.onDidChangeActiveStackItem(() => {
      if (!focused()) return;
      done();
      open();
    }),
    vscode.debug.onDidTerminateDebugSession((s) => {
      if (s.id === session.id) done();
    }),
  );
}
