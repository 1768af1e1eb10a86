/**
 * The standalone debug adapter: speaks DAP over stdio (for nvim-dap, Emacs dap-mode and other
 * clients), or with `--server=PORT` as a TCP server that starts one session per connection (for
 * debugging the adapter itself).
 */
import { DebugSession } from '@vscode/debugadapter';
import { VmcoreDebugSession } from './session';

// A bug in one request must not end the session the user is in: log it and keep serving.
process.on('unhandledRejection', (reason) => {
  process.stderr.write(
    `kdump-debug adapter: unhandled error: ${reason instanceof Error ? reason.stack : String(reason)}\n`,
  );
});

/** The adapter in a process of its own: blocking reads cannot freeze anything else. */
class StandaloneVmcoreSession extends VmcoreDebugSession {
  constructor() {
    super({ blockingReads: true });
  }
}

DebugSession.run(StandaloneVmcoreSession);
