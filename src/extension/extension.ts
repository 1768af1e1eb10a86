/**
 * Kdump Debug: the thin VS Code glue. Everything that can be tested without VS Code lives in ./pure and
 * in the adapter; this file only wires it to the API.
 */
import * as vscode from 'vscode';
import { openDisassemblyOnPanic, registerCommands } from './commands';
import {
  InlineAdapterFactory,
  VmcoreConfigurationProvider,
  VmcoreDynamicConfigurationProvider,
} from './debugConfig';
import { DISASM_LANGUAGE, RegisterHoverProvider } from './hover';
import { KERNEL_LOG_LANGUAGE, KernelLogProvider, PanicLineDecorator } from './kernelLogDocument';
import { KERNEL_LOG_SCHEME } from './pure/kernelLog';
import { DEBUG_TYPE } from './pure/launchConfig';
import { activateRemote } from './remote/activate';
import { SessionRegistry } from './sessions';
import { RecentDumpsView } from './views';

export function activate(context: vscode.ExtensionContext): void {
  const sessions = new SessionRegistry(openDisassemblyOnPanic);
  const logs = new KernelLogProvider(sessions);
  const recent = new RecentDumpsView(context);
  context.subscriptions.push(
    sessions,
    logs,
    recent,
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, new VmcoreConfigurationProvider()),
    vscode.debug.registerDebugConfigurationProvider(
      DEBUG_TYPE,
      new VmcoreDynamicConfigurationProvider(),
      vscode.DebugConfigurationProviderTriggerKind.Dynamic,
    ),
    vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, new InlineAdapterFactory()),
    vscode.debug.registerDebugAdapterTrackerFactory(DEBUG_TYPE, sessions),
    vscode.debug.onDidStartDebugSession((s) => {
      if (s.type === DEBUG_TYPE && typeof s.configuration.vmcore === 'string')
        recent.add(s.configuration.vmcore);
    }),
    vscode.workspace.registerTextDocumentContentProvider(KERNEL_LOG_SCHEME, logs),
    new PanicLineDecorator(logs),
    vscode.languages.registerHoverProvider(
      [{ language: KERNEL_LOG_LANGUAGE }, { language: DISASM_LANGUAGE }],
      new RegisterHoverProvider(sessions),
    ),
    vscode.window.registerTreeDataProvider('kdump.dumps', recent),
    activateRemote(context),
    ...registerCommands(sessions, logs),
  );
}

export function deactivate(): void {}
