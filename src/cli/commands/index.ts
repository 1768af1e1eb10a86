/**
 * Every `vmcore` subcommand, in the order `vmcore --help` lists them.
 *
 * Adding one: write src/cli/commands/NAME.ts exporting a `Command` (its
 * positionals and options drive parsing, the usage line and --help; `run` returns an EXIT code and
 * throws DumpError for bad dumps and UsageError for bad arguments), then add it to this list. Use
 * `withDump` to open the dump, `toJson` for --json, `io.out` for output.
 */
import { bt } from './bt';
import { dmesg } from './dmesg';
import { info } from './info';
import { kmem } from './kmem';
import { mod } from './mod';
import { ps } from './ps';
import { ptov } from './ptov';
import { rd } from './rd';
import { regs } from './regs';
import { target } from './target';
import type { Command } from './types';
import { vtop } from './vtop';

export const COMMANDS: readonly Command[] = [info, regs, rd, vtop, ptov, dmesg, bt, ps, mod, kmem, target];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
