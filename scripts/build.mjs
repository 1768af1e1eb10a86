// Bundles the extension, the standalone debug adapter and the CLI with esbuild.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { build } from 'esbuild';

const production = process.argv.includes('--production');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: production ? false : 'linked',
  minify: production,
  logLevel: 'warning',
};

const entries = [
  { entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js', external: ['vscode'] },
  { entryPoints: ['src/adapter/main.ts'], outfile: 'dist/debugAdapter.js' },
  { entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } },
];

await Promise.all(entries.filter((e) => existsSync(e.entryPoints[0])).map((e) => build({ ...common, ...e })));

// iced-x86 (x86_64) and Capstone (aarch64) instantiate their WebAssembly from a file beside their
// code: ship them beside the bundles.
mkdirSync('dist', { recursive: true });
copyFileSync('node_modules/iced-x86/iced_x86_bg.wasm', 'dist/iced_x86_bg.wasm');
copyFileSync('node_modules/@alexaltea/capstone-js/dist/capstone.wasm', 'dist/capstone.wasm');
