import { execFileSync } from 'node:child_process';
import { ensureDecompressed, PROJECT_ROOT } from './corpus';

/** Decompress the shared dumps once, and build dist/ so tests can run the CLI and adapter as processes. */
export default async function setup(): Promise<void> {
  await ensureDecompressed((s) => console.log(s));
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: PROJECT_ROOT, stdio: 'inherit' });
}
