/**
 * Where a source file the DWARF line table names is on this machine. The recorded path is the build
 * machine's (often relative to a build directory, e.g. Debian's
 * `debian/build/build_amd64_none_amd64/kernel/panic.c`), so with a `kernelSource` tree the path's
 * trailing components are tried under it, longest first (`kernel/panic.c` matches
 * `<kernelSource>/kernel/panic.c`); the prefix that matched is remembered and tried first for the next
 * file. Without `kernelSource`, only an absolute path that exists is used.
 */
import { stat } from 'node:fs/promises';
import { join, posix } from 'node:path';

/** Paths tried per file at most (each is one stat). */
const MAX_CANDIDATES = 16;

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

export class SourceLocator {
  private readonly found = new Map<string, Promise<string | undefined>>();
  /** Recorded-path prefixes that mapped onto kernelSource, most recent first. */
  private readonly prefixes: string[] = [];

  constructor(readonly kernelSource?: string) {}

  /** The local path of a recorded source path, or undefined when it is not on this machine. */
  locate(recorded: string): Promise<string | undefined> {
    let p = this.found.get(recorded);
    if (!p) {
      p = this.search(recorded);
      this.found.set(recorded, p);
    }
    return p;
  }

  private async search(recorded: string): Promise<string | undefined> {
    const path = posix.normalize(recorded);
    if (this.kernelSource) {
      const inTree = await this.underKernelSource(path);
      if (inTree) return inTree;
    }
    if (posix.isAbsolute(path) && (await isFile(path))) return path;
    return undefined;
  }

  private async underKernelSource(path: string): Promise<string | undefined> {
    const root = this.kernelSource!;
    for (const prefix of this.prefixes) {
      if (path.startsWith(prefix)) {
        const candidate = join(root, path.slice(prefix.length));
        if (await isFile(candidate)) return candidate;
      }
    }
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    // A suffix cannot start before a `..`: what it climbs out of is unknown.
    const firstUsable = parts.lastIndexOf('..') + 1;
    // At least directory/file, so a bare `panic.c` at the tree's top is not taken for kernel/panic.c.
    const lastStart = parts.length - (parts.length - firstUsable >= 2 ? 2 : 1);
    for (let i = firstUsable, tries = 0; i <= lastStart && tries < MAX_CANDIDATES; i++, tries++) {
      const candidate = join(root, ...parts.slice(i));
      if (await isFile(candidate)) {
        const prefix = (path.startsWith('/') ? '/' : '') + parts.slice(0, i).join('/');
        if (i > 0 && !this.prefixes.includes(`${prefix}/`)) this.prefixes.unshift(`${prefix}/`);
        return candidate;
      }
    }
    return undefined;
  }
}
