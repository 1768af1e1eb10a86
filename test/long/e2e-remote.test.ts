/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The "Kdump Targets" tree and its commands in a real VS Code (code-server 4.139.1 in Debian's chromium,
 * the packaged .vsix), against a real OpenSSH server on this machine (test/support/sshd.ts, host keys
 * checked through its known_hosts). Two targets, both this machine:
 *   - testhost: this machine as it is;
 *   - sandboxed: the same machine through a second port of the same sshd whose sessions see a copy of
 *     /etc/default holding a GRUB defaults file (test/support/etcDefaultSandbox.ts), so that a
 *     reservation plan exists to be shown; a change could only land in the copy.
 * Every value asserted in the tree is what `node dist/cli.js target status HOST --json` (the CLI on the
 * same core) reports in the same run; refusals and plans are compared with the CLI's. Nothing that
 * changes this machine is ever confirmed: the test crash is refused (no capture kernel), the
 * reservation plan is cancelled with Escape, and the machine's state is compared before and after.
 * Screenshots of every step go to test-results/e2e-remote/.
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { formatBytes } from '../../src/remote/cli/args';
import { PROJECT_ROOT } from '../support/corpus';
import { etcDefaultSandbox, snapshotTree } from '../support/etcDefaultSandbox';
import { startSshd, type TestSshd } from '../support/sshd';
import { CodeServer, packageExtension } from './codeServer';
import { e2eEnv } from './e2eEnv';

const SHOTS = join(PROJECT_ROOT, 'test-results', 'e2e-remote');
const CLI = join(PROJECT_ROOT, 'dist', 'cli.js');
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The `crashkernel=` the sandbox's GRUB file asks for, and what the test edits it to before Refresh. */
const GRUB_CK = 'crashkernel=192M';
const GRUB_CK_EDITED = 'crashkernel=160M';
const grubFile = (ck: string) =>
  [
    '# If you change this file, run update-grub afterwards to update /boot/grub/grub.cfg.',
    'GRUB_DEFAULT=0',
    'GRUB_TIMEOUT=5',
    'GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`',
    `GRUB_CMDLINE_LINUX_DEFAULT="quiet ${ck}"`,
    'GRUB_CMDLINE_LINUX=""',
    '',
  ].join('\n');

/** `vmcore target status --json` as the CLI prints it (one object per host). */
type Status = {
  host: string;
  reachable: boolean;
  kernelRelease: string | null;
  arch: string | null;
  bootId: string | null;
  flavour: string;
  service: { unit: string; enabled: string | null; active: string | null } | null;
  crashkernelCmdline: string | null;
  crashkernelBootloader: string | null;
  rebootPending: boolean;
  reservedBytes: number | null;
  reservedRanges: { start: string; end: string }[] | null;
  captureLoaded: boolean | null;
  lockdown: string | null;
  secureBoot: boolean | null;
  sysctl: { panic: number | null; panic_on_oops: number | null; sysrq: number | null };
  dumpDir: string | null;
  dumps: unknown[];
  dumpsError?: string;
  problems: string[];
};

/**
 * The rows the tree must show for a host, written from the CLI's JSON (the labels and wording of
 * the view, the values of the CLI).
 */
function expectedRows(s: Status): [string, string][] {
  const q = (v: number | null) => (v === null ? '?' : String(v));
  const rows: [string, string][] = [['Kernel', `${s.kernelRelease ?? '?'} ${s.arch ?? ''}`.trim()]];
  rows.push(['Kdump tooling', s.flavour === 'none' ? 'none (kexec only)' : s.flavour]);
  if (s.service)
    rows.push(['Service', `${s.service.unit} ${s.service.enabled ?? '?'} / ${s.service.active ?? '?'}`]);
  rows.push(['crashkernel= (running)', s.crashkernelCmdline || 'none']);
  rows.push([
    'crashkernel= (next boot)',
    s.crashkernelBootloader === null ? 'unknown' : s.crashkernelBootloader || 'none',
  ]);
  rows.push([
    'Reserved',
    s.reservedBytes === null
      ? 'unsupported'
      : `${formatBytes(s.reservedBytes)}${s.reservedRanges?.length ? ` at ${s.reservedRanges.map((r) => r.start).join(', ')}` : ''}`,
  ]);
  rows.push([
    'Capture kernel',
    s.captureLoaded === null ? 'unknown' : s.captureLoaded ? 'loaded' : 'not loaded',
  ]);
  rows.push([
    'Lockdown / Secure Boot',
    `${s.lockdown ?? 'unknown'} / ${s.secureBoot === null ? 'unknown' : s.secureBoot ? 'on' : 'off'}`,
  ]);
  rows.push([
    'Panic settings',
    `panic=${q(s.sysctl.panic)} panic_on_oops=${q(s.sysctl.panic_on_oops)} sysrq=${q(s.sysctl.sysrq)}`,
  ]);
  rows.push([
    'Dumps',
    s.dumpDir === null ? 'remote target (not listed)' : (s.dumpsError ?? `${s.dumps.length} in ${s.dumpDir}`),
  ]);
  for (const p of s.problems) rows.push([p, '']);
  return rows;
}

