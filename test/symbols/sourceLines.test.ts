/**
 * Source lines from Debian's debug vmlinux (DWARF 5, gcc 12, 633 MB) for the crashing CPU of every
 * x86_64 dump, against drgn's reference backtrace; and what one stack costs in reads.
 *
 * What is compared: drgn lists, for a pc inside inlined code, one entry per inline level, innermost
 * first, then the function that holds the code; the innermost entry carries the line table's location
 * for the pc, the outer ones the call sites (DW_AT_call_line of the inlined-subroutine DIEs). A line
 * table lookup gives the innermost location, so each of our frames is compared with the FIRST drgn
 * entry at its pc (the only entry when nothing is inlined there). drgn's `source` is basename:line.
 */
import { basename } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ByteSource, FileSource } from '../../src/dump/source';
import { KernelDump } from '../../src/kernel/kernelDump';
import { DwarfLineTable } from '../../src/symbols/lineTable';
import { corpus } from '../support/corpus';
import { vmlinuxPath } from '../support/debianKernel';

const RELEASE = '6.1.0-56-amd64';
const VMLINUX = vmlinuxPath(RELEASE);

interface DrgnFrame {
  function: string | null;
  pc: string;
  inline: boolean;
  symbol?: string;
  symbol_offset?: string;
  source?: string;
}

const dumps = corpus().filter(
  (d) =>
    d.truth.arch === 'x86_64' &&
    d.truth.kernel.osrelease === RELEASE &&
    d.truth.drgn?.crashing_cpu_stack_trace,
);

/** The innermost drgn entry for each pc that has a source (kernel frames). */
function expectedByPc(trace: DrgnFrame[]): Map<bigint, string> {
  const byPc = new Map<bigint, string>();
  for (const f of trace) {
    const pc = BigInt(f.pc);
    if (f.source && !byPc.has(pc)) byPc.set(pc, f.source);
  }
  return byPc;
}

/** A file read with no cache, counting every byte asked for. */
class CountingSource implements ByteSource {
  bytesRead = 0;
  reads = 0;
  private constructor(private readonly file: FileSource) {}
  static async open(path: string): Promise<CountingSource> {
    return new CountingSource(await FileSource.open(path, { blockCache: false }));
  }
  get name() {
    return this.file.name;
  }
  get size() {
    return this.file.size;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    const bytes = await this.file.read(offset, length);
    this.bytesRead += bytes.length;
    this.reads++;
    return bytes;
  }
  close() {
    return this.file.close();
  }
}

const report: string[] = [];
afterAll(() => {
  console.log(`source lines vs drgn (innermost entry per pc):\n${report.join('\n')}`);
});

