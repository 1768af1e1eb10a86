#!/usr/bin/env node
// npm run demo [-- DUMP] [--desktop] [--port N] [--host ADDR]
//
// Packages the extension, installs the real VS Code of the e2e route (code-server 4.139.1 + Node 24 +
// chromium, scripts/setup-e2e.sh, cached in ~/.cache/kdump-debug/e2e), installs the .vsix into it and
// serves a workspace whose launch.json opens DUMP (default: the first dump in ../shared/vmcores,
// decompressed once into ~/.cache/kdump-debug/vmcores). Open the printed URL and press F5.
// --desktop, or when the e2e route cannot be installed here: print how to use desktop VS Code instead.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const positional = args.filter((a, i) => !a.startsWith('--') && !['--port', '--host'].includes(args[i - 1]));
const cache = process.env.KDUMP_DEBUG_CACHE ?? join(homedir(), '.cache', 'kdump-debug', 'vmcores');
const shared = process.env.KDUMP_SHARED ?? resolve(root, '..', 'shared');
const demoDir = join(homedir(), '.cache', 'kdump-debug', 'demo');
const log = (s) => console.log(`demo: ${s}`);

/** The first dump of ../shared/vmcores: a .zst with a .ref/ folder beside it. */
function firstSharedDump() {
  const vmcores = join(shared, 'vmcores');
  if (!existsSync(vmcores)) return undefined;
  const found = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.zst') && existsSync(p.replace(/\.zst$/, '.ref'))) found.push(p);
    }
  };
  walk(vmcores);
  const zst = found[0];
  return zst && { zst, out: join(cache, relative(vmcores, zst).replace(/\.zst$/, '')) };
}

function dumpPath() {
  const given = positional[0];
  if (given) {
    const p = resolve(given);
    if (!existsSync(p)) throw new Error(`${p} does not exist`);
    if (!p.endsWith('.zst')) return p; // the extension decides by content whether it is a dump
    const out = join(cache, 'given', basename(p, '.zst'));
    return decompress(p, out);
  }
  const first = firstSharedDump();
  if (!first) throw new Error(`no dump given and none found in ${join(shared, 'vmcores')}`);
  return decompress(first.zst, first.out);
}

function decompress(zst, out) {
  if (existsSync(out)) return out;
  log(`decompressing ${zst} → ${out}`);
  mkdirSync(dirname(out), { recursive: true });
  execFileSync('zstd', ['-q', '-d', '--long=31', zst, '-o', `${out}.part`], { stdio: 'inherit' });
  execFileSync('mv', [`${out}.part`, out]);
  return out;
}

function writeWorkspace(dump) {
  const ws = join(demoDir, 'workspace');
  mkdirSync(join(ws, '.vscode'), { recursive: true });
  const config = { type: 'vmcore', request: 'launch', name: `Crash dump: ${basename(dump)}`, vmcore: dump };
  writeFileSync(
    join(ws, '.vscode', 'launch.json'),
    `${JSON.stringify({ version: '0.2.0', configurations: [config] }, null, 2)}\n`,
  );
  writeFileSync(
    join(ws, 'README.md'),
    `# Kdump Debug demo\n\nPress **F5** (or Run → Start Debugging) to open the crash dump\n\n    ${dump}\n\n` +
      'as a debug session: one thread per CPU in Call Stack, the panicking one paused on the panic; its registers under ' +
      'Variables → Registers; crash-style commands such as `bt` in the Debug Console.\n\n' +
      'Then **Kdump: Show Kernel Log** (command palette, or the debug toolbar) opens the kernel log at the panic line; ' +
      'hover a register name there. The Kdump side bar lists the dumps opened lately.\n\n' +
      'Any file can be opened from the Explorer with right-click → **Open as Crash Dump**: dumps are recognised by content.\n',
  );
  return ws;
}

function desktopInstructions(vsix, ws, why) {
  if (why) log(why);
  console.log(`
To use desktop VS Code (1.90 or newer) instead:

  code --install-extension ${vsix}
  code ${ws}

then press F5 in that window (its launch.json opens the dump), or run "Kdump: Open Crash Dump…".
`);
}

log('packaging the extension');
execFileSync('npm', ['run', '--silent', 'package'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
const vsix = join(root, 'kdump-debug.vsix');
const dump = dumpPath();
const ws = writeWorkspace(dump);
log(`workspace ${ws} opens ${dump}`);
if (flag('--desktop')) {
  desktopInstructions(vsix, ws);
  process.exit(0);
}

let env;
try {
  const out = execFileSync('bash', [join(root, 'scripts/setup-e2e.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  env = Object.fromEntries(
    out
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => l.split(/=(.*)/s).slice(0, 2)),
  );
} catch (err) {
  desktopInstructions(
    vsix,
    ws,
    `the browser VS Code could not be installed here (${err.message.split('\n')[0]})`,
  );
  process.exit(1);
}

const work = join(demoDir, 'code-server');
const userDir = join(work, 'user-data', 'User');
mkdirSync(userDir, { recursive: true });
writeFileSync(
  join(userDir, 'settings.json'),
  JSON.stringify(
    {
      'workbench.startupEditor': 'readme',
      'telemetry.telemetryLevel': 'off',
      'update.mode': 'none',
      'extensions.autoCheckUpdates': false,
      'chat.disableAIFeatures': true,
      'debug.openDebug': 'openOnSessionStart',
      'workbench.secondarySideBar.defaultVisibility': 'hidden',
    },
    null,
    2,
  ),
);
const config = join(work, 'code-server.yaml');
writeFileSync(config, 'auth: none\n');
const port = option('--port', '8080');
const host = option('--host', '127.0.0.1');
const common = [
  env.CS_ENTRY,
  '--config',
  config,
  '--auth',
  'none',
  '--disable-telemetry',
  '--disable-update-check',
  '--disable-getting-started-override',
  // the workspace is the one this script just wrote: no trust prompt (Restricted Mode blocks debugging)
  '--disable-workspace-trust',
  '--extensions-dir',
  join(work, 'extensions'),
  '--user-data-dir',
  join(work, 'user-data'),
];
const csEnv = { ...process.env, EXTENSIONS_GALLERY: '{}' };
log('installing the .vsix into code-server');
execFileSync(env.CS_NODE, [...common, '--force', '--install-extension', vsix], {
  stdio: 'inherit',
  env: csEnv,
});
const server = spawn(env.CS_NODE, [...common, '--bind-addr', `${host}:${port}`, ws], {
  stdio: 'inherit',
  env: csEnv,
});
const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}/?folder=${encodeURIComponent(ws)}`;
setTimeout(() => {
  console.log(
    `\n  VS Code (code-server ${env.CS_ENTRY.includes('4.139.1') ? '4.139.1' : ''}) with Kdump Debug: ${url}\n  Open it in a browser and press F5. Ctrl-C stops the server.\n`,
  );
  if ((process.env.DISPLAY || process.env.WAYLAND_DISPLAY) && !flag('--no-open')) {
    spawn('xdg-open', [url], { stdio: 'ignore', detached: true })
      .on('error', () => undefined)
      .unref();
  }
}, 2000);
const stop = () => server.kill('SIGTERM');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
server.on('exit', (code) => process.exit(code ?? 0));
