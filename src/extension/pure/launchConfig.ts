/**
 * Launch configurations of the `vmcore` debug type: defaults, path resolution and validation.
 * No `vscode` here: the glue in ../debugConfig.ts calls these with plain values.
 */
import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, isAbsolute, resolve } from 'node:path';
import { checkDumpFile } from './dumpCheck';

export const DEBUG_TYPE = 'vmcore';

/** The attributes of a `vmcore` launch configuration (the JSON schema in package.json says the same). */
export interface VmcoreLaunchConfig {
  type: string;
  request: string;
  name: string;
  /** The crash dump (ELF vmcore, kdump-compressed or makedumpfile flattened), detected by content. */
  vmcore?: string;
  /** vmlinux with symbols (optionally DWARF) of the crashed kernel. */
  vmlinux?: string;
  /** System.map of the crashed kernel. */
  systemMap?: string;
  /** Source tree of the crashed kernel, for opening the files DWARF line tables name. */
  kernelSource?: string;
  [key: string]: unknown;
}

/** What `resolveDebugConfiguration` must do with a configuration before variables are substituted. */
export type Completion =
  | { action: 'start'; config: VmcoreLaunchConfig }
  /** No dump named: ask for one (file picker), then call {@link withDump}. */
  | { action: 'pick'; config: VmcoreLaunchConfig };

/**
 * Fill in what F5 without a launch.json leaves out. `suggestedDump` is a file the user is looking at
 * (the active editor) that was already found to be a dump by its content.
 */
export function completeConfig(raw: Record<string, unknown>, suggestedDump?: string): Completion {
  const config: VmcoreLaunchConfig = {
    ...raw,
    type: typeof raw.type === 'string' && raw.type ? raw.type : DEBUG_TYPE,
    request: typeof raw.request === 'string' && raw.request ? raw.request : 'launch',
    name: typeof raw.name === 'string' && raw.name ? raw.name : 'Crash dump',
  };
  const vmcore = typeof raw.vmcore === 'string' ? raw.vmcore.trim() : '';
  if (vmcore) return { action: 'start', config: { ...config, vmcore } };
  if (suggestedDump) return { action: 'start', config: withDump(config, suggestedDump) };
  return { action: 'pick', config };
}

/** The configuration with a dump chosen by the user; names the session after the file. */
export function withDump(config: VmcoreLaunchConfig, dumpPath: string): VmcoreLaunchConfig {
  const named = !config.name || config.name === 'Crash dump';
  return { ...config, vmcore: dumpPath, name: named ? `Crash dump: ${basename(dumpPath)}` : config.name };
}

/** A configuration for a dump opened from the explorer or the Open Crash Dump command. */
export function configForDump(dumpPath: string): VmcoreLaunchConfig {
  return withDump({ type: DEBUG_TYPE, request: 'launch', name: 'Crash dump' }, dumpPath);
}

/** Expand `~` and make a path absolute against the workspace folder (or the process cwd). */
export function resolvePath(path: string, folder: string | undefined): string {
  let p = path.trim();
  if (p === '~' || p.startsWith('~/')) p = homedir() + p.slice(1);
  return isAbsolute(p) ? p : resolve(folder ?? process.cwd(), p);
}

export interface Validated {
  config: VmcoreLaunchConfig;
  /** Problems that stop the launch, each a complete sentence naming the file and the attribute. */
  errors: string[];
}

function checkFile(attr: string, path: string): string | undefined {
  try {
    const st = statSync(path);
    if (st.isDirectory()) return `"${attr}" is a folder, not a file: ${path}`;
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT'
      ? `"${attr}" names a file that does not exist: ${path}`
      : `"${attr}" cannot be read (${code ?? String(err)}): ${path}`;
  }
}

function checkFolder(attr: string, path: string): string | undefined {
  try {
    if (!statSync(path).isDirectory()) return `"${attr}" is a file, not a folder: ${path}`;
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT'
      ? `"${attr}" names a folder that does not exist: ${path}`
      : `"${attr}" cannot be read (${code ?? String(err)}): ${path}`;
  }
}

/**
 * After VS Code substituted `${workspaceFolder}` and friends: make the paths absolute, check that they
 * exist, and that `vmcore` is a crash dump by its content.
 */
export async function validateConfig(
  config: VmcoreLaunchConfig,
  folder: string | undefined,
): Promise<Validated> {
  const out: VmcoreLaunchConfig = { ...config };
  const errors: string[] = [];
  if (config.request !== 'launch')
    errors.push(`a vmcore session is started with "request": "launch", not "${config.request}"`);
  if (typeof config.vmcore !== 'string' || !config.vmcore.trim()) {
    errors.push('"vmcore" is missing: name the crash dump to open');
  } else {
    out.vmcore = resolvePath(config.vmcore, folder);
    const problem = checkFile('vmcore', out.vmcore);
    if (problem) errors.push(problem);
    else {
      const check = await checkDumpFile(out.vmcore);
      if (!check.ok) errors.push(check.message);
    }
  }
  for (const attr of ['vmlinux', 'systemMap'] as const) {
    const v = config[attr];
    if (v === undefined || v === '') {
      delete out[attr];
      continue;
    }
    if (typeof v !== 'string') {
      errors.push(`"${attr}" must be a path (a string)`);
      continue;
    }
    out[attr] = resolvePath(v, folder);
    const problem = checkFile(attr, out[attr] as string);
    if (problem) errors.push(problem);
  }
  const tree = config.kernelSource;
  if (tree === undefined || tree === '') delete out.kernelSource;
  else if (typeof tree !== 'string')
    errors.push('"kernelSource" must be a path (a string) to a kernel source tree');
  else {
    out.kernelSource = resolvePath(tree, folder);
    const problem = checkFolder('kernelSource', out.kernelSource);
    if (problem) errors.push(problem);
  }
  return { config: out, errors };
}
