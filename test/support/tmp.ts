/** Temporary directories a test file makes, removed by `cleanTmp()` in its afterAll. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

export function tmp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

export function cleanTmp(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}
