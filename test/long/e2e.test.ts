import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { corpus, PROJECT_ROOT, VMCORES } from '../support/corpus';
import { CodeServer, packageExtension } from './codeServer';
import { e2eEnv } from './e2eEnv';

const DUMP = 'kdump-sysrq/vmcore.elf-d31';
const SHOTS = join(PROJECT_ROOT, 'test-results', 'e2e');
const rgb = (c: string) => c.match(/\d+/g)!.map(Number);
/** Red enough to be the grammar's invalid.illegal colour in the dark theme. */
const isRed = (c: string) => {
  const [r, g, b] = rgb(c);
  return r! > g! + 60 && r! > b! + 60;
};

describe('the extension in code-server + chromium', () => {
  const dump = corpus().find((d) => d.name === DUMP)!;
  const truth = dump.truth;
  const panicCpu: number = truth.crash_summary.panic_cpu;
  const panicMessage: string = truth.crash_summary.panic_message;
  const panicRip: string = truth.summary_per_cpu.find((c: { cpu: number }) => c.cpu === panicCpu).rip;
  const work = mkdtempSync(join(tmpdir(), 'kdump-e2e-'));
  const ws = join(work, 'workspace');
  const trace = join(work, 'dap-trace.jsonl');
  const dumpInWs = join(ws, 'dumps', 'vmcore.elf-d31');
  let cs: CodeServer;

  /** DAP messages the extension host saw (KDUMP_DEBUG_DAP_TRACE). */
  const dap = (): {
    dir: string;
    m: {
      type: string;
      command?: string;
      event?: string;
      arguments?: Record<string, unknown>;
      success?: boolean;
      message?: string;
    };
  }[] =>
    existsSync(trace)
      ? readFileSync(trace, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l))
      : [];

  beforeAll(async () => {
    const env = e2eEnv();
    const vsix = packageExtension();
    // the workspace: a real dump (linked from the decompressed cache), its launch.json, a real kernel
    // log, a kdump.conf, and a text file named "vmcore" to be refused by content
    mkdirSync(join(ws, '.vscode'), { recursive: true });
    mkdirSync(join(ws, 'dumps'));
    symlinkSync(dump.path, dumpInWs);
    writeFileSync(
      join(ws, '.vscode', 'launch.json'),
      JSON.stringify(
        {
          version: '0.2.0',
          configurations: [
            {
              type: 'vmcore',
              request: 'launch',
              name: 'Crash dump (kdump-sysrq)',
              // biome-ignore lint/suspicious/noTemplateCurlyInString: launch.json variable
              vmcore: '${workspaceFolder}/dumps/vmcore.elf-d31',
            },
          ],
        },
        null,
        2,
      ),
    );
    copyFileSync(join(VMCORES, 'kdump-sysrq/logs/dmesg.txt'), join(ws, 'vmcore-dmesg.txt'));
    copyFileSync(join(PROJECT_ROOT, 'test/fixtures/kdump-conf/kdump.conf'), join(ws, 'kdump.conf'));
    writeFileSync(join(ws, 'vmcore'), 'Not a dump: these are notes about the crash of 2026-11-16.\n');
    cs = await CodeServer.launch({
      env,
      vsix,
      workspace: ws,
      work,
      shots: SHOTS,
      extraEnv: { KDUMP_DEBUG_DAP_TRACE: trace },
    });
  });

  afterEach(async (ctx) => {
    await cs?.shotIfFailed(ctx.task);
  });

  afterAll(async () => {
    await cs?.finish();
  });

  it('the workbench shows the Kdump container with its views and welcome text', async () => {
    await cs.activityBarEntry('Kdump').click();
    const welcome = cs.page.locator('.pane-body .welcome-view-content', {
      hasText: 'Open a Linux kernel crash dump',
    });
    await welcome.waitFor({ timeout: 30_000 });
    await cs.page.locator('.pane-header[aria-label^="Kdump Targets"]').first().waitFor();
    expect(await welcome.locator('a.monaco-button', { hasText: 'Open Crash Dump…' }).count()).toBe(1);
    await cs.shot('kdump-container');
  });

  it('the Kdump commands are in the palette, the context-menu-only one is not', async () => {
    const rows = await cs.palette('Kdump:');
    await rows.first().waitFor();
    const labels = (await rows.locator('.label-name').allInnerTexts()).map((s) => s.trim());
    expect(labels).toEqual(
      expect.arrayContaining([
        'Kdump: Open Crash Dump…',
        'Kdump: Show Kernel Log',
        'Kdump: Open Disassembly at Panic',
      ]),
    );
    expect(labels).not.toContain('Kdump: Open as Crash Dump');
    expect(labels).not.toContain('Kdump: Pick a Crash Dump File');
    await cs.shot('palette');
    await cs.page.keyboard.press('Escape');
  });

  it('"Open as Crash Dump" on a text file named vmcore refuses it, saying why (content, not name)', async () => {
    await cs.activityBarEntry('Explorer').click();
    const row = cs.page
      .locator('.explorer-folders-view .monaco-list-row', {
        has: cs.page.locator('.label-name', { hasText: /^vmcore$/ }),
      })
      .first();
    await row.waitFor({ timeout: 20_000 });
    await row.click({ button: 'right' });
    const item = cs.page
      .locator('.context-view .monaco-menu .action-item', { hasText: 'Open as Crash Dump' })
      .first();
    await item.waitFor({ timeout: 10_000 });
    await cs.shot('explorer-context-menu');
    await item.click();
    const toast = cs.page.locator('.notifications-toasts .notification-list-item-message', {
      hasText: 'Not opened as a crash dump',
    });
    await toast.waitFor({ timeout: 20_000 });
    await cs.page.waitForTimeout(600); // let the toast finish sliding in for the screenshot
    expect((await toast.innerText()).trim()).toBe(
      'Not opened as a crash dump: vmcore is not a crash dump: it starts with neither an ELF header, "KDUMP", "DISKDUMP" nor a makedumpfile flattened header',
    );
    await cs.shot('open-as-crash-dump-refused');
    expect(dap().filter((x) => x.m.command === 'launch')).toEqual([]); // no session was started
    await cs.runCommand('Notifications: Clear All Notifications');
  });

  it('a real kernel log file gets the kernel-log language and grammar colours, panic line marked', async () => {
    await cs.openFile('vmcore-dmesg.txt');
    expect(await cs.languageMode('Kernel Log')).toBe('Kernel Log');
    const lines = readFileSync(join(ws, 'vmcore-dmesg.txt'), 'utf8').split('\n');
    const panicLine = lines.findIndex((l) => l.includes('Kernel panic - not syncing')) + 1;
    await cs.goToLine(panicLine);
    await cs.page
      .locator('.part.editor .view-line', { hasText: 'Kernel panic - not syncing' })
      .first()
      .waitFor();
    const panic = await cs.waitForToken(
      'Kernel panic - not syncing',
      'Kernel panic',
      (t) => t.color !== t.plainColor,
    );
    const frame = await cs.tokenOf('sysrq_handle_crash+0x16/0x20', 'sysrq_handle_crash');
    const plain = await cs.tokenOf('Hardware name: QEMU', 'QEMU Standard PC');
    expect(frame && plain).toBeTruthy();
    // the panic is in its own token, red in Dark Modern (invalid.illegal); frames in another colour
    expect(isRed(panic.color), panic.color).toBe(true);
    expect(frame!.color).not.toBe(plain!.color);
    expect(panic.className).not.toBe(plain!.className);
    // the whole-line panic decoration (kdump.panicLineBackground, #ff000033 in dark themes)
    const marked = await cs.page.evaluate(() =>
      [...document.querySelectorAll('.part.editor .view-overlays div')].some(
        (d) => getComputedStyle(d).backgroundColor === 'rgba(255, 0, 0, 0.2)',
      ),
    );
    expect(marked).toBe(true);
    await cs.shot('kernel-log-grammar');
  });

  it('/etc/kdump.conf syntax gets the kdump-conf language', async () => {
    await cs.openFile('kdump.conf');
    expect(await cs.languageMode('Kdump Configuration')).toBe('Kdump Configuration');
    // tokenization runs after the text is shown: wait for the colours
    const directive = await cs.waitForToken(
      'core_collector makedumpfile',
      'core_collector',
      (t) => t.color !== t.plainColor,
    );
    const comment = await cs.tokenOf('# dump over ssh', '# dump over ssh');
    expect(directive.color).not.toBe(directive.plainColor);
    expect(comment!.color).not.toBe(directive.color);
    await cs.shot('kdump-conf-grammar');
  });

  /** Wait for the `launch` request number `index` (0-based) the extension host sends to the adapter. */
  async function nthLaunch(index: number): Promise<Record<string, unknown> | undefined> {
    const t0 = Date.now();
    while (Date.now() - t0 < 30_000) {
      const launches = dap().filter((x) => x.dir === 'to-adapter' && x.m.command === 'launch');
      if (launches.length > index) return launches[index]!.m.arguments;
      await cs.page.waitForTimeout(250);
    }
    return undefined;
  }
  const launchCount = () => dap().filter((x) => x.dir === 'to-adapter' && x.m.command === 'launch').length;

  async function stopSessions(): Promise<void> {
    for (let i = 0; i < 4 && (await cs.page.locator('.debug-toolbar').isVisible()); i++) {
      await cs.runCommand('Debug: Stop');
      await cs.page.waitForTimeout(500);
    }
    await cs.page.locator('.debug-toolbar').waitFor({ state: 'hidden', timeout: 30_000 });
  }

  /** Thread rows of Call Stack; their aria-label is "<name> <state>". */
  const threadRows = () =>
    cs.page.locator('.debug-call-stack .monaco-list-row', { has: cs.page.locator('.thread') });

  it('F5 with launch.json: the provider resolves the dump, the inline adapter opens it and stops on the panic', async () => {
    await cs.runCommand('Debug: Start Debugging');
    expect(await nthLaunch(0)).toMatchObject({
      type: 'vmcore',
      request: 'launch',
      name: 'Crash dump (kdump-sysrq)',
      vmcore: dumpInWs,
    });
    await cs.page.locator('.debug-toolbar').waitFor({ state: 'visible', timeout: 60_000 });
    const t0 = Date.now();
    let stopped: ReturnType<typeof dap>[number] | undefined;
    while (!stopped && Date.now() - t0 < 60_000) {
      stopped = dap().find((x) => x.dir === 'from-adapter' && x.m.event === 'stopped');
      if (!stopped) await cs.page.waitForTimeout(250);
    }
    expect((stopped?.m as { body?: object } | undefined)?.body).toMatchObject({
      reason: 'exception',
      description: panicMessage,
      threadId: panicCpu + 1,
      allThreadsStopped: true,
    });
    await cs.shot('debug-session-started');
  });

  it('Call Stack: one thread per CPU, the panicking one paused on the panic', async () => {
    if (!(await cs.page.locator('.debug-call-stack').isVisible()))
      await cs.activityBarEntry('Run and Debug').click();
    await threadRows()
      .nth(truth.prstatus.length - 1)
      .waitFor({ timeout: 60_000 });
    expect(await threadRows().count()).toBe(truth.prstatus.length);
    const names = (await threadRows().locator('.thread .name').allInnerTexts()).map((s) => s.trim());
    const cpus = truth.summary_per_cpu as { cpu: number; current_pid: number; current_comm: string }[];
    expect(names).toEqual(cpus.map((c) => expect.stringContaining(`CPU ${c.cpu} · pid ${c.current_pid}`)));
    const states = (
      await threadRows()
        .locator('.thread .state')
        .evaluateAll((els) => els.map((e) => e.textContent ?? ''))
    ).map((s) => s.trim());
    // the panicking CPU's state label is the panic message (the stopped event's description), the others are paused
    expect(states[panicCpu]).toBe(panicMessage);
    expect(states.filter((_, i) => i !== panicCpu)).toEqual(
      states.filter((_, i) => i !== panicCpu).map(() => 'Paused'),
    );
    await cs.shot('call-stack-threads');
  });

  it('selecting the panic frame: Registers with the reference rip, and the Disassembly view at it (no source)', async () => {
    // VS Code focuses no frame by itself when no frame has source: pick the top frame as a user does
    const panicRow = threadRows().nth(panicCpu);
    const frames = cs.page.locator('.debug-call-stack .monaco-list-row', {
      has: cs.page.locator('.stack-frame'),
    });
    if ((await frames.count()) === 0) await panicRow.locator('.monaco-tl-twistie').click();
    await frames.first().waitFor({ timeout: 30_000 });
    await frames.first().click();
    await cs.page
      .locator('.debug-variables .monaco-list-row', { hasText: 'Registers' })
      .first()
      .waitFor({ timeout: 30_000 });
    // variable rows are labelled "<name>, value <value>"
    const rip = cs.page.locator('.debug-variables .monaco-list-row[aria-label^="rip, value"]').first();
    // the list renders only the rows in view: scroll the Registers scope down to rip
    await cs.page.locator('.debug-variables .monaco-list').first().hover();
    for (let i = 0; i < 40 && !(await rip.isVisible()); i++) {
      await cs.page.mouse.wheel(0, 22); // about one row
      await cs.page.waitForTimeout(150);
    }
    await rip.waitFor({ timeout: 10_000 });
    expect((await rip.locator('.value').innerText()).trim()).toMatch(new RegExp(`^${panicRip}\\b`, 'i'));
    // the extension opened the Disassembly view for the panic frame; its current row is the rip
    const view = cs.page.locator('.disassembly-view').first();
    await view.waitFor({ timeout: 30_000 });
    const rows = (await view.locator('.monaco-list-row').allInnerTexts()).join('\n').toLowerCase();
    expect(rows).toContain(panicRip.slice(2).toLowerCase());
    await cs.shot('registers-and-disassembly');
    // closed, it comes back with Kdump: Open Disassembly at Panic
    await cs.runCommand('View: Close Editor');
    await view.waitFor({ state: 'detached', timeout: 10_000 });
    await cs.runCommand('Kdump: Open Disassembly at Panic');
    await cs.page.locator('.disassembly-view').first().waitFor({ timeout: 30_000 });
  });

  it('Debug Console: bt prints the backtrace of the panicking CPU', async () => {
    await cs.runCommandEndingWith('Focus on Debug Console View');
    // the input is a Monaco editor (its text sink is a textarea or, in newer builds, an EditContext div)
    const input = cs.page.locator('.repl .repl-input-wrapper .monaco-editor').first();
    await input.waitFor({ timeout: 10_000 });
    await input.click();
    await cs.page.keyboard.type('bt');
    await cs.page.keyboard.press('Enter');
    await cs.page
      .locator('.repl .monaco-list-row', { hasText: 'sysrq_handle_crash' })
      .first()
      .waitFor({ timeout: 30_000 });
    const text = (await cs.page.locator('.repl .monaco-list-rows').innerText()).replace(/\s+/g, ' ');
    // frames drgn and crash agree on (ground-truth.json crash_summary), in the order they are printed
    const expected = [
      'panic',
      'sysrq_handle_crash',
      'write_sysrq_trigger',
      'proc_reg_write',
      'vfs_write',
      'ksys_write',
    ];
    const at = expected.map((f) => text.search(new RegExp(`\\b${f}\\b`)));
    expect(
      at.every((i) => i >= 0),
      JSON.stringify(at),
    ).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    await cs.shot('debug-console-bt');
  });

  /** Put the cursor on `word` in the line holding `lineText` and ask for the hover, as a user does with the mouse. */
  async function hoverWord(lines: string[], lineText: string, word: string): Promise<string> {
    const n = lines.findIndex((l) => l.includes(lineText));
    expect(n, lineText).toBeGreaterThanOrEqual(0);
    await cs.goToLine(n + 1, lines[n]!.indexOf(word) + 2);
    await cs.runCommand('Show or Focus Hover');
    const hover = cs.page.locator('.monaco-hover:visible', { hasText: '=' }).first();
    await hover.waitFor({ timeout: 20_000 });
    return (await hover.innerText()).replace(/\s+/g, ' ').trim();
  }

  it('hovering a register name in a kernel log file shows its value in the selected frame', async () => {
    await cs.openFile('vmcore-dmesg.txt');
    const lines = readFileSync(join(ws, 'vmcore-dmesg.txt'), 'utf8').split('\n');
    const text = await hoverWord(lines, 'RIP: 0033:0x47b7a0', 'RIP');
    expect(text.toLowerCase()).toContain(`rip = ${panicRip.toLowerCase()}`);
    expect(text).toContain(`CPU ${panicCpu}`);
    await cs.shot('register-hover-in-log-file');
    await cs.page.keyboard.press('Escape');
  });

  it('Show Kernel Log: the log read from the dump, at the panic line, highlighted, with register hovers', async () => {
    await cs.runCommand('Kdump: Show Kernel Log');
    await cs.page
      .locator('.tabs-container .tab[aria-label^="vmcore.elf-d31.dmesg"]')
      .first()
      .waitFor({ timeout: 30_000 });
    expect(await cs.languageMode('Kernel Log')).toBe('Kernel Log');
    // the engine's log equals makedumpfile --dump-dmesg of the same crash: the cursor is on its panic line
    const reference = readFileSync(join(VMCORES, 'kdump-sysrq/logs/dmesg.txt'), 'utf8').split('\n');
    const panicLine = reference.findIndex((l) => l.includes(panicMessage)) + 1;
    const cursor = await cs.page.locator('.statusbar-item[id="status.editor.selection"]').first().innerText();
    expect(cursor).toContain(`Ln ${panicLine},`);
    const panic = await cs.waitForToken(panicMessage, 'Kernel panic', (t) => t.color !== t.plainColor);
    expect(isRed(panic.color), panic.color).toBe(true);
    const shown = await cs.page
      .locator('.part.editor .view-line', { hasText: 'Kernel panic' })
      .first()
      .innerText();
    expect(shown.replace(/\u00a0/g, ' ')).toBe(reference[panicLine - 1]);
    await cs.shot('kernel-log-document');
    const text = await hoverWord(reference, 'RIP: 0033:0x47b7a0', 'RIP');
    expect(text.toLowerCase()).toContain(`rip = ${panicRip.toLowerCase()}`);
    await cs.shot('register-hover-in-kernel-log');
    await cs.page.keyboard.press('Escape');
  });

  it('Open Crash Dump…: the file picker, the content check, then a session on the picked dump', async () => {
    await stopSessions();
    const before = launchCount();
    await cs.runCommand('Kdump: Open Crash Dump…');
    const input = cs.page.locator('.quick-input-widget .quick-input-box input');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    await input.fill(dumpInWs);
    // the dialog lists the folder of the typed path once it has read it; Enter before that is lost
    await cs.page
      .locator('.quick-input-widget .monaco-list-row .label-name', { hasText: 'vmcore.elf-d31' })
      .first()
      .waitFor({ timeout: 10_000 });
    await cs.shot('open-crash-dump-picker');
    await cs.page.keyboard.press('Enter');
    expect(await nthLaunch(before)).toMatchObject({ name: 'Crash dump: vmcore.elf-d31', vmcore: dumpInWs });
    await cs.page.locator('.debug-toolbar').waitFor({ state: 'visible', timeout: 60_000 });
    await threadRows()
      .nth(truth.prstatus.length - 1)
      .waitFor({ timeout: 60_000 });
    await cs.shot('open-crash-dump-session');
  });

  it('Select and Start Debugging lists the dumps found by content in the workspace (not the text file named vmcore)', async () => {
    await stopSessions();
    const before = launchCount();
    await cs.runCommand('Debug: Select and Start Debugging');
    const rows = cs.page.locator('.quick-input-widget .monaco-list-row');
    const provider = rows.filter({ hasText: 'Linux Crash Dump (vmcore)' }).first();
    await provider.waitFor({ timeout: 15_000 });
    await provider.click();
    const entry = rows.filter({ has: cs.page.locator('.label-name', { hasText: /^Crash dump: / }) });
    await entry.first().waitFor({ timeout: 30_000 });
    const names = (await entry.locator('.label-name').allInnerTexts()).map((s) => s.trim());
    expect(names).toEqual(['Crash dump: vmcore.elf-d31']);
    await cs.shot('dynamic-configurations');
    await entry.first().click();
    expect(await nthLaunch(before)).toMatchObject({ type: 'vmcore', vmcore: dumpInWs });
    await cs.page.locator('.debug-toolbar').waitFor({ state: 'visible', timeout: 60_000 });
    await stopSessions();
  });
});
