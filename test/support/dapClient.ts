import { join } from 'node:path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { PROJECT_ROOT } from './corpus';

export const ADAPTER = join(PROJECT_ROOT, 'dist', 'debugAdapter.js');

/** The standalone adapter as a child process over stdio, as nvim-dap or VS Code would run it. */
export async function startAdapter(): Promise<DebugClient> {
  const dc = new DebugClient(process.execPath, ADAPTER, 'vmcore', { stdio: ['pipe', 'pipe', 'pipe'] }, true);
  dc.defaultTimeout = 20_000;
  await dc.start();
  return dc;
}

/** The client capabilities VS Code sends (DebugClient's own defaults omit memory references). */
export const VSCODE_CLIENT: DebugProtocol.InitializeRequestArguments = {
  adapterID: 'vmcore',
  clientID: 'vscode',
  linesStartAt1: true,
  columnsStartAt1: true,
  pathFormat: 'path',
  supportsVariableType: true,
  supportsVariablePaging: true,
  supportsRunInTerminalRequest: true,
  supportsMemoryReferences: true,
  supportsProgressReporting: true,
  supportsInvalidatedEvent: true,
  supportsMemoryEvent: true,
};

/** initialize → launch → configurationDone, returning the stopped event. */
export async function launchDump(
  dc: DebugClient,
  args: Record<string, unknown>,
): Promise<DebugProtocol.StoppedEvent> {
  await dc.initializeRequest(VSCODE_CLIENT);
  const [stopped] = await Promise.all([
    dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>,
    dc.launch(args as DebugProtocol.LaunchRequestArguments),
    dc.configurationDoneRequest(),
  ]);
  return stopped;
}
