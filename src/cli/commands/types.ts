import type { CommandSpec, ParsedArgs } from '../args';
import type { CliIO } from '../output';

/** Exit codes of every subcommand. */
export const EXIT = {
  /** Done; everything asked for was there. */
  OK: 0,
  /** Done, but part of what was asked for is not in the dump (bytes, a CPU); the output says which. */
  PARTIAL: 1,
  /** Bad input (not a dump, corrupt, truncated header, unreadable file) or bad usage. */
  BAD_INPUT: 2,
  /** A bug in vmcore. */
  INTERNAL: 3,
} as const;

/** One `vmcore` subcommand: its arguments (for parsing, usage and help) and what it does. */
export interface Command extends CommandSpec {
  /** One line for `vmcore --help`. */
  summary: string;
  /** Paragraphs for `vmcore COMMAND --help`, after the usage line and the argument list. */
  help?: string;
  run(args: ParsedArgs, io: CliIO): Promise<number>;
  /**
   * Commands with subcommands of their own (`vmcore target …`) take the raw arguments instead:
   * when present, it is called in place of parsing + `run` (and handles --help itself).
   */
  runRaw?(argv: readonly string[], io: CliIO): Promise<number>;
}
