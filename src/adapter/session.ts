// PLACEHOLDER (extension branch) — KDUMP_ADAPTER_PLACEHOLDER
// The real adapter (`VmcoreDebugSession` on main) replaces this whole file at merge. It exists only so
// that the extension compiles, bundles and can be driven in a real VS Code before the adapter lands:
// it answers `initialize` and refuses `launch` with a message that says so. The e2e suite checks for the
// marker above and skips the debug-session steps while it is present.
import { InitializedEvent, LoggingDebugSession } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';

export class VmcoreDebugSession extends LoggingDebugSession {
  protected override initializeRequest(response: DebugProtocol.InitializeResponse): void {
    response.body = { supportsConfigurationDoneRequest: true };
    this.sendResponse(response);
    this.sendEvent(new InitializedEvent());
  }

  protected override launchRequest(
    response: DebugProtocol.LaunchResponse,
    args: DebugProtocol.LaunchRequestArguments & { vmcore?: string },
  ): void {
    this.sendErrorResponse(response, {
      id: 1,
      format: 'This build has no vmcore debug adapter yet (placeholder session): cannot open {vmcore}',
      variables: { vmcore: String(args.vmcore) },
      showUser: true,
    });
  }
}
