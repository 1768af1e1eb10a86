/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * Drives the real VS Code of the e2e route: code-server 4.139.1 (VS Code 1.139.1) on Node 24, with our
 * packaged .vsix installed into a fresh extensions dir, in Debian's chromium through playwright-core.
 * Every run starts from empty user-data and extensions dirs; HOME and XDG dirs point into the run's
 * scratch folder so nothing is written under the real home.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { PROJECT_ROOT } from '../support/corpus';
import type { E2eEnv } from './e2eEnv';

export interface CodeServerOptions {
  env: E2eEnv;
  vsix: string;
  workspace: string;
  /** Scratch folder of this run (user data, extensions, logs, browser profile). */
  work: string;
  /** Screenshots go here. */
  shots: string;
  /** Extra environment for code-server and so for the extension host (e.g. KDUMP_DEBUG_DAP_TRACE). */
  extraEnv?: Record<string, string>;
  /** Settings merged over {@link USER_SETTINGS} in the fresh user-data dir (e.g. kdump.targets.*). */
  userSettings?: Record<string, unknown>;
  /** Print the URL and keep going (npm run demo) instead of opening a browser. */
  noBrowser?: boolean;
  port?: number;
}

export const USER_SETTINGS = {
  'workbench.startupEditor': 'none',
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'chat.disableAIFeatures': true,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'debug.openDebug': 'openOnSessionStart',
  'workbench.colorTheme': 'Default Dark Modern',
};

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function status(url: string): Promise<number> {
  return new Promise((res) => {
    const req = get(url, (r) => {
      r.resume();
      res(r.statusCode ?? 0);
    });
    req.on('error', () => res(0));
    req.setTimeout(2000, () => {
      req.destroy();
      res(0);
    });
  });
}

/** The packaged extension, exactly what a user installs (`npm run package`, which also builds dist/). */
export function packageExtension(): string {
  execFileSync('npm', ['run', '--silent', 'package'], { cwd: PROJECT_ROOT, stdio: 'inherit' });
  return join(PROJECT_ROOT, 'kdump-debug.vsix');
}

export class CodeServer {
  page!: Page;
  context!: BrowserContext;
  server!: ChildProcess;
  url = '';
  readonly consoleErrors: string[] = [];
  private shotCount = 0;

  constructor(readonly o: CodeServerOptions) {}

  /** An empty screenshot folder, code-server up with the .vsix installed, the workbench open in chromium. */
  static async launch(o: CodeServerOptions): Promise<CodeServer> {
    rmSync(o.shots, { recursive: true, force: true });
    mkdirSync(o.shots, { recursive: true });
    const cs = new CodeServer(o);
    try {
      await cs.startServer();
      await cs.openBrowser();
    } catch (e) {
      await cs.stop(); // the suite never gets the instance, so its afterAll cannot
      throw e;
    }
    return cs;
  }

  /** A last screenshot for a person to look at, then the browser and the server down. */
  async finish(): Promise<void> {
    if (this.page) await this.shot('final').catch(() => undefined);
    await this.stop();
  }

  /** Environment for code-server and chromium: a throwaway HOME and XDG dirs inside the run folder. */
  processEnv(): NodeJS.ProcessEnv {
    const xdg = join(this.o.work, 'xdg');
    const dirs = {
      HOME: 'home',
      XDG_CACHE_HOME: 'cache',
      XDG_CONFIG_HOME: 'config',
      XDG_DATA_HOME: 'data',
      XDG_RUNTIME_DIR: 'runtime',
    };
    const env: NodeJS.ProcessEnv = { ...process.env, ...this.o.extraEnv, EXTENSIONS_GALLERY: '{}' };
    for (const [k, d] of Object.entries(dirs)) {
      const p = join(xdg, d);
      mkdirSync(p, { recursive: true, mode: 0o700 });
      env[k] = p;
    }
    return env;
  }

  private args(): string[] {
    const cfg = join(this.o.work, 'code-server.yaml');
    writeFileSync(cfg, 'auth: none\n');
    return [
      this.o.env.CS_ENTRY,
      '--config',
      cfg,
      '--auth',
      'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--extensions-dir',
      join(this.o.work, 'extensions'),
      '--user-data-dir',
      join(this.o.work, 'user-data'),
    ];
  }

