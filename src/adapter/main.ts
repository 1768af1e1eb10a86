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

DebugSession.run(VmcoreDebugSession);
