/**
 * Opening corpus dumps as kernels for the symbol and kernel-log tests: the dump, its kernel virtual
 * memory (the real KernelAddressSpace: page-table walks for every format), and the reference files.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DumpError } from '../../src/dump/errors';
import { openDump } from '../../src/dump/open';
import type { Dump } from '../../src/dump/types';
import { KernelAddressSpace } from '../../src/translate/addressSpace';
import type { VirtualMemory } from '../../src/translate/types';
import { type CorpusDump, VMCORES } from './corpus';

export interface OpenedKernel {
  dump: Dump;
  space: KernelAddressSpace;
}

/**
 * Open a corpus dump with its address space. A format this project cannot open yet gives the reason
 * (a string) so the test can be skipped with it; every other failure throws.
 */
export async function openCorpusKernel(ref: CorpusDump): Promise<OpenedKernel | string> {
  let dump: Dump;
  try {
    dump = await openDump(ref.path);
  } catch (err) {
    if (err instanceof DumpError && err.kind === 'unsupported') return `cannot open yet: ${err.message}`;
    throw err;
  }
  return { dump, space: await KernelAddressSpace.create(dump) };
}

/** A VirtualMemory that counts reads, to check that tables are read in few large reads. */
export class CountingMemory implements VirtualMemory {
  reads = 0;
  bytes = 0;
  constructor(private readonly inner: VirtualMemory) {}
  get wordSize() {
    return this.inner.wordSize;
  }
  get littleEndian() {
    return this.inner.littleEndian;
  }
  read(vaddr: bigint, length: number) {
    this.reads++;
    this.bytes += length;
    return this.inner.read(vaddr, length);
  }
}

export interface ReferenceLog {
  file: string;
  style: 'makedumpfile' | 'plain';
  lines: string[];
}

function lines(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  const out = text.split('\n');
  if (out[out.length - 1] === '') out.pop();
  return out;
}

/**
 * The kernel-log references of a dump: makedumpfile's `--dump-dmesg` of that crash (logs/dmesg.txt)
 * or crash's `log` (same format), and drgn's (plain: continuation lines not indented).
 */
export function referenceLogs(ref: CorpusDump): ReferenceLog[] {
  const out: ReferenceLog[] = [];
  const makedumpfile = join(VMCORES, ref.scenario, 'logs', 'dmesg.txt');
  const crash = join(ref.refDir, 'crash-log.txt');
  const drgn = join(ref.refDir, 'drgn-dmesg.txt');
  if (existsSync(makedumpfile))
    out.push({ file: makedumpfile, style: 'makedumpfile', lines: lines(makedumpfile) });
  if (existsSync(crash)) out.push({ file: crash, style: 'makedumpfile', lines: lines(crash) });
  if (existsSync(drgn)) out.push({ file: drgn, style: 'plain', lines: lines(drgn) });
  return out;
}
