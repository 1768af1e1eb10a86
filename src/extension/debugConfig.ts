/** The `vmcore` DebugConfigurationProviders and the inline adapter factory (thin glue over pure/). */
import * as vscode from 'vscode';
import { VmcoreDebugSession } from '../adapter/session';
import { checkDumpFile } from './pure/dumpCheck';
import { dumpPathForLog, KERNEL_LOG_SCHEME } from './pure/kernelLog';
import {
  completeConfig,
  configForDump,
  DEBUG_TYPE,
  type VmcoreLaunchConfig,
  validateConfig,
  withDump,
} from './pure/launchConfig';

/** The file picker every "which dump?" question goes through. Any file may be picked: content decides. */
export async function pickDumpFile(title = 'Open a crash dump (vmcore)'): Promise<string | undefined> {
  const picked = await vscode.window.showOpenDialog({
    title,
    openLabel: 'Open Crash Dump',
    canSelectFiles: true,
    canSelectFolders: false,
    canSelectMany: false,
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
  });
  return picked?.[0]?.fsPath;
}

/** The dump the user is looking at: a file tab that is a dump by content, or a dump's kernel log. */
export async function activeDumpCandidate(): Promise<string | undefined> {
  const editor = vscode.window.activeTextEditor;
  if (editor?.document.uri.scheme === KERNEL_LOG_SCHEME) return dumpPathForLog(editor.document.uri.path);
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input as { uri?: vscode.Uri } | undefined;
  const uri = input?.uri;
  if (uri?.scheme !== 'file') return undefined;
  const check = await checkDumpFile(uri.fsPath);
  return check.ok ? uri.fsPath : undefined;
}

export class VmcoreConfigurationProvider implements vscode.DebugConfigurationProvider {
  provideDebugConfigurations(): vscode.DebugConfiguration[] {
    return [
      {
        type: DEBUG_TYPE,
        request: 'launch',
        name: 'Open a crash dump',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a launch.json variable that VS Code substitutes
        vmcore: '${command:PickVmcore}',
      },
    ];
  }

  /** F5 with no launch.json arrives here with an empty configuration: use the dump in view, or ask. */
  async resolveDebugConfiguration(
    _folder: vscode.WorkspaceFolder | undefined,
    config: vscode.DebugConfiguration,
  ): Promise<vscode.DebugConfiguration | undefined> {
    const completion = completeConfig(config, config.vmcore ? undefined : await activeDumpCandidate());
    if (completion.action === 'start') return completion.config;
    const picked = await pickDumpFile();
    return picked ? withDump(completion.config, picked) : undefined;
  }

  /** Variables are substituted now: check the files before the adapter starts. */
  async resolveDebugConfigurationWithSubstitutedVariables(
    folder: vscode.WorkspaceFolder | undefined,
    config: vscode.DebugConfiguration,
  ): Promise<vscode.DebugConfiguration | undefined> {
    const { config: checked, errors } = await validateConfig(
      config as VmcoreLaunchConfig,
      folder?.uri.fsPath,
    );
    if (errors.length === 0) return checked;
    void vscode.window.showErrorMessage(`Cannot open the crash dump: ${errors.join('; ')}`);
    return undefined;
  }
}

/** "Run and Debug" → vmcore…: one entry per crash dump found (by content) in the workspace. */
export class VmcoreDynamicConfigurationProvider implements vscode.DebugConfigurationProvider {
  async provideDebugConfigurations(
    folder: vscode.WorkspaceFolder | undefined,
    token?: vscode.CancellationToken,
  ): Promise<vscode.DebugConfiguration[]> {
    // VS Code asks once per workspace folder, and once more with no folder: answer only per folder.
    if (!folder) return [];
    const files = await vscode.workspace.findFiles(
      new vscode.RelativePattern(folder, '**/*'),
      '**/{node_modules,.git}/**',
      2000,
      token,
    );
    const out: vscode.DebugConfiguration[] = [];
    for (const f of files) {
      if (token?.isCancellationRequested) break;
      if (f.scheme !== 'file') continue;
      const stat = await vscode.workspace.fs.stat(f).then(
        (s) => s,
        () => undefined,
      );
      if (!stat || stat.size < 4096) continue;
      if ((await checkDumpFile(f.fsPath)).ok) out.push(configForDump(f.fsPath));
    }
    return out;
  }
}

/** The adapter runs inside the extension host: no process, no port. */
export class InlineAdapterFactory implements vscode.DebugAdapterDescriptorFactory {
  createDebugAdapterDescriptor(): vscode.DebugAdapterDescriptor {
    // The session implements VS Code's DebugAdapter shape (handleMessage, onDidSendMessage, dispose).
    return new vscode.DebugAdapterInlineImplementation(
      new VmcoreDebugSession() as unknown as vscode.DebugAdapter,
    );
  }
}

/** Start a vmcore session on a file already checked to be a dump. */
export function startDumpSession(dumpPath: string): Thenable<boolean> {
  const uri = vscode.Uri.file(dumpPath);
  const folder = vscode.workspace.getWorkspaceFolder(uri) ?? vscode.workspace.workspaceFolders?.[0];
  return vscode.debug.startDebugging(folder, configForDump(dumpPath));
}