function hostDescription(s: Status): string {
  const badge =
    s.reservedBytes === null
      ? 'no kexec crash support'
      : s.reservedBytes === 0
        ? 'no memory reserved'
        : s.captureLoaded
          ? 'armed'
          : 'reserved, not armed';
  return `${badge}${s.rebootPending ? ', reboot pending' : ''}`;
}

describe('Kdump Targets in code-server + chromium, against a real sshd', () => {
  const work = mkdtempSync(join(tmpdir(), 'kdump-e2e-remote-'));
  const ws = join(work, 'workspace');
  /** TMPDIR of code-server: short, since ssh control sockets go below it (Unix socket paths < 108 bytes). */
  const extTmp = mkdtempSync(join(tmpdir(), 'kdd-e2e-'));
  let sshd: TestSshd;
  let sandboxDir: string;
  let cs: CodeServer;

  const cli = (args: string[]): { code: number; stdout: string; stderr: string } => {
    try {
      const stdout = execFileSync(process.execPath, [CLI, 'target', ...args, '--ssh-config', sshd.config], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      return { code: 0, stdout, stderr: '' };
    } catch (e) {
      const x = e as { status: number; stdout: string; stderr: string };
      return { code: x.status, stdout: x.stdout, stderr: x.stderr };
    }
  };
  const status = (host: string): Status => {
    const r = cli(['status', host, '--json']);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as Status[])[0]!;
  };
  /** "HOST: refused:\n  - reason\n  - reason" → the reasons. */
  const refusals = (stderr: string) =>
    stderr
      .split('\n')
      .filter((l) => l.startsWith('  - '))
      .map((l) => l.slice(4));
  /** The CLI's refusal as the extension shows it: "HOST: refused" over the reasons, one a line. */
  const expectRefusalDialog = (d: { message: string; detail: string }, stderr: string) => {
    expect(stderr.split('\n')[0]).toMatch(/^\S+: refused:$/);
    expect(d.message).toBe(stderr.split('\n')[0]!.replace(/:$/, ''));
    expect(d.detail.split('\n')).toEqual(refusals(stderr));
  };
  /** What a session that changed this machine would have touched, read locally. */
  const machine = () => ({
    bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
    cmdline: readFileSync('/proc/cmdline', 'utf8'),
    etcDefault: snapshotTree('/etc/default'),
  });
  /**
   * Sessions the sshd started so far (each remote command is one, multiplexed or not; "forced-command"
   * on the sandboxed port). Its log arrives through a pipe: give it a moment first.
   */
  const sessionsStarted = async (which = /Starting session: /g) => {
    await new Promise((r) => setTimeout(r, 300));
    return (sshd.log().match(which) ?? []).length;
  };
  const TESTHOST_SESSIONS = /Starting session: command /g;
  const SANDBOXED_SESSIONS = /Starting session: forced-command /g;

  let before: { testhost: Status; sandboxed: Status; machine: ReturnType<typeof machine> };
  let sandboxBefore: Record<string, string>;

  beforeAll(async () => {
    const env = e2eEnv();
    // (packaging also builds the dist/cli.js the reference values come from)
    const vsix = packageExtension();
    mkdirSync(ws);
    const sandbox = etcDefaultSandbox(work, grubFile(GRUB_CK));
    sandboxDir = sandbox.dir;
    sshd = await startSshd({
      extraPorts: 1,
      sshdConfig: ([p]) => [`Match LocalPort ${p}`, `  ${sandbox.forceCommand}`],
    });
    // "sandboxed": the second port; its own known_hosts entry, host key checked like testhost's
    sshd.addHost(
      [
        'Host sandboxed',
        '  HostName 127.0.0.1',
        `  Port ${sshd.extraPorts[0]}`,
        '  User root',
        `  IdentityFile ${sshd.userKey}`,
        '  IdentitiesOnly yes',
        `  UserKnownHostsFile ${sshd.knownHosts}`,
        '  GlobalKnownHostsFile /dev/null',
        '  StrictHostKeyChecking yes',
      ].join('\n'),
    );
    before = { testhost: status('testhost'), sandboxed: status('sandboxed'), machine: machine() };
    sandboxBefore = snapshotTree(sandboxDir);
    // the CLI reads this machine: anchor its answer to local reads before trusting it as the reference
    expect(before.testhost.kernelRelease).toBe(execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim());
    expect(before.testhost.bootId).toBe(before.machine.bootId);
    expect(before.sandboxed.crashkernelBootloader).toBe(GRUB_CK);
    expect(before.testhost.crashkernelBootloader).not.toBe(GRUB_CK);
    cs = await CodeServer.launch({
      env,
      vsix,
      workspace: ws,
      work,
      shots: SHOTS,
      // the extension's ssh control sockets (privateDir() under TMPDIR) land here, to be closed in afterAll
      extraEnv: { TMPDIR: extTmp },
      userSettings: {
        'kdump.targets.hosts': ['testhost', 'sandboxed'],
        'kdump.targets.sshConfigFile': sshd.config,
      },
    });
  });

  afterEach(async (ctx) => {
    await cs?.shotIfFailed(ctx.task);
  });

  afterAll(async () => {
    await cs?.finish();
    // the extension's ControlMasters outlive its host by ControlPersist: close them before the sshd
    for (const d of existsSync(extTmp) ? readdirSync(extTmp).filter((n) => n.startsWith('kdd-')) : [])
      for (const sock of readdirSync(join(extTmp, d)).filter((n) => /^[0-9a-f]{40}$/.test(n)))
        try {
          execFileSync('ssh', ['-o', `ControlPath=${join(extTmp, d, sock)}`, '-O', 'exit', 'closing'], {
            stdio: 'ignore',
          });
        } catch {
          // already gone
        }
    await sshd?.stop();
    rmSync(work, { recursive: true, force: true });
    rmSync(extTmp, { recursive: true, force: true });
  });

  // ---- the tree

  const pane = () =>
    cs.page.locator('.pane', { has: cs.page.locator('.pane-header[aria-label^="Kdump Targets"]') }).first();
  const rowsOf = () => pane().locator('.monaco-list-row');
  const hostRow = (host: string): Locator =>
    rowsOf()
      .filter({ has: cs.page.locator('.label-name', { hasText: new RegExp(`^${esc(host)}$`) }) })
      .first();
  /** The rendered rows of the view: level (1 = host), label, description. */
  const readRows = () =>
    rowsOf().evaluateAll((els) =>
      els.map((e) => ({
        level: Number(e.getAttribute('aria-level')),
        expanded: e.getAttribute('aria-expanded'),
        label: (e.querySelector('.label-name')?.textContent ?? '').trim(),
        description: (e.querySelector('.label-description')?.textContent ?? '').trim(),
      })),
    );
  /** The child rows shown under `host` (the host expanded). */
  const childRows = async (host: string): Promise<[string, string][]> => {
    const rows = await readRows();
    const i = rows.findIndex((r) => r.level === 1 && r.label === host);
    const out: [string, string][] = [];
    for (const r of rows.slice(i + 1)) {
      if (r.level === 1) break;
      if (r.level === 2) out.push([r.label, r.description]);
    }
    return out;
  };
  const waitForDescription = async (host: string, description: string, timeout = 60_000) => {
    await hostRow(host)
      .locator('.label-description', { hasText: new RegExp(`^${esc(description)}$`) })
      .waitFor({ timeout });
  };
  const setExpanded = async (host: string, expanded: boolean) => {
    const row = hostRow(host);
    if ((await row.getAttribute('aria-expanded')) !== String(expanded)) await row.click();
    await cs.page.waitForFunction(
      ([h, want]) =>
        [...document.querySelectorAll('.pane .monaco-list-row[aria-level="1"]')].some(
          (r) =>
            r.querySelector('.label-name')?.textContent?.trim() === h &&
            r.getAttribute('aria-expanded') === want,
        ),
      [host, String(expanded)] as const,
      { timeout: 10_000 },
    );
  };
  const waitForChildRows = async (host: string, want: [string, string][]) => {
    const t0 = Date.now();
    let got = await childRows(host);
    while (JSON.stringify(got) !== JSON.stringify(want) && Date.now() - t0 < 15_000) {
      await cs.page.waitForTimeout(200);
      got = await childRows(host);
    }
    expect(got).toEqual(want);
  };

  // ---- dialogs

  const dialog = () => cs.page.locator('.monaco-dialog-box').first();
  /** A modal dialog: without a detail VS Code shows the message in the detail element, alone. */
  const readDialog = async () => {
    await dialog().waitFor({ timeout: 60_000 });
    await cs.page.waitForTimeout(300); // the dialog fades in
    const text = await dialog().locator('.dialog-message-text').allInnerTexts();
    const detail = (await dialog().locator('.dialog-message-detail').innerText()).trim();
    return {
      message: text.length ? text.join('\n').trim() : detail,
      detail: text.length ? detail : '',
      buttons: (await dialog().locator('.dialog-buttons .monaco-button').allInnerTexts()).map((b) =>
        b.trim(),
      ),
    };
  };
  const closeDialogWithEscape = async () => {
    await cs.page.keyboard.press('Escape');
    await dialog().waitFor({ state: 'detached', timeout: 10_000 });
  };
  const quickPickRow = (label: string) =>
    cs.page
      .locator('.quick-input-widget .monaco-list-row', {
        has: cs.page.locator('.label-name', { hasText: new RegExp(`^${esc(label)}$`) }),
      })
      .first();
  /** The host's context menu (asked once the host is not busy: a busy host offers only Remove). */
  const contextMenu = async (host: string, description: string): Promise<string[]> => {
    await waitForDescription(host, description);
    await hostRow(host).click({ button: 'right' });
    const items = cs.page.locator('.context-view .monaco-menu .action-item .action-label');
    await items.first().waitFor({ timeout: 10_000 });
    await cs.page.waitForTimeout(300); // the menu ignores a click right after it opens
    return (await items.allInnerTexts()).map((t) => t.trim()).filter(Boolean);
  };
  const clickMenuItem = async (label: string) => {
    await cs.page
      .locator('.context-view .monaco-menu .action-item', {
        has: cs.page.locator('.action-label', { hasText: new RegExp(`^${esc(label)}$`) }),
      })
      .first()
      .click();
  };
  /** Through the context menu: Configure Crash Kernel Reservation…, then "Choose a size", then `value`. */
  const configureReservation = async (host: string, state: Status, value: string, expectTitle: string) => {
    expect(await contextMenu(host, hostDescription(state))).toContain('Configure Crash Kernel Reservation…');
    await clickMenuItem('Configure Crash Kernel Reservation…');
    const choose = quickPickRow('Choose a size or ranges…');
    await choose.waitFor({ timeout: 60_000 });
    expect((await cs.page.locator('.quick-input-widget .quick-input-title').innerText()).trim()).toBe(
      expectTitle,
    );
    expect(await quickPickRow('Distro default').count()).toBe(1);
    await cs.shot(`${host}-reservation-choice`);
    await choose.click();
    const input = cs.page.locator('.quick-input-widget .quick-input-box input');
    await cs.page
      .locator('.quick-input-widget .quick-input-title', { hasText: `${host}: crashkernel=` })
      .waitFor({ timeout: 10_000 });
    await input.fill(value);
    await cs.shot(`${host}-reservation-size`);
    await cs.page.keyboard.press('Enter');
  };

  it('the Kdump Targets view lists the hosts of kdump.targets.hosts, read over SSH', async () => {
    await cs.activityBarEntry('Kdump').click();
    const header = cs.page.locator('.pane-header[aria-label^="Kdump Targets"]').first();
    await header.waitFor({ timeout: 30_000 });
    // room for the rows: fold the Crash Dumps view, unfold Kdump Targets
    const dumpsHeader = cs.page.locator('.pane-header[aria-label^="Crash Dumps"]').first();
    if ((await dumpsHeader.getAttribute('aria-expanded')) === 'true') await dumpsHeader.click();
    if ((await header.getAttribute('aria-expanded')) !== 'true') await header.click();
    // a wider side bar, for screenshots where the descriptions can be read (drag its sash)
    const bar = await cs.page.locator('.part.sidebar').boundingBox();
    if (bar) {
      const y = bar.y + bar.height * 0.75;
      await cs.page.mouse.move(bar.x + bar.width + 1, y);
      await cs.page.mouse.down();
      await cs.page.mouse.move(bar.x + bar.width + 380, y, { steps: 8 });
      await cs.page.mouse.up();
    }
    await waitForDescription('testhost', hostDescription(before.testhost));
    await waitForDescription('sandboxed', hostDescription(before.sandboxed));
    const hosts = (await readRows()).filter((r) => r.level === 1);
    expect(hosts.map((h) => [h.label, h.description])).toEqual([
      ['testhost', hostDescription(before.testhost)],
      ['sandboxed', hostDescription(before.sandboxed)],
    ]);
    await cs.shot('targets-hosts');
  });

  it('expanding testhost: every row equals `vmcore target status testhost --json` of this run', async () => {
    await setExpanded('testhost', true);
    await waitForChildRows('testhost', expectedRows(before.testhost));
    await cs.shot('testhost-expanded');
    // and the rows hold this machine's own values
    const rows = Object.fromEntries(await childRows('testhost'));
    expect(rows.Kernel).toBe(
      `${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()} ${process.arch === 'x64' ? 'x86_64' : process.arch}`,
    );
    const sysctl = (n: string) => {
      try {
        return readFileSync(`/proc/sys/kernel/${n}`, 'utf8').trim();
      } catch {
        return '?';
      }
    };
    expect(rows['Panic settings']).toBe(
      `panic=${sysctl('panic')} panic_on_oops=${sysctl('panic_on_oops')} sysrq=${sysctl('sysrq')}`,
    );
    await setExpanded('testhost', false);
  });

  it('expanding sandboxed: its rows equal the CLI too, the GRUB file of the sandbox as the next boot', async () => {
    await setExpanded('sandboxed', true);
    const want = expectedRows(before.sandboxed);
    expect(want).toContainEqual(['crashkernel= (next boot)', GRUB_CK]);
    await waitForChildRows('sandboxed', want);
    await cs.shot('sandboxed-expanded');
  });

  it('Refresh on a host reads it again over SSH: an edit of the sandbox GRUB file shows up', async () => {
    writeFileSync(join(sandboxDir, 'grub'), grubFile(GRUB_CK_EDITED));
    const edited = status('sandboxed');
    expect(edited.crashkernelBootloader).toBe(GRUB_CK_EDITED);
    // the tree still shows the old value until Refresh
    expect(await childRows('sandboxed')).toContainEqual(['crashkernel= (next boot)', GRUB_CK]);
    const sessions = await sessionsStarted();
    await hostRow('sandboxed').hover();
    const refresh = hostRow('sandboxed').locator('.actions .action-label[aria-label="Refresh"]');
    await refresh.waitFor({ timeout: 10_000 });
    await refresh.click();
    await waitForChildRows('sandboxed', expectedRows(edited));
    expect(await sessionsStarted()).toBeGreaterThan(sessions);
    await cs.shot('sandboxed-refreshed');
    // back as it was (the reference of the later steps)
    writeFileSync(join(sandboxDir, 'grub'), grubFile(GRUB_CK));
    await refresh.click();
    await waitForChildRows('sandboxed', expectedRows(before.sandboxed));
    expect(snapshotTree(sandboxDir)).toEqual(sandboxBefore);
    await setExpanded('sandboxed', false);
    // and "Refresh All Targets" in the view's title bar reads both hosts again, unchanged
    const again = [await sessionsStarted(TESTHOST_SESSIONS), await sessionsStarted(SANDBOXED_SESSIONS)];
    await pane().locator('.pane-header').hover();
    await pane().locator('.pane-header .action-label[aria-label="Refresh All Targets"]').click();
    const t0 = Date.now();
    while (
      ((await sessionsStarted(TESTHOST_SESSIONS)) <= again[0]! ||
        (await sessionsStarted(SANDBOXED_SESSIONS)) <= again[1]!) &&
      Date.now() - t0 < 30_000
    );
    expect(await sessionsStarted(TESTHOST_SESSIONS)).toBeGreaterThan(again[0]!);
    expect(await sessionsStarted(SANDBOXED_SESSIONS)).toBeGreaterThan(again[1]!);
    // both read (not "reading…" any more), with the same values
    await waitForDescription('testhost', hostDescription(before.testhost));
    await waitForDescription('sandboxed', hostDescription(before.sandboxed));
  });

  it('testhost context menu: no Test Crash (nothing loaded), the reservation command is there', async () => {
    const items = await contextMenu('testhost', hostDescription(before.testhost));
    expect(items).toEqual(
      expect.arrayContaining(['Configure Crash Kernel Reservation…', 'Reboot…', 'Remove Target']),
    );
    // Load only where the running kernel can load a capture kernel (crash_size exists).
    if (before.testhost.reservedBytes === null) expect(items).not.toContain('Load Capture Kernel');
    else expect(items).toContain('Load Capture Kernel');
    expect(items).not.toContain('Test Crash…');
    expect(items).not.toContain('Unload Capture Kernel');
    await cs.shot('testhost-context-menu');
    await cs.page.keyboard.press('Escape');
  });

  it('Test Crash from the palette on testhost is refused, saying why (as the CLI does); nothing changes', async () => {
    const cliRefusal = cli(['crash', 'testhost', '--confirm', 'testhost']);
    expect(cliRefusal.code).toBe(1);
    const reasons = refusals(cliRefusal.stderr);
    expect(reasons).toContain(
      'no capture kernel is loaded: a crash now would produce no dump; load it first',
    );
    await cs.runCommand('Kdump: Test Crash…');
    const pick = quickPickRow('testhost');
    await pick.waitFor({ timeout: 10_000 });
    expect((await cs.page.locator('.quick-input-widget .quick-input-title').innerText()).trim()).toBe(
      'Crash which target?',
    );
    await pick.click();
    const d = await readDialog();
    expect(d.message).toBe('testhost: refused');
    expectRefusalDialog(d, cliRefusal.stderr);
    // refused before any confirmation: there is no button that goes on
    expect(d.buttons).not.toContain('Crash System');
    await cs.shot('test-crash-refused');
    await closeDialogWithEscape();
    // no "type the host name" box followed
    await cs.page.waitForTimeout(1000);
    expect(
      await cs.page.locator('.quick-input-widget .quick-input-title', { hasText: 'TEST CRASH' }).count(),
    ).toBe(0);
    expect(status('testhost')).toEqual(before.testhost);
    expect(machine()).toEqual(before.machine);
  });

  it('Configure Crash Kernel Reservation on testhost: refused here (no boot loader config), as the CLI says', async () => {
    const cliPlan = cli(['reserve', 'testhost', '256M', '--dry-run']);
    expect(cliPlan.code).toBe(1);
    await configureReservation(
      'testhost',
      before.testhost,
      '256M',
      `testhost: now ${before.testhost.crashkernelCmdline || 'no crashkernel='}`,
    );
    const d = await readDialog();
    expectRefusalDialog(d, cliPlan.stderr);
    expect(d.buttons).not.toContain('Change Boot Configuration');
    await cs.shot('testhost-reservation-refused');
    await closeDialogWithEscape();
    expect(status('testhost')).toEqual(before.testhost);
    expect(machine()).toEqual(before.machine);
  });

  it('Configure Crash Kernel Reservation on sandboxed: the plan shows the exact commands; Escape cancels, nothing changes', async () => {
    const cliPlan = cli(['reserve', 'sandboxed', '256M', '--dry-run']);
    expect(cliPlan.code, cliPlan.stderr).toBe(0);
    await configureReservation(
      'sandboxed',
      before.sandboxed,
      '256M',
      `sandboxed: now ${before.sandboxed.crashkernelCmdline || 'no crashkernel='} (next boot: ${GRUB_CK})`,
    );
    const d = await readDialog();
    // the plan names a backup time stamp of its own (YYYYMMDDTHHMMSS): equal apart from it
    const unstamp = (t: string) =>
      t
        .replace(/\d{8}T\d{6}/g, 'STAMP')
        .split('\n')
        .map((l) => l.replace(/\u00a0/g, ' ').trimEnd());
    const planText = cliPlan.stdout.trimEnd();
    expect(d.message).toBe(planText.split('\n')[0]);
    expect(unstamp(d.detail)).toEqual(unstamp(planText));
    expect(d.detail).toContain('/etc/default/grub.d/kdump-debug.cfg');
    expect(d.detail).toContain('crashkernel=256M');
    expect(d.buttons).toContain('Change Boot Configuration');
    await cs.shot('sandboxed-reservation-plan');
    const sessions = await sessionsStarted();
    await closeDialogWithEscape();
    await cs.page.waitForTimeout(1500);
    // cancelled: no progress notification, no command sent, nothing changed in the sandbox or the machine
    expect(await cs.toasts()).toEqual([]);
    expect(await sessionsStarted()).toBe(sessions);
    expect(snapshotTree(sandboxDir)).toEqual(sandboxBefore);
    expect(status('sandboxed')).toEqual(before.sandboxed);
    expect(status('testhost')).toEqual(before.testhost);
    expect(machine()).toEqual(before.machine);
    await cs.shot('sandboxed-reservation-cancelled');
  });
});
