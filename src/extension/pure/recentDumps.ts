/** The "Crash Dumps" view's list: most recent first, no duplicates, bounded. No `vscode` here. */
export const MAX_RECENT_DUMPS = 10;

export function rememberDump(list: readonly string[], dumpPath: string, max = MAX_RECENT_DUMPS): string[] {
  return [dumpPath, ...list.filter((p) => p !== dumpPath)].slice(0, max);
}
