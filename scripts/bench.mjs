// `npm run bench`: every benchmark in its own process; prints ours vs the reference measured in the
// same run, the ratio against the goal, and each process's peak RSS.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';

const out = join(tmpdir(), 'kdump-debug-bench', 'bench.js');
mkdirSync(join(tmpdir(), 'kdump-debug-bench'), { recursive: true });
await build({
  entryPoints: ['test/bench/main.ts'],
  outfile: out,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  logLevel: 'warning',
});

const only = process.argv.slice(2);
const names = JSON.parse(execFileSync(process.execPath, [out]).toString()).filter(
  (n) => only.length === 0 || only.includes(n),
);
const rows = [];
let failed = 0;
for (const name of names) {
  try {
    const r = JSON.parse(
      execFileSync(process.execPath, ['--expose-gc', out, name], {
        stdio: ['ignore', 'pipe', 'inherit'],
      }).toString(),
    );
    const rssOk = r.maxRssMiB <= 150;
    if (!r.ok || !rssOk) failed++;
    rows.push(r);
    console.log(
      `${r.ok ? 'ok  ' : 'MISS'} ${r.name}\n     ours ${r.ours}  reference ${r.reference}  ratio ${r.ratio.toFixed(2)} (goal ${r.goal})  peak RSS ${r.maxRssMiB.toFixed(0)} MiB${rssOk ? '' : ' (goal ≤ 150 MiB: MISS)'}`,
    );
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.message.split('\n')[0]}`);
  }
}
console.log(
  `\n${rows.length - failed >= 0 ? rows.length - failed : 0}/${names.length} benchmarks met their goals`,
);