describe('Debian 6.1 vmlinux line tables', () => {
  const truth = dumps[0]?.truth;
  const slide = truth ? BigInt(truth.kernel.kerneloffset) : 0n;
  /** Link-time lookup addresses of drgn's crashing stack: pc for the first frame, pc − 1 for return addresses. */
  const stack = (): { address: bigint; expected: string }[] => {
    const trace = truth!.drgn.crashing_cpu_stack_trace as DrgnFrame[];
    const first = BigInt(trace[0]!.pc);
    return [...expectedByPc(trace)].map(([pc, expected]) => ({
      address: pc - slide - (pc === first ? 0n : 1n),
      expected,
    }));
  };

  it.runIf(truth)(
    'gives the full recorded path, line and column (gcc records a relative comp_dir)',
    async () => {
      const t = await DwarfLineTable.open(VMLINUX);
      try {
        expect(t.description).toMatch(
          /DWARF line tables: \.debug_line 16\.4 MB, units found through \.debug_aranges/,
        );
        // panic+0x13d − 1 (a return address): the call of __crash_kexec in panic().
        expect(await t.lookup(0xffff_ffff_81a0_1decn)).toEqual({
          found: true,
          line: { file: 'debian/build/build_amd64_none_amd64/kernel/panic.c', line: 358, column: 3 },
        });
        // An assembler unit records an absolute comp_dir and has no columns.
        expect(await t.lookup(0xffff_ffff_81c0_0125n)).toEqual({
          found: true,
          line: { file: '/build/reproducible-path/linux-6.1.192/arch/x86/entry/entry_64.S', line: 121 },
        });
        // User space and the direct map are in no unit.
        expect(await t.lookup(0x47b7a0n)).toEqual({
          found: false,
          reason: 'no compilation unit covers 0x47b7a0',
        });
      } finally {
        await t.close();
      }
    },
  );

  it.runIf(truth)('resolves the panicking stack reading well under 64 MB of the 633 MB file', async () => {
    const source = await CountingSource.open(VMLINUX);
    const started = performance.now();
    const t = await DwarfLineTable.fromSource(source);
    const got: string[] = [];
    for (const { address } of stack()) {
      const r = await t.lookup(address);
      got.push(r.found ? `${basename(r.line.file)}:${r.line.line}` : r.reason);
    }
    const ms = performance.now() - started;
    await source.close();
    expect(got).toEqual(stack().map((s) => s.expected));
    report.push(
      `  one stack (${got.length} pcs, cold): ${(source.bytesRead / 1024).toFixed(0)} KB in ${source.reads} reads of the ${(source.size / 1048576).toFixed(0)} MB vmlinux, ${ms.toFixed(0)} ms`,
    );
    expect(source.bytesRead).toBeLessThan(64 * 1024 * 1024);
    expect(source.bytesRead).toBeLessThan(4 * 1024 * 1024); // what it really takes: ≈1 MB
  });

  it.runIf(truth)(
    'without .debug_aranges, the index built from the units gives the same answers, bounded',
    async () => {
      const source = await CountingSource.open(VMLINUX);
      const started = performance.now();
      const t = await DwarfLineTable.fromSource(source, { useAranges: false });
      const got: string[] = [];
      for (const { address } of stack()) {
        const r = await t.lookup(address);
        got.push(r.found ? `${basename(r.line.file)}:${r.line.line}` : r.reason);
      }
      const ms = performance.now() - started;
      await source.close();
      expect(got).toEqual(stack().map((s) => s.expected));
      report.push(
        `  one stack without .debug_aranges (all unit headers indexed once): ${(source.bytesRead / 1048576).toFixed(1)} MB in ${source.reads} reads, ${ms.toFixed(0)} ms`,
      );
      expect(source.bytesRead).toBeLessThan(64 * 1024 * 1024);
    },
  );
});

describe.each(dumps.map((d) => [d.name, d] as const))('%s with the Debian vmlinux', (_name, ref) => {
  let k: KernelDump;
  beforeAll(async () => {
    k = await KernelDump.open(ref.path, { vmlinux: VMLINUX });
  });
  afterAll(async () => {
    await k?.close();
  });

  it("gives every kernel frame of the crashing CPU drgn's source line", async () => {
    expect(k.linesNote).toMatch(/^DWARF line tables/);
    const index = k.cpus.findIndex((c) => c.panicked);
    expect(index).toBeGreaterThanOrEqual(0);
    const started = performance.now();
    const bt = await k.backtrace(index);
    const ms = performance.now() - started;
    const expected = expectedByPc(ref.truth.drgn.crashing_cpu_stack_trace as DrgnFrame[]);
    let compared = 0;
    let matched = 0;
    const mismatches: string[] = [];
    for (const f of bt.frames) {
      const want = expected.get(f.pc);
      if (!want) continue;
      compared++;
      const ours = f.line ? `${basename(f.line.file)}:${f.line.line}` : `(none: ${f.lineProblem})`;
      if (ours === want) matched++;
      else mismatches.push(`${f.name}: ours ${ours}, drgn ${want}`);
    }
    report.push(
      `  ${ref.name}: ${matched}/${compared} frames (of ${expected.size} drgn pcs with a source) in ${ms.toFixed(0)} ms (unwind + lines)`,
    );
    expect(mismatches).toEqual([]);
    expect(compared).toBe(expected.size);
    // User-space frames get no line; kernel frames without one say why.
    for (const f of bt.frames) if (f.userMode) expect(f.line).toBeUndefined();
  });
});
