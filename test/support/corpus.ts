/**
 * The real dumps in ../shared/vmcores, decompressed once into a cache outside the repository.
 * Tests iterate over whatever dumps are there: more arrive over time.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';

export const PROJECT_ROOT = resolve(__dirname, '../..');
export const SHARED = process.env.KDUMP_SHARED ?? resolve(PROJECT_ROOT, '../shared');
export const VMCORES = join(SHARED, 'vmcores');
export const CACHE = process.env.KDUMP_DEBUG_CACHE ?? join(homedir(), '.cache', 'kdump-debug', 'vmcores');

export interface CorpusDump {
  /** Path relative to vmcores/ without `.zst`, e.g. `kdump-sysrq/vmcore.elf-d31`. */
  name: string;
  scenario: string;
  zst: string;
  /** The decompressed dump in the cache. */
  path: string;
  refDir: string;
  truth: GroundTruth;
}

// biome-ignore lint/suspicious/noExplicitAny: reference JSON is loosely typed on purpose
export type GroundTruth = Record<string, any>;

/** One task of drgn's task list in ground-truth.json (`drgn.tasks`; the idle tasks are not in it). */
export interface DrgnTask {
  pid: number;
  tgid: number;
  comm: string;
  /** /proc's state letter. */
  state: string;
  cpu: number;
  /** task_struct address, 0x-hex. */
  task: string;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.name.endsWith('.zst')) out.push(p);
  }
  return out;
}

export function cachedPath(zst: string): string {
  return join(CACHE, relative(VMCORES, zst).replace(/\.zst$/, ''));
}

/** Every `.zst` in vmcores/ that has a `.ref/ground-truth.json` beside it. */
export function corpus(): CorpusDump[] {
  if (!existsSync(VMCORES)) return [];
  return walk(VMCORES)
    .sort()
    .flatMap((zst) => {
      const base = zst.replace(/\.zst$/, '');
      const refDir = `${base}.ref`;
      const truthFile = join(refDir, 'ground-truth.json');
      if (!existsSync(truthFile)) return [];
      const name = relative(VMCORES, base);
      return [
        {
          name,
          scenario: name.split('/')[0]!,
          zst,
          path: cachedPath(zst),
          refDir,
          truth: JSON.parse(readFileSync(truthFile, 'utf8')),
        },
      ];
    });
}

export function corpusByFormat(format: string): CorpusDump[] {
  return corpus().filter((d) => d.truth.format === format);
}

function sha256File(path: string): Promise<string> {
  return new Promise((res, rej) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('end', () => res(h.digest('hex')))
      .on('error', rej);
  });
}

/** Decompress every `.zst` (dumps and System.map files) into the cache unless already there and verified. */
export async function ensureDecompressed(log: (s: string) => void = () => undefined): Promise<void> {
  if (!existsSync(VMCORES)) {
    throw new Error(
      `the shared dumps are missing: expected ${VMCORES} (set KDUMP_SHARED to the folder that holds vmcores/)`,
    );
  }
  for (const zst of walk(VMCORES)) {
    const out = cachedPath(zst);
    const stamp = `${out}.stamp`;
    const zstStat = statSync(zst);
    const zstId = `${zstStat.size}`;
    if (existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8') === zstId) continue;
    mkdirSync(dirname(out), { recursive: true });
    log(`decompressing ${relative(VMCORES, zst)} into ${CACHE}`);
    const part = `${out}.part`;
    execFileSync('zstd', ['-q', '-f', '-d', '--long=31', zst, '-o', part], { stdio: 'inherit' });
    const truthFile = join(`${zst.replace(/\.zst$/, '')}.ref`, 'ground-truth.json');
    if (existsSync(truthFile)) {
      const truth = JSON.parse(readFileSync(truthFile, 'utf8')) as GroundTruth;
      if (truth.sha256 && (await sha256File(part)) !== truth.sha256) {
        throw new Error(`decompressed ${zst} does not match the sha256 in its ground-truth.json`);
      }
    }
    renameSync(part, out);
    writeFileSync(stamp, zstId);
  }
}

/** Read a reference file of a dump (`crash-bt-a.txt`, …). */
export function refFile(dump: CorpusDump, file: string): string | undefined {
  const p = join(dump.refDir, file);
  return existsSync(p) ? readFileSync(p, 'utf8') : undefined;
}

/** The scenario's logs/ folder file (e.g. `dmesg.txt`). */
export function logFile(dump: CorpusDump, file: string): string | undefined {
  const p = join(VMCORES, dump.scenario, 'logs', file);
  return existsSync(p) ? readFileSync(p, 'utf8') : undefined;
}

/** System.map for a dump's kernel, when the corpus has a real one (not a placeholder). */
export function systemMapFor(dump: CorpusDump): string | undefined {
  const release: string | undefined = dump.truth.kernel?.osrelease ?? dump.truth.vmcoreinfo?.OSRELEASE;
  if (!release) return undefined;
  for (const dir of readdirSync(VMCORES)) {
    if (!dir.startsWith('kernel')) continue;
    for (const f of readdirSync(join(VMCORES, dir))) {
      if (f !== `System.map-${release}` && f !== `System.map-${release}.zst`) continue;
      const p = f.endsWith('.zst') ? cachedPath(join(VMCORES, dir, f)) : join(VMCORES, dir, f);
      if (existsSync(p) && statSync(p).size > 1024) return p;
    }
  }
  return undefined;
}

/** The kernel config of a dump's kernel from the corpus (config-RELEASE in a kernel folder), when there is one. */
export function kernelConfigFor(dump: CorpusDump): string | undefined {
  const release: string | undefined = dump.truth.kernel?.osrelease;
  if (!release) return undefined;
  for (const dir of readdirSync(VMCORES)) {
    const p = join(VMCORES, dir, `config-${release}`);
    if (dir.startsWith('kernel') && existsSync(p)) return readFileSync(p, 'utf8');
  }
  return undefined;
}

/**
 * Whether the dump's own kallsyms can find the kernel's BTF and per-CPU run queues: the kernel keeps
 * BTF (CONFIG_DEBUG_INFO_BTF) and lists data symbols in kallsyms (CONFIG_KALLSYMS_ALL). Without a
 * config in the corpus, undefined.
 */
export function tasksFromKallsyms(dump: CorpusDump): boolean | undefined {
  const config = kernelConfigFor(dump);
  if (config === undefined) return undefined;
  return /^CONFIG_DEBUG_INFO_BTF=y$/m.test(config) && /^CONFIG_KALLSYMS_ALL=y$/m.test(config);
}
