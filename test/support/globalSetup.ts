import { execFileSync } from 'node:child_process';
import { corpus, ensureDecompressed, PROJECT_ROOT } from './corpus';
import { ensureDebianKernel } from './debianKernel';

/** Decompress the shared dumps once, and build dist/ so tests can run the CLI and adapter as processes. */
export default async function setup(): Promise<void> {
  await ensureDecompressed((s) => console.log(s));
  // Debian's debug vmlinux of every x86_64 kernel in the corpus, and a System.map made from it.
  // With it, the debug .ko of every module loaded in those dumps: the reference for module symbols.
  const modules = new Map<string, Set<string>>();
  for (const d of corpus().filter((d) => d.truth.arch === 'x86_64')) {
    const release = d.truth.kernel.osrelease as string;
    const names = modules.get(release) ?? new Set<string>();
    for (const m of (d.truth.drgn?.modules ?? []) as { name: string }[]) names.add(m.name);
    modules.set(release, names);
  }
  for (const [release, names] of modules) ensureDebianKernel(release, (s) => console.log(s), [...names]);
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: PROJECT_ROOT, stdio: 'inherit' });
}
