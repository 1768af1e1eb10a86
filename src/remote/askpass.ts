/**
 * The SSH_ASKPASS bridge: OpenSSH runs a helper program for every password, passphrase and
 * new-host-key question (SSH_ASKPASS_REQUIRE=force, no tty). The helper is a tiny script written into
 * the private socket directory; it forwards the prompt over a Unix socket (with a random token) to
 * the callback given here, and prints the answer. A VS Code UI passes a callback that opens input
 * boxes; the CLI and the tests pass their own. Nothing here imports vscode.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';

export type PromptKind = 'password' | 'passphrase' | 'host-key' | 'other';

export interface AskpassPrompt {
  kind: PromptKind;
  /** The text OpenSSH prints (for host keys it includes the fingerprint). */
  text: string;
  /** The host the ssh process was started for (as the user named it). */
  host: string;
  /** For host-key prompts: "SHA256:…" */
  fingerprint?: string;
}

/** Answer a prompt: a string (for host-key prompts "yes"/"no"), or undefined to cancel. */
export type AskpassHandler = (prompt: AskpassPrompt) => Promise<string | undefined>;

export function classifyPrompt(text: string): { kind: PromptKind; fingerprint?: string } {
  if (/continue connecting|authenticity of host/i.test(text)) {
    const m = /(SHA256:[A-Za-z0-9+/=]+)/.exec(text);
    return m ? { kind: 'host-key', fingerprint: m[1]! } : { kind: 'host-key' };
  }
  if (/passphrase/i.test(text)) return { kind: 'passphrase' };
  if (/password/i.test(text)) return { kind: 'password' };
  return { kind: 'other' };
}

/** The helper's JavaScript: connect, send {token, prompt, host}, print the answer or exit 1. */
const HELPER_JS = `'use strict';
const net = require('net');
const sock = process.env.KDD_ASKPASS_SOCK;
const req = JSON.stringify({ token: process.env.KDD_ASKPASS_TOKEN, host: process.env.KDD_ASKPASS_HOST || '', prompt: process.argv[2] || '' });
if (!sock) process.exit(1);
const c = net.createConnection(sock, () => c.end(req + '\\n'));
let buf = '';
c.setEncoding('utf8');
c.on('data', (d) => { buf += d; });
c.on('end', () => {
  try {
    const r = JSON.parse(buf);
    if (typeof r.answer !== 'string') process.exit(1);
    process.stdout.write(r.answer + '\\n');
    process.exit(0);
  } catch { process.exit(1); }
});
c.on('error', () => process.exit(1));
`;

export class AskpassServer {
  readonly socketPath: string;
  readonly helperPath: string;
  readonly token = randomBytes(24).toString('hex');
  private server: Server | undefined;

  constructor(
    readonly dir: string,
    private readonly handler: AskpassHandler,
    /** Node (or Electron run as Node) to run the helper with. */
    private readonly nodePath: string = process.execPath,
  ) {
    this.socketPath = join(dir, 'askpass.sock');
    this.helperPath = join(dir, 'askpass.sh');
  }

  async start(): Promise<void> {
    if (this.server) return;
    const js = join(this.dir, 'askpass.js');
    writeFileSync(js, HELPER_JS, { mode: 0o600 });
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    writeFileSync(
      this.helperPath,
      `#!/bin/sh\nELECTRON_RUN_AS_NODE=1 exec ${q(this.nodePath)} ${q(js)} "$@"\n`,
      {
        mode: 0o700,
      },
    );
    chmodSync(this.helperPath, 0o700);
    const server = createServer({ allowHalfOpen: true }, (conn) => {
      let buf = '';
      conn.setEncoding('utf8');
      conn.on('data', (d) => {
        buf += d;
      });
      conn.on('end', () => {
        void (async () => {
          let answer: string | undefined;
          try {
            const req = JSON.parse(buf) as { token?: string; prompt?: string; host?: string };
            if (req.token !== this.token) throw new Error('bad token');
            const text = String(req.prompt ?? '');
            answer = await this.handler({ ...classifyPrompt(text), text, host: String(req.host ?? '') });
          } catch {
            answer = undefined;
          }
          conn.end(JSON.stringify({ answer: answer ?? null }));
        })();
      });
      conn.on('error', () => undefined);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => resolve());
    });
    chmodSync(this.socketPath, 0o600);
    this.server = server;
  }

  /** Environment for an ssh process whose questions should come here. */
  env(host: string): Record<string, string> {
    return {
      SSH_ASKPASS: this.helperPath,
      SSH_ASKPASS_REQUIRE: 'force',
      DISPLAY: process.env.DISPLAY || ':0',
      KDD_ASKPASS_SOCK: this.socketPath,
      KDD_ASKPASS_TOKEN: this.token,
      KDD_ASKPASS_HOST: host,
    };
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