  /** Install the .vsix (offline) and start code-server on the workspace; resolves when /healthz answers. */
  async startServer(): Promise<void> {
    const userDir = join(this.o.work, 'user-data', 'User');
    mkdirSync(userDir, { recursive: true });
    mkdirSync(join(this.o.work, 'extensions'), { recursive: true });
    writeFileSync(
      join(userDir, 'settings.json'),
      JSON.stringify({ ...USER_SETTINGS, ...this.o.userSettings }, null, 2),
    );
    const env = this.processEnv();
    const out = execFileSync(this.o.env.CS_NODE, [...this.args(), '--install-extension', this.o.vsix], {
      encoding: 'utf8',
      env,
    });
    if (!/was successfully installed/.test(out)) throw new Error(`--install-extension said: ${out}`);
    const port = this.o.port ?? (await freePort());
    this.url = `http://127.0.0.1:${port}/`;
    const log = openSync(join(this.o.work, 'code-server.log'), 'w');
    this.server = spawn(
      this.o.env.CS_NODE,
      [...this.args(), '--bind-addr', `127.0.0.1:${port}`, this.o.workspace],
      {
        stdio: ['ignore', log, log],
        detached: true,
        env,
      },
    );
    const t0 = Date.now();
    while ((await status(`${this.url}healthz`)) !== 200) {
      if (this.server.exitCode !== null)
        throw new Error(
          `code-server exited with ${this.server.exitCode}; see ${this.o.work}/code-server.log`,
        );
      if (Date.now() - t0 > 60_000) throw new Error('code-server did not answer /healthz within 60 s');
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Open the workbench in chromium and wait until our activity-bar entry is there. */
  async openBrowser(): Promise<void> {
    this.context = await chromium.launchPersistentContext(join(this.o.work, 'chromium-profile'), {
      executablePath: this.o.env.CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1400, height: 900 },
      env: this.processEnv() as Record<string, string>,
    });
    this.page = this.context.pages()[0] ?? (await this.context.newPage());
    this.page.on('console', (m) => {
      if (m.type() === 'error') this.consoleErrors.push(m.text().slice(0, 300));
    });
    await this.page.goto(this.url, { waitUntil: 'domcontentloaded' });
    await this.page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
    await this.activityBarEntry('Kdump').waitFor({ timeout: 90_000 });
  }

  activityBarEntry(title: string): Locator {
    return this.page
      .locator(
        `.part.activitybar .action-item a[aria-label^="${title}"], .part.activitybar .action-label[aria-label^="${title}"]`,
      )
      .first();
  }

  async shot(name: string): Promise<string> {
    const file = join(this.o.shots, `${String(++this.shotCount).padStart(2, '0')}-${name}.png`);
    await this.page.screenshot({ path: file });
    return file;
  }

  /** After a failed test, a screenshot named after it, so a red run shows where the page stood. */
  async shotIfFailed(task: { name: string; result?: { state?: string } }): Promise<void> {
    if (task.result?.state !== 'fail' || !this.page) return;
    await this.shot(`FAILED-${task.name.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 60)}`).catch(() => undefined);
  }

  /** Open the command palette with `text` typed (no Enter). */
  async palette(text: string): Promise<Locator> {
    await this.page.keyboard.press('Escape');
    await this.page.keyboard.press('F1');
    const input = this.page.locator('.quick-input-widget .quick-input-box input');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    await input.fill(`>${text}`);
    return this.page.locator('.quick-input-widget .monaco-list-row');
  }

  /** Run a palette command by its exact label ("Category: Title"); clicks the row, never a fuzzy neighbour. */
  async runCommand(label: string): Promise<void> {
    const rows = await this.palette(label);
    const exact = new RegExp(`^\\s*${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
    const row = rows.filter({ has: this.page.locator('.label-name', { hasText: exact }) }).first();
    await row.waitFor({ state: 'visible', timeout: 10_000 });
    await row.click();
    await this.page
      .locator('.quick-input-widget')
      .waitFor({ state: 'hidden', timeout: 10_000 })
      .catch(() => undefined);
  }

  /** Run the palette command whose label ends with `suffix` (for labels whose category prefix varies). */
  async runCommandEndingWith(suffix: string): Promise<void> {
    const rows = await this.palette(suffix);
    const row = rows
      .filter({ has: this.page.locator('.label-name', { hasText: new RegExp(`${suffix}\\s*$`) }) })
      .first();
    await row.waitFor({ state: 'visible', timeout: 10_000 });
    await row.click();
    await this.page
      .locator('.quick-input-widget')
      .waitFor({ state: 'hidden', timeout: 10_000 })
      .catch(() => undefined);
  }

  /** Quick Open a workspace file by name and wait for its editor tab. */
  async openFile(name: string): Promise<void> {
    await this.page.keyboard.press('Escape');
    await this.page.keyboard.press('Control+P');
    const input = this.page.locator('.quick-input-widget .quick-input-box input');
    await input.waitFor({ state: 'visible' });
    await input.fill(name);
    const row = this.page
      .locator('.quick-input-widget .monaco-list-row', {
        has: this.page.locator('.label-name', { hasText: new RegExp(`^${name.replace(/\./g, '\\.')}$`) }),
      })
      .first();
    await row.waitFor({ timeout: 15_000 });
    await row.click();
    await this.page
      .locator(`.tabs-container .tab[aria-label^="${name}"]`)
      .first()
      .waitFor({ timeout: 15_000 });
  }

  /** Move the cursor of the active editor to line:column (1-based), through "Go to Line/Column...". */
  async goToLine(line: number, column = 1): Promise<void> {
    await this.runCommand('Go to Line/Column...');
    const input = this.page.locator('.quick-input-widget .quick-input-box input');
    await input.waitFor({ state: 'visible' });
    await input.fill(`:${line}:${column}`);
    await this.page.keyboard.press('Enter');
    await this.page
      .locator('.quick-input-widget')
      .waitFor({ state: 'hidden', timeout: 10_000 })
      .catch(() => undefined);
  }

  /** The language shown in the status bar for the active editor (given `expected`, waits up to 10 s for it). */
  async languageMode(expected?: string): Promise<string> {
    const item = this.page.locator('.statusbar-item[id="status.editor.mode"]').first();
    await item.waitFor({ timeout: 10_000 });
    const t0 = Date.now();
    let mode = (await item.innerText()).trim();
    while (expected !== undefined && mode !== expected && Date.now() - t0 < 10_000) {
      await this.page.waitForTimeout(200);
      mode = (await item.innerText()).trim();
    }
    return mode;
  }

  /** The rendered span (token) of the active editor that holds `text`, with its class and colour. */
  async tokenOf(
    lineText: string,
    text: string,
  ): Promise<{ className: string; color: string; plainColor: string } | null> {
    return this.page.evaluate(
      ([lineText, text]) => {
        const lines = [...document.querySelectorAll('.part.editor .editor-instance .view-lines .view-line')];
        const line = lines.find((l) => (l.textContent ?? '').replace(/\u00a0/g, ' ').includes(lineText));
        if (!line) return null;
        const span = [...line.querySelectorAll('span > span')].find((s) =>
          (s.textContent ?? '').replace(/\u00a0/g, ' ').includes(text),
        );
        if (!span) return null;
        const editor = line.closest('.monaco-editor') as HTMLElement;
        return {
          className: span.className,
          color: getComputedStyle(span).color,
          plainColor: getComputedStyle(editor.querySelector('.view-lines') as HTMLElement).color,
        };
      },
      [lineText, text] as const,
    );
  }

  /** {@link tokenOf}, polled until `ready` holds (tokenizing happens after the text is shown). */
  async waitForToken(
    lineText: string,
    text: string,
    ready: (t: { className: string; color: string; plainColor: string }) => boolean,
    timeoutMs = 10_000,
  ): Promise<{ className: string; color: string; plainColor: string }> {
    const t0 = Date.now();
    for (;;) {
      const t = await this.tokenOf(lineText, text);
      if (t && ready(t)) return t;
      if (Date.now() - t0 > timeoutMs)
        throw new Error(`token "${text}" of "${lineText}": ${JSON.stringify(t)}`);
      await this.page.waitForTimeout(200);
    }
  }

  /** Text of the visible notification toasts. */
  async toasts(): Promise<string[]> {
    return this.page.locator('.notifications-toasts .notification-list-item-message').allInnerTexts();
  }

  async stop(): Promise<void> {
    await this.context?.close().catch(() => undefined);
    if (this.server?.pid && this.server.exitCode === null) {
      try {
        process.kill(-this.server.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  }
}
