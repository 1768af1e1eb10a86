/**
 * The real VS Code of the long suite: code-server 4.139.1 on Node 24 and Debian's chromium, installed by
 * scripts/setup-e2e.sh into a cache outside the clone (idempotent: ~0 s once installed).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../support/corpus';

export interface E2eEnv {
  CS_NODE: string;
  CS_ENTRY: string;
  CHROMIUM: string;
  /** lib/vscode/node_modules of the code-server install: VS Code's own vscode-textmate and Oniguruma. */
  VSCODE_MODULES: string;
  CS_VERSION: string;
}

let cached: E2eEnv | undefined;

/** Run the setup script (installs on first use) and read the paths it wrote. */
export function e2eEnv(): E2eEnv {
  if (cached) return cached;
  const out = execFileSync('bash', [join(PROJECT_ROOT, 'scripts/setup-e2e.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const vars = Object.fromEntries(
    out
      .split('\n')
      .map((l) => /^([A-Z_]+)=(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1]!, m[2]!]),
  );
  const envJson = join(vars.CS_ENTRY!, '../../../../../../env.json');
  cached = { ...(JSON.parse(readFileSync(envJson, 'utf8')) as E2eEnv), ...vars };
  return cached;
}
