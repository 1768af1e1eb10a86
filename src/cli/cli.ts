/**
 * The `vmcore` command line: dispatch to a subcommand, and turn every failure into one line on
 * stderr and an exit code (2 for bad input or usage; 3 for a bug, with the stack only when
 * VMCORE_DEBUG is set). Never a stack trace for a bad dump.
 */

import { version } from '../../package.json';
import { DumpError } from '../dump/errors';
import { AttributeError } from '../kernel/kernelDump';
import { parseArgs, UsageError, usageLine } from './args';
import { COMMANDS, findCommand } from './commands';
import { type Command, EXIT } from './commands/types';
import type { CliIO } from './output';

const PROGRAM = 'vmcore';

export function globalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `usage: ${PROGRAM} COMMAND FILE [ARGS] [--json]`,
    '',
    'Read a Linux kernel crash dump (ELF vmcore, makedumpfile kdump-compressed or flattened).',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    `${PROGRAM} COMMAND --help shows a command's arguments.`,
    'Exit status: 0 done; 1 done, but part of what was asked for is not in the dump; 2 bad input or usage; 3 a bug.',
    '',
  ].join('\n');
}

export function commandHelp(c: Command): string {
  const lines = [`usage: ${usageLine(c)}`, '', c.summary, ''];
  const items = [
    ...c.positionals.map((p) => [p.name, p.description] as const),
    ...c.options.map(
      (o) =>
        [
          `${o.short ? `-${o.short}, ` : ''}--${o.name}${o.type === 'flag' ? '' : ` ${o.value ?? 'VALUE'}`}`,
          o.description,
        ] as const,
    ),
  ];
  const width = Math.max(...items.map(([k]) => k.length));
  for (const [k, d] of items) lines.push(`  ${k.padEnd(width)}  ${d}`);
  if (c.help) lines.push('', c.help);
  return `${lines.join('\n')}\n`;
}

function usageFor(command: string | undefined): string {
  const c = command === undefined ? undefined : findCommand(command);
  return c
    ? `usage: ${usageLine(c)}`
    : `usage: ${PROGRAM} COMMAND FILE [ARGS] [--json]  (commands: ${COMMANDS.map((x) => x.name).join(', ')})`;
}

/** Make errno codes readable: `ENOENT` → `ENOENT (no such file or directory)`. */
function explainErrno(message: string): string {
  const words: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EISDIR: 'is a directory',
    EIO: 'input/output error',
    ELOOP: 'too many symbolic links',
    ENAMETOOLONG: 'file name too long',
    ENOTDIR: 'a part of the path is not a directory',
    EMFILE: 'too many open files',
  };
  return message.replace(/\b(E[A-Z]+)\b(?! \()/, (code) => (words[code] ? `${code} (${words[code]})` : code));
}

export async function runCli(argv: readonly string[], io: CliIO, env = process.env): Promise<number> {
  let commandName: string | undefined;
  try {
    const [first, ...rest] = argv;
    if (first === undefined) {
      io.err(`${usageFor(undefined)}\nTry '${PROGRAM} --help'.\n`);
      return EXIT.BAD_INPUT;
    }
    if (first === '--help' || first === '-h' || first === 'help') {
      const c = rest[0] === undefined ? undefined : findCommand(rest[0]);
      if (rest[0] !== undefined && !c) throw new UsageError(`unknown command "${rest[0]}"`);
      io.out(c ? commandHelp(c) : globalHelp());
      return EXIT.OK;
    }
    if (first === '--version' || first === '-V') {
      io.out(`${PROGRAM} ${version}\n`);
      return EXIT.OK;
    }
    const command = findCommand(first);
    if (!command) {
      throw new UsageError(
        first.startsWith('-') ? `${first} goes after the command` : `unknown command "${first}"`,
      );
    }
    commandName = command.name;
    if (command.runRaw) return await command.runRaw(rest, io);
    const args = parseArgs(command, rest);
    if (args.help) {
      io.out(commandHelp(command));
      return EXIT.OK;
    }
    return await command.run(args, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(
        `${PROGRAM}: ${err.message}\n${usageFor(err.command ?? commandName)}\nTry '${PROGRAM} --help'.\n`,
      );
      return EXIT.BAD_INPUT;
    }
    if (err instanceof DumpError) {
      io.err(`${PROGRAM}: ${explainErrno(err.message)}\n`);
      return EXIT.BAD_INPUT;
    }
    if (err instanceof AttributeError) {
      // A --system-map or --vmlinux that is missing, unreadable or not for this kernel.
      const option = err.attribute === 'systemMap' ? '--system-map' : `--${err.attribute}`;
      io.err(`${PROGRAM}: ${option}: ${explainErrno(err.message).replace(/\s*\n\s*/g, ' ')}\n`);
      return EXIT.BAD_INPUT;
    }
    const e = err instanceof Error ? err : new Error(String(err));
    io.err(
      `${PROGRAM}: internal error: ${e.name}: ${e.message} (a bug in ${PROGRAM}; set VMCORE_DEBUG=1 to see where)\n`,
    );
    if (env.VMCORE_DEBUG) io.err(`${e.stack ?? ''}\n`);
    return EXIT.INTERNAL;
  }
}
