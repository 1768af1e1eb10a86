/**
 * The remote kdump glue: the "Kdump Targets" tree and its commands. Thin: every decision is made
 * by src/remote (planners, probe, SSH); this file asks the user, shows plans before anything
 * changes, and reports progress. Call `activateRemote(context)` from the extension's activate().
 */
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as vscode from 'vscode';
import { type AskpassPrompt, AskpassServer } from '../../remote/askpass';
import { validateReservation } from '../../remote/crashkernel';
import { fetchFile, fetchSystemMap } from '../../remote/fetch';
import { forEachHost, newDumps, probeWithRoot, waitForNewBoot } from '../../remote/ops';
import {
  crashChecks,
  executePlan,
  formatPlan,
  type Plan,
  PlanRefused,
  planCrash,
  planLoad,
  planReboot,
  planReservation,
  planUnload,
} from '../../remote/plan';
import { listDumps } from '../../remote/probe';
import { listConfigHosts, parseHostSpec, privateDir, SshSession } from '../../remote/ssh';
import type { TargetState } from '../../remote/state';
import type { TargetNode } from '../../remote/view';
import { errorDialog } from './errorMessage';
import { TargetsView } from './targetsView';

const CONFIG = 'kdump.targets';
const SECRET_PREFIX = 'kdump.sudo:';

