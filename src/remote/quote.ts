/**
 * Quoting for the one place a shell line is unavoidable: OpenSSH joins the remote command's
 * arguments with spaces and hands the result to the remote user's login shell. Every argument
 * is therefore quoted here, never pasted.
 *
 * The quoting is POSIX single-quote quoting: inside '…' no character is special, and a single
 * quote is written as '\'' (close, escaped quote, reopen). This holds for sh, dash, bash, ksh,
 * zsh and busybox ash. A NUL byte cannot be passed through argv at all and is refused.
 */

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quote one argument so a POSIX shell reads it back as exactly that one word. */
export function shQuote(arg: string): string {
  if (arg.includes('\0')) throw new Error('an argument contains a NUL byte, which no command line can carry');
  if (arg.length > 0 && SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Quote an argument list into one shell line that runs exactly that argv. */
export function shJoin(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('empty command');
  return argv.map(shQuote).join(' ');
}

/**
 * A constant shell script run with its inputs as positional parameters:
 * `sh -c SCRIPT sh ARG1 ARG2 …` — the script refers to "$1", "$2"; the values never become code.
 */
export function shScript(script: string, ...args: string[]): string[] {
  return ['sh', '-c', script, 'sh', ...args];
}
