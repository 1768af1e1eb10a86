/**
 * Stacks unwound from each CPU's saved registers, with no System.map or vmlinux (the dump's own
 * kallsyms and ORC), compared frame by frame with drgn's reference backtrace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KernelDump } from '../../src/kernel/kernelDump';
import { matchRate } from '../support/backtrace';
import { corpus } from '../support/corpus';

const dumps = corpus().filter((d) =>
  d.truth.drgn?.per_cpu?.some((c: { stack_trace?: unknown }) => c.stack_trace),
);

describe.each(dumps.map((d) => [d.name, d] as const))('%s', (_name, ref) => {
  let k: KernelDump;
  beforeAll(async () => {
    k = await KernelDump.open(ref.path);
  });
  afterAll(async () => {
    await k?.close();
  });

  it('has symbols from the dump itself', () => {
    expect(k.symbols?.source).toBe('kallsyms');
    expect(k.symbols!.size).toBeGreaterThan(10_000);
  });

  it('unwinds every CPU like drgn: pc and sp of every frame, ≥ 90% of function names', async () => {
    for (const pcpu of ref.truth.drgn.per_cpu as {
      cpu: number;
      stack_trace: { symbol?: string; inline?: boolean; pc: string; sp: string }[];
    }[]) {
      const index = k.cpus.findIndex((c) => c.noteIndex === pcpu.cpu);
      const bt = await k.backtrace(index >= 0 ? index : pcpu.cpu);
      const reference = pcpu.stack_trace.filter((f) => !f.inline);
      const rate = matchRate(pcpu.stack_trace, bt.frames);
      console.log(
        `${ref.name} cpu ${pcpu.cpu}: ${rate.matched}/${rate.total} frames match drgn; ours: ${bt.frames.map((f) => f.name).join(' < ')}${bt.stopReason ? ` (stopped: ${bt.stopReason})` : ''}`,
      );
      expect(rate.matched / rate.total).toBeGreaterThanOrEqual(0.9);
      // Every reference frame's pc appears; with ORC (x86_64) its stack pointer too. Frame records
      // (arm64) do not give the caller's sp.
      const withSp = ref.truth.arch === 'x86_64';
      const key = (pc: bigint, sp: bigint) =>
        withSp ? `${pc.toString(16)}@${sp.toString(16)}` : pc.toString(16);
      const ours = bt.frames.map((f) => key(f.pc, f.sp));
      for (const f of reference) expect(ours).toContain(key(BigInt(f.pc), BigInt(f.sp)));
    }
  });
});

/** Dumps drgn cannot read (QEMU's paging=false ELF): crash's backtrace of CPUs stopped in the kernel. */
const crashOnly = corpus().filter(
  (d) => !d.truth.drgn?.per_cpu?.some((c: { stack_trace?: unknown }) => c.stack_trace),
);

describe.each(crashOnly.map((d) => [d.name, d] as const))('%s (against crash)', (_name, ref) => {
  it('unwinds CPUs stopped in the kernel like crash: ≥ 90% of function names, in order', async () => {
    const k = await KernelDump.open(ref.path);
    try {
      const cpus = (
        ref.truth.summary_per_cpu as { cpu: number; mode: string; backtrace_crash: string[] }[]
      ).filter((c) => c.mode === 'kernel');
      expect(cpus.length).toBeGreaterThan(0);
      for (const c of cpus) {
        const bt = await k.backtrace(c.cpu);
        const names = c.backtrace_crash.map((n) => n.replace(/^exception RIP: /, '').replace(/\+\d+$/, ''));
        const ours = bt.frames.map((f) => ({ name: f.name, pc: f.pc }));
        const rate = matchRate(
          names.map((symbol) => ({ symbol, pc: '0x0' })),
          ours,
        );
        console.log(
          `${ref.name} cpu ${c.cpu}: ${rate.matched}/${rate.total} frames match crash; ours: ${bt.frames.map((f) => f.name).join(' < ')}`,
        );
        expect(rate.matched / rate.total).toBeGreaterThanOrEqual(0.9);
      }
    } finally {
      await k.close();
    }
  });
});
