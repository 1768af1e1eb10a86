/**
 * `vmcore target …`: arm kdump on remote hosts over SSH (status, load, unload, reserve, crash, dumps,
 * fetch). A thin adapter: the subcommands live in src/remote/cli/target.ts and parse their own
 * arguments (runRaw).
 */

import { processIo } from '../../remote/cli/io';
import { TARGET_USAGE, targetCommand } from '../../remote/cli/target';
import type { CliIO } from '../output';
import { type Command, EXIT } from './types';

export const target: Command = {
  name: 'target',
  summary: 'remote kdump over SSH: status, load, unload, reserve, crash, dumps, fetch (vmcore target --help)',
  positionals: [
    { name: 'SUBCOMMAND', description: 'status | load | unload | reserve | crash | dumps | fetch' },
    {
      name: 'HOST',
      optional: true,
      description: 'anything ssh accepts: alias, user@host, ssh://user@host:port',
    },
  ],
  options: [
    { name: 'ssh-config', type: 'string', value: 'FILE', description: 'ssh config file (ssh -F)' },
    { name: 'json', type: 'flag', description: 'JSON output (status, dumps)' },
  ],
  help: TARGET_USAGE,
  async run() {
    return EXIT.INTERNAL; // never called: runRaw takes the arguments
  },
  runRaw(argv: readonly string[], io: CliIO) {
    return targetCommand([...argv], { ...processIo(), out: (t) => io.out(t), err: (t) => io.err(t) });
  },
};