export function activateRemote(context: vscode.ExtensionContext): vscode.Disposable {
  const log = vscode.window.createOutputChannel('Kdump Targets');
  const cfg = () => vscode.workspace.getConfiguration(CONFIG);
  const hosts = () => cfg().get<string[]>('hosts', []);
  const view = new TargetsView(context.extensionUri, hosts);
  const controlDir = privateDir();
  const passwords = new Map<string, string>();

  // ---- prompts from ssh (askpass) and sudo
  const askpass = new AskpassServer(controlDir, async (p: AskpassPrompt) => {
    if (p.kind === 'host-key') {
      const accept = 'Accept and Connect';
      const answer = await vscode.window.showWarningMessage(
        `${p.host}: the host key is not known yet.`,
        {
          modal: true,
          detail: `${p.text.trim()}\n\nCompare the fingerprint with the one the machine shows (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on its console) before accepting.`,
        },
        accept,
      );
      return answer === accept ? 'yes' : 'no';
    }
    return vscode.window.showInputBox({
      title: `SSH: ${p.host}`,
      prompt: p.text.trim(),
      password: p.kind !== 'other',
      ignoreFocusOut: true,
    });
  });
  const askpassReady = askpass.start();

  const sudoPassword = async (host: string, prompt: string): Promise<string | undefined> => {
    const remembered =
      passwords.get(host) ??
      (cfg().get<boolean>('rememberSudoPassword')
        ? await context.secrets.get(SECRET_PREFIX + host)
        : undefined);
    if (remembered !== undefined) return remembered;
    const pw = await vscode.window.showInputBox({
      title: prompt,
      prompt: 'Root operations on this host need sudo',
      password: true,
      ignoreFocusOut: true,
    });
    if (pw !== undefined) {
      passwords.set(host, pw);
      if (cfg().get<boolean>('rememberSudoPassword')) await context.secrets.store(SECRET_PREFIX + host, pw);
    }
    return pw;
  };

  const sessions = new Map<string, { batch: SshSession; interactive: SshSession }>();
  const sessionOf = (host: string, interactive: boolean): SshSession => {
    let s = sessions.get(host);
    if (!s) {
      const configFile = cfg().get<string>('sshConfigFile') || undefined;
      const base = { controlDir, ...(configFile ? { configFile } : {}) };
      s = {
        batch: new SshSession(host, { ...base, batchMode: true }),
        interactive: new SshSession(host, { ...base, batchMode: false, askpass, sudoPassword }),
      };
      sessions.set(host, s);
    }
    return interactive ? s.interactive : s.batch;
  };

  const refreshHost = async (
    host: string,
    interactive = false,
    signal?: AbortSignal,
  ): Promise<TargetState> => {
    if (interactive) await askpassReady;
    view.setBusy(host, 'reading…');
    try {
      const state = await probeWithRoot(sessionOf(host, interactive), {
        signal,
        interactiveRoot: interactive,
      });
      view.setState(host, state);
      return state;
    } finally {
      view.setBusy(host, undefined);
    }
  };
  const refreshAll = async () => {
    await forEachHost(hosts(), cfg().get<number>('concurrency', 4), (h) => refreshHost(h));
  };

  const hostOf = (arg: TargetNode | string | undefined): string | undefined =>
    typeof arg === 'string' ? arg : arg?.host;
  const pickHost = async (arg: TargetNode | string | undefined, title: string): Promise<string | undefined> =>
    hostOf(arg) ?? (await vscode.window.showQuickPick(hosts(), { title }));
  const trusted = (): boolean => {
    if (vscode.workspace.isTrusted) return true;
    void vscode.window.showErrorMessage(
      'Remote kdump commands change other machines: trust this workspace first.',
    );
    return false;
  };

  /** Show the plan; run it only after the user agrees. */
  const confirmAndRun = async (plan: Plan, action: string, session: SshSession): Promise<boolean> => {
    const text = formatPlan(plan);
    const ok = await vscode.window.showWarningMessage(
      `${plan.host}: ${plan.summary}`,
      { modal: true, detail: text },
      action,
    );
    if (ok !== action) return false;
    log.appendLine(`\n${new Date().toISOString()} ${text}`);
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `${plan.host}: ${action}`, cancellable: true },
      async (progress, token) => {
        const ac = new AbortController();
        token.onCancellationRequested(() => ac.abort());
        const results = await executePlan(session, plan, {
          signal: ac.signal,
          onStep: (i, s) => progress.report({ message: `${i + 1}/${plan.steps.length}: ${s.why}` }),
        });
        for (const r of results) log.appendLine(`$ ${r.step.display}\n${r.stdout}${r.stderr}`);
      },
    );
    return true;
  };

  const report = (e: unknown) => {
    const d = errorDialog(e);
    log.appendLine(`error: ${d.log}`);
    void vscode.window.showErrorMessage(d.message, {
      modal: d.modal,
      ...(d.detail !== undefined ? { detail: d.detail } : {}),
    });
  };
  const guarded =
    <A extends unknown[]>(fn: (...a: A) => Promise<unknown>) =>
    async (...a: A) => {
      try {
        await fn(...a);
      } catch (e) {
        if ((e as Error).name !== 'AbortError') report(e);
      }
    };

  const reg = (id: string, fn: (...a: never[]) => Promise<unknown>) =>
    vscode.commands.registerCommand(id, guarded(fn as (...a: unknown[]) => Promise<unknown>));

  const waitAndRefresh = async (host: string, oldBoot: string, what: string) => {
    const session = sessionOf(host, false);
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `${host}: ${what}`, cancellable: true },
      async (progress, token) => {
        const ac = new AbortController();
        token.onCancellationRequested(() => ac.abort());
        view.setBusy(host, `${what}: waiting for the new boot`);
        try {
          const back = await waitForNewBoot(session, oldBoot, {
            signal: ac.signal,
            onProgress: (w) => {
              const m = `waiting for the new boot (${Math.round(w.seconds)} s, ${w.last})`;
              progress.report({ message: m });
              view.setBusy(host, `${what}: ${m}`);
            },
          });
          log.appendLine(`${host}: back after ${back.seconds.toFixed(1)} s, boot_id ${back.bootId}`);
        } finally {
          view.setBusy(host, undefined);
        }
        return refreshHost(host, false, ac.signal);
      },
    );
  };

  const fetchAndOpen = async (host: string, dumpPath: string, complete: boolean) => {
    const state = view.states.get(host) ?? (await refreshHost(host, true));
    const session = sessionOf(host, true);
    const root = state.root !== 'none';
    const folderSetting = cfg().get<string>('downloadFolder');
    const safeHost = host.replace(/[^A-Za-z0-9._-]/g, '_');
    const dirName = basename(dumpPath.slice(0, dumpPath.lastIndexOf('/')));
    const outDir = join(folderSetting || join(context.globalStorageUri.fsPath, 'dumps'), safeHost, dirName);
    mkdirSync(outDir, { recursive: true });
    let allowIncomplete = false;
    if (!complete) {
      const anyway = 'Fetch Anyway';
      if (
        (await vscode.window.showWarningMessage(
          `${dumpPath} is incomplete: the capture kernel did not finish writing it.`,
          { modal: true },
          anyway,
        )) !== anyway
      )
        return;
      allowIncomplete = true;
    }
    const local = join(outDir, basename(dumpPath));
    const result = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `Fetching ${host}:${dumpPath}`,
        cancellable: true,
      },
      async (progress, token) => {
        const ac = new AbortController();
        token.onCancellationRequested(() => ac.abort());
        let last = 0;
        const r = await fetchFile(session, dumpPath, local, {
          root,
          signal: ac.signal,
          allowIncomplete,
          onProgress: (p) => {
            const pct = (p.bytes / Math.max(p.total, 1)) * 100;
            progress.report({
              increment: pct - last,
              message:
                p.phase === 'verify'
                  ? 'verifying sha256…'
                  : `${(p.bytes / 2 ** 20).toFixed(1)} of ${(p.total / 2 ** 20).toFixed(1)} MiB, ${(p.bytesPerSecond / 2 ** 20).toFixed(1)} MiB/s`,
            });
            last = pct;
          },
        });
        const dump = state.dumps.find((d) => d.path === dumpPath);
        if (dump?.dmesg)
          await fetchFile(session, dump.dmesg, join(outDir, basename(dump.dmesg)), {
            root,
            signal: ac.signal,
          });
        // System.map of the crashed kernel from /boot, when it is a real one (Debian ships a placeholder)
        let systemMap: string | undefined;
        if (state.kernelRelease) {
          const map = await fetchSystemMap(session, state.kernelRelease, outDir, { root, signal: ac.signal });
          if ('path' in map) systemMap = map.path;
          else log.appendLine(`${host}: System.map: ${map.skipped}`);
        }
        return { ...r, systemMap };
      },
    );
    log.appendLine(
      `${host}: fetched ${dumpPath} → ${result.path} (${result.bytes} bytes, sha256 ${result.sha256})`,
    );
    if (!result.complete) {
      void vscode.window.showWarningMessage(
        `Fetched ${result.path}; it is an INCOMPLETE dump and is not opened automatically.`,
      );
      return;
    }
    if (result.systemMap) {
      await vscode.debug.startDebugging(undefined, {
        type: 'vmcore',
        request: 'launch',
        name: `${host}: ${basename(result.path)}`,
        vmcore: result.path,
        systemMap: result.systemMap,
      });
    } else {
      await vscode.commands.executeCommand('kdump.openDumpPath', result.path);
    }
  };

  const disposables: vscode.Disposable[] = [
    log,
    vscode.window.registerTreeDataProvider('kdump.targets', view),
    { dispose: () => void askpass.close() },
    {
      dispose: () =>
        void Promise.all(
          [...sessions.values()].flatMap((s) => [s.batch.disconnect(), s.interactive.disconnect()]),
        ),
    },
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration(`${CONFIG}.sshConfigFile`)) sessions.clear();
      if (e.affectsConfiguration(`${CONFIG}.hosts`)) view.refresh();
    }),

    reg('kdump.targets.add', async () => {
      const configFile = cfg().get<string>('sshConfigFile') || undefined;
      const aliases = (await listConfigHosts(configFile).catch(() => [] as string[])).filter(
        (a) => !hosts().includes(a),
      );
      const other = 'Other host… (user@host, ssh://user@host:port)';
      let host = aliases.length
        ? await vscode.window.showQuickPick([...aliases, other], { title: 'Add a kdump target' })
        : other;
      if (host === other) {
        host = await vscode.window.showInputBox({
          title: 'Add a kdump target',
          prompt: 'Anything ssh accepts: an alias from ~/.ssh/config, user@host, ssh://user@host:port',
          validateInput: (v) => {
            try {
              parseHostSpec(v);
              return undefined;
            } catch (e) {
              return (e as Error).message;
            }
          },
        });
      }
      if (!host) return;
      await cfg().update('hosts', [...hosts(), host.trim()], vscode.ConfigurationTarget.Global);
      await refreshHost(host.trim(), true);
    }),
    reg('kdump.targets.remove', async (arg?: TargetNode) => {
      const host = await pickHost(arg, 'Remove which target?');
      if (!host) return;
      await cfg().update(
        'hosts',
        hosts().filter((h) => h !== host),
        vscode.ConfigurationTarget.Global,
      );
      view.states.delete(host);
      const s = sessions.get(host);
      sessions.delete(host);
      await Promise.all([s?.batch.disconnect(), s?.interactive.disconnect()]);
      passwords.delete(host);
      await context.secrets.delete(SECRET_PREFIX + host);
      view.refresh();
    }),
    reg('kdump.targets.refresh', async (arg?: TargetNode) => {
      const host = await pickHost(arg, 'Refresh which target?');
      if (host) await refreshHost(host);
    }),
    reg('kdump.targets.refreshAll', refreshAll),
    reg('kdump.targets.connect', async (arg?: TargetNode) => {
      const host = await pickHost(arg, 'Connect to which target?');
      if (host) await refreshHost(host, true);
    }),
    reg('kdump.targets.showLog', async () => log.show()),

    reg('kdump.targets.configureReservation', async (arg?: TargetNode) => {
      const host = await pickHost(arg, 'Configure the crashkernel= reservation of which target?');
      if (!host || !trusted()) return;
      const state = await refreshHost(host, true);
      const chosen = await vscode.window.showQuickPick(
        [
          {
            label: 'Distro default',
            description:
              state.flavour === 'kdumpctl'
                ? 'kdumpctl reset-crashkernel'
                : state.flavour === 'kdump-tools'
                  ? 'crashkernel=384M-:128M'
                  : 'from the distro tool',
            value: 'default',
          },
          {
            label: 'Choose a size or ranges…',
            description: 'e.g. 256M, 2G-64G:256M,64G-:512M, 512M,high 72M,low',
            value: 'custom',
          },
        ],
        {
          title: `${host}: now ${state.crashkernelCmdline || 'no crashkernel='}${state.rebootPending ? ` (next boot: ${state.crashkernelBootloader})` : ''}`,
        },
      );
      if (!chosen) return;
      let value = 'default';
      if (chosen.value === 'custom') {
        const v = await vscode.window.showInputBox({
          title: `${host}: crashkernel=`,
          value: '256M',
          validateInput: (text) => {
            try {
              validateReservation(text);
              return undefined;
            } catch (e) {
              return (e as Error).message;
            }
          },
        });
        if (!v) return;
        value = v;
      }
      const plan = planReservation(state, value);
      const session = sessionOf(host, true);
      if (!(await confirmAndRun(plan, 'Change Boot Configuration', session))) return;
      const after = await refreshHost(host, true);
      const want = value === 'default' ? undefined : validateReservation(value).text;
      if (want !== undefined && after.crashkernelBootloader !== want) {
        throw new Error(
          `${host}: the boot configuration now says "${after.crashkernelBootloader}", not "${want}"; see the Kdump Targets log`,
        );
      }
      const reboot = 'Reboot Now…';
      const answer = await vscode.window.showInformationMessage(
        `${host}: the boot configuration now has ${after.crashkernelBootloader}. A reboot is needed for it to take effect.`,
        reboot,
      );
      if (answer === reboot) await vscode.commands.executeCommand('kdump.targets.reboot', host);
    }),

    reg('kdump.targets.reboot', async (arg?: TargetNode | string) => {
      const host = await pickHost(arg, 'Reboot which target?');
      if (!host || !trusted()) return;
      const state = await refreshHost(host, true);
      const typed = await vscode.window.showInputBox({
        title: `Reboot ${host}`,
        prompt: `Type the host name "${host}" to reboot it now`,
        ignoreFocusOut: true,
        validateInput: (v) => (v === host ? undefined : `type ${host}`),
      });
      const plan = planReboot(state, typed);
      if (!(await confirmAndRun(plan, 'Reboot', sessionOf(host, true)))) return;
      await waitAndRefresh(host, state.bootId ?? '', 'rebooting');
    }),

    reg('kdump.targets.load', async (arg?: TargetNode) => {
      const host = await pickHost(arg, 'Load the capture kernel on which target?');
      if (!host || !trusted()) return;
      const state = await refreshHost(host, true);
      const session = sessionOf(host, true);
      const cmdline = (await session.run(['cat', '/proc/cmdline'])).stdout.trim();
      let plan: Plan;
      try {
        plan = planLoad(state, cmdline);
      } catch (e) {
        if (!(e instanceof PlanRefused) || !/--initrd PATH/.test(e.message)) throw e;
        const initrd = await vscode.window.showInputBox({
          title: `${host}: initrd for the capture kernel`,
          prompt: 'No kdump initrd was found in /boot. Path of the initrd to load with the capture kernel:',
          value: `/boot/initrd.img-${state.kernelRelease}`,
          ignoreFocusOut: true,
        });
        if (!initrd) return;
        plan = planLoad(state, cmdline, { initrd });
      }
      if (!(await confirmAndRun(plan, 'Load', session))) return;
      const after = await refreshHost(host, true);
      if (!after.captureLoaded)
        throw new Error(`${host}: the commands ran but crash_loaded is still 0; see the Kdump Targets log`);
      void vscode.window.showInformationMessage(`${host}: capture kernel loaded (armed).`);
    }),
    reg('kdump.targets.unload', async (arg?: TargetNode) => {
      const host = await pickHost(arg, 'Unload the capture kernel on which target?');
      if (!host || !trusted()) return;
      const state = await refreshHost(host, true);
      if (!(await confirmAndRun(planUnload(state), 'Unload', sessionOf(host, true)))) return;
      await refreshHost(host, true);
    }),
    reg('kdump.targets.loadAll', async () => {
      if (!trusted()) return;
      const picked = await vscode.window.showQuickPick(hosts(), {
        canPickMany: true,
        title: 'Load the capture kernel on…',
      });
      if (!picked?.length) return;
      const ok = 'Load on All';
      if (
        (await vscode.window.showWarningMessage(
          `Load the capture kernel on ${picked.length} targets with each distro's tool (kexec -p where there is none)?`,
          { modal: true, detail: picked.join('\n') },
          ok,
        )) !== ok
      )
        return;
      const results = await vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: 'Loading capture kernels',
          cancellable: true,
        },
        async (progress, token) => {
          const ac = new AbortController();
          token.onCancellationRequested(() => ac.abort());
          let done = 0;
          return forEachHost(picked, cfg().get<number>('concurrency', 4), async (host) => {
            const session = sessionOf(host, false);
            const state = await probeWithRoot(session, { signal: ac.signal });
            const cmdline = (
              await session.run(['cat', '/proc/cmdline'], { signal: ac.signal })
            ).stdout.trim();
            const plan = planLoad(state, cmdline);
            log.appendLine(formatPlan(plan));
            await executePlan(session, plan, { signal: ac.signal });
            const after = await refreshHost(host, false, ac.signal);
            progress.report({ increment: 100 / picked.length, message: `${++done}/${picked.length}` });
            if (!after.captureLoaded) throw new Error(`${host}: crash_loaded is still 0`);
            return 'loaded';
          });
        },
      );
      for (const r of results) log.appendLine(`${r.host}: ${r.ok ? r.value : `FAILED: ${r.error}`}`);
      const failed = results.filter((r) => !r.ok);
      if (failed.length)
        void vscode.window.showErrorMessage(
          `Loaded on ${results.length - failed.length} of ${results.length}; failed: ${failed.map((f) => f.host).join(', ')} (details in the Kdump Targets log)`,
        );
      else
        void vscode.window.showInformationMessage(`Capture kernel loaded on all ${results.length} targets.`);
    }),

    reg('kdump.targets.testCrash', async (arg?: TargetNode) => {
      const host = await pickHost(arg, 'Crash which target?');
      if (!host || !trusted()) return;
      const state = await refreshHost(host, true);
      const { hard, soft } = crashChecks(state, host);
      if (hard.length) throw new PlanRefused(host, hard);
      const typed = await vscode.window.showInputBox({
        title: `TEST CRASH ${host}`,
        prompt: `This panics the kernel of ${host} (${state.hostname ?? ''}, ${state.kernelRelease ?? ''}); running work is lost. Type "${host}" to continue.`,
        ignoreFocusOut: true,
        validateInput: (v) => (v === host ? undefined : `type ${host}`),
      });
      if (typed !== host) return;
      const plan = planCrash(state, typed, { force: true });
      const detail = `${formatPlan(plan)}\n\nThe machine will panic, the capture kernel will save a dump to ${state.dumpDir ?? 'its dump target'} and reboot.${soft.length ? `\n\nWarnings:\n- ${soft.join('\n- ')}` : ''}`;
      const crashNow = 'Crash System';
      if (
        (await vscode.window.showWarningMessage(`Crash ${host} now?`, { modal: true, detail }, crashNow)) !==
        crashNow
      )
        return;
      const session = sessionOf(host, true);
      log.appendLine(`\n${new Date().toISOString()} ${formatPlan(plan)}`);
      await executePlan(session, plan);
      const after = await waitAndRefresh(host, state.bootId ?? '', 'crash in flight');
      const dumpsNow = after.dumpDir
        ? await listDumps(sessionOf(host, false), after.dumpDir, {
            root: after.root === 'root' || after.root === 'sudo',
          })
        : after.dumps;
      const fresh = newDumps(state.dumps, dumpsNow);
      if (!fresh.length) {
        throw new Error(
          `${host} rebooted but no new dump appeared in ${after.dumpDir ?? 'the dump target'}: check the reservation, the capture kernel's console, or the BMC.`,
        );
      }
      const best = fresh.find((d) => d.complete) ?? fresh[0]!;
      const fetch = 'Fetch and Open';
      if (
        (await vscode.window.showInformationMessage(
          `${host}: new dump ${best.path} (${best.complete ? 'complete' : 'INCOMPLETE'})`,
          fetch,
        )) === fetch
      ) {
        await fetchAndOpen(host, best.path, best.complete);
      }
    }),

    reg('kdump.targets.fetchDump', async (arg?: TargetNode) => {
      if (!arg?.dump) return;
      await fetchAndOpen(arg.host, arg.dump.path, arg.dump.complete);
    }),
  ];
  void refreshAll();
  return vscode.Disposable.from(...disposables);
}
