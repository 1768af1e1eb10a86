/**
 * Symbols for the x86_64 dumps from Debian's own packages: the debug vmlinux of the exact kernel
 * (linux-image-<release>-dbg, the file crash and drgn used for the references) and a System.map made
 * from it the way the kernel's scripts/mksysmap does (Debian ships only a placeholder System.map).
 * Downloaded with apt-get and unpacked once into the cache.
 */
import { execFileSync, execSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
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

/** Fetch and unpack vmlinux for an amd64 Debian release, and derive its System.map. Idempotent. */
export function ensureDebianKernel(release: string, log: (s: string) => void = () => undefined): void {
  const dir = kernelCacheDir(release);
  const vmlinux = vmlinuxPath(release);
  if (!existsSync(vmlinux)) {
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
    log(`unpacking vmlinux from ${deb}`);
    mkdirSync(dir, { recursive: true });
    const part = join(dir, 'unpack.part');
    mkdirSync(part, { recursive: true });
    execSync(
      `dpkg-deb --fsys-tarfile "${join(debs, deb)}" | tar -x -C "${part}" ./usr/lib/debug/boot/vmlinux-${release}`,
      { stdio: 'inherit' },
    );
    mkdirSync(join(dir, 'usr', 'lib', 'debug', 'boot'), { recursive: true });
    renameSync(join(part, 'usr', 'lib', 'debug', 'boot', `vmlinux-${release}`), vmlinux);
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
