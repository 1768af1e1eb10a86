import { execFileSync } from 'node:child_process';
import { corpus, ensureDecompressed, PROJECT_ROOT } from './corpus';
import { ensureDebianKernel } from './debianKernel';

/** Decompress the shared dumps once, and build dist/ so tests can run the CLI and adapter as processes. */
export default async function setup(): Promise<void> {
  await ensureDecompressed((s) => console.log(s));
  // Debian's debug vmlinux of every x86_64 kernel in the corpus, and a System.map made from it.
  const releases = new Set(
    corpus()
      .filter((d) => d.truth.arch === 'x86_64')
      .map((d) => d.truth.kernel.osrelease as string),
  );
  for (const release of releases) ensureDebianKernel(release, (s) => console.log(s));
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: PROJECT_ROOT, stdio: 'inherit' });
}
