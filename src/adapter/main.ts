/**
 * The standalone debug adapter: speaks DAP over stdio (for nvim-dap, Emacs dap-mode and other
 * clients), or with `--server=PORT` as a TCP server that starts one session per connection (for
 * debugging the adapter itself).
 */
import { createServer } from 'node:net';
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

const serverArg = process.argv.slice(2).find((a) => a.startsWith('--server'));
if (serverArg !== undefined) {
  const m = /^--server=(\d{1,5})$/.exec(serverArg);
  const port = m ? Number(m[1]) : Number.NaN;
  if (!(port >= 0 && port <= 65535)) {
    process.stderr.write(`kdump-debug adapter: ${serverArg}: expected --server=PORT (0 picks a free port)\n`);
    process.exit(2);
  }
  // Loopback only: a session opens any file the client names, so it is not offered to the network
  // (the debugadapter library's own server mode listens on every interface).
  const server = createServer((socket) => {
    const session = new StandaloneVmcoreSession();
    session.setRunAsServer(true);
    session.start(socket, socket);
  });
  server.on('error', (err) => {
    process.stderr.write(`kdump-debug adapter: cannot listen on 127.0.0.1:${port}: ${err.message}\n`);
    process.exit(2);
  });
  server.listen(port, '127.0.0.1', () => {
    const address = server.address();
    const bound = typeof address === 'object' && address ? address.port : port;
    process.stderr.write(`kdump-debug adapter: waiting for debug protocol on 127.0.0.1:${bound}\n`);
  });
} else {
  const session = new StandaloneVmcoreSession();
  process.on('SIGTERM', () => session.shutdown());
  session.start(process.stdin, process.stdout);
}
