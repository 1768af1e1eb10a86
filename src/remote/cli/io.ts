/** A CliIo on the real process: stdout/stderr, Ctrl-C cancels, hidden prompt for the sudo password. */
import { createInterface } from 'node:readline';
import type { CliIo } from './args';

export function processIo(): CliIo {
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort(new Error('interrupted')));
  const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY);
  return {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    interactive,
    signal: ac.signal,
    askSecret: interactive ? (prompt) => askHidden(`${prompt}: `) : undefined,
  };
}

function askHidden(prompt: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const out = rl as unknown as { _writeToOutput?: (s: string) => void };
    process.stderr.write(prompt);
    out._writeToOutput = () => undefined; // no echo
    rl.question('', (answer) => {
      process.stderr.write('\n');
      rl.close();
      resolve(answer);
    });
    rl.on('SIGINT', () => {
      rl.close();
      resolve(undefined);
    });
  });
}
