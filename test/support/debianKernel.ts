/**
 * Symbols for the x86_64 dumps from Debian's own packages: the debug vmlinux of the exact kernel
 * (linux-image-<release>-dbg, the file crash and drgn used for the references) and a System.map made
 * from it the way the kernel's scripts/mksysmap does (Debian ships only a placeholder System.map).
 * Downloaded with apt-get and unpacked once into the cache.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(
  process.env.KDUMP_DEBUG_CACHE
    ? join(process.env.KDUMP_DEBUG_CACHE, '..')
    : join(homedir(), '.cache', 'kdump-debug'),
);

export function kernelCacheDir(release: string): string {
  return join(ROOT, `kernel-${release}`);
}

export function vmlinuxPath(release: string): string {
  return join(kernelCacheDir(release), 'usr', 'lib', 'debug', 'boot', `vmlinux-${release}`);
}

export function systemMapPath(release: string): string {
  return join(kernelCacheDir(release), `System.map-${release}`);
}

/** Where the debug module NAME.ko of a release is kept once unpacked. */
export function debugModulePath(release: string, name: string): string {
  return join(kernelCacheDir(release), 'modules', `${name}.ko`);
}

/**
 * Fetch and unpack vmlinux for an amd64 Debian release, and the debug .ko of each named module (the
 * reference for module symbols), in one pass over the package; derive its System.map. Idempotent.
 */
export function ensureDebianKernel(
  release: string,
  log: (s: string) => void = () => undefined,
  modules: readonly string[] = [],
): void {
  const dir = kernelCacheDir(release);
  const vmlinux = vmlinuxPath(release);
  const missingModules = modules.filter((m) => !existsSync(debugModulePath(release, m)));
  if (!existsSync(vmlinux) || missingModules.length > 0) {
    const debs = join(ROOT, 'debs');
    mkdirSync(debs, { recursive: true });
    const pkg = `linux-image-${release}-dbg`;
    let deb = readdirSync(debs).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
    if (!deb) {
      log(`downloading ${pkg} (about 860 MB) with apt-get into ${debs}`);
      try {
        execFileSync('apt-get', ['download', pkg], { cwd: debs, stdio: 'inherit' });
      } catch {
        throw new Error(
          `cannot download ${pkg} with apt-get: the vmlinux tests need Debian's package (run apt-get update, or see README)`,
        );
      }
      deb = readdirSync(debs).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'))!;
    }
    log(`unpacking vmlinux and ${missingModules.length} debug modules from ${deb}`);
    mkdirSync(dir, { recursive: true });
    const part = join(dir, 'unpack.part');
    rmSync(part, { recursive: true, force: true });
    mkdirSync(part, { recursive: true });
    // Module file names may spell "_" as "-" (virtio-rng.ko): match either.
    const patterns = missingModules.map((m) => `*/${m.replaceAll('_', '[_-]')}.ko`);
    execFileSync(
      'bash',
      [
        '-c',
        'set -o pipefail; deb=$1; shift; dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$@"',
        'unpack',
        join(debs, deb),
        part,
        '--wildcards',
        `./usr/lib/debug/boot/vmlinux-${release}`,
        ...patterns,
      ],
      { stdio: 'inherit' },
    );
    mkdirSync(join(dir, 'usr', 'lib', 'debug', 'boot'), { recursive: true });
    if (!existsSync(vmlinux))
      renameSync(join(part, 'usr', 'lib', 'debug', 'boot', `vmlinux-${release}`), vmlinux);
    mkdirSync(join(dir, 'modules'), { recursive: true });
    const found = new Map<string, string>();
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else if (e.name.endsWith('.ko')) found.set(e.name.slice(0, -3).replaceAll('-', '_'), join(d, e.name));
      }
    };
    walk(part);
    for (const m of missingModules) {
      const from = found.get(m);
      if (!from) throw new Error(`${deb} has no debug module ${m}.ko`);
      renameSync(from, debugModulePath(release, m));
    }
    rmSync(part, { recursive: true, force: true });
  }
  const map = systemMapPath(release);
  if (!existsSync(map)) {
    // scripts/mksysmap: nm -n, without absolute/undefined/weak-undefined symbols and local labels.
    const nm = execFileSync('nm', ['-n', vmlinux], { maxBuffer: 256 * 1024 * 1024 }).toString();
    const kept = nm.split('\n').filter((l) => l && !/ [aNUw] /.test(l) && !/ (\$[adt]|\.L|__crc_)/.test(l));
    writeFileSync(`${map}.part`, kept.join('\n') + '\n');
    renameSync(`${map}.part`, map);
  }
}
