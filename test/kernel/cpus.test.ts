/**
 * The panic CPU and the CPU number of every NT_PRSTATUS note: real dumps against the ground truth
 * (drgn's panic_cpu and per-CPU summary), and test-built crash_notes buffers with CPUs missing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PrStatus } from '../../src/dump/types';
import { VmcoreInfo } from '../../src/dump/vmcoreinfo';
import { mapNotesToCpus, readPanicCpu } from '../../src/kernel/cpus';
import { loadKallsyms } from '../../src/symbols/kallsyms';
import { SymbolTable } from '../../src/symbols/symbolTable';
import { loadSystemMap } from '../../src/symbols/systemMap';
import { corpus, systemMapFor } from '../support/corpus';
import { type OpenedKernel, openCorpusKernel } from '../support/kernelCorpus';
import { Bytes, TestVirtualMemory } from '../support/virtualMemory';

const dumps = corpus();

describe.each(dumps.map((d) => [d.name, d] as const))('%s', (_name, ref) => {
  let k: OpenedKernel | string;
  let kallsyms: SymbolTable;
  let best: SymbolTable;
  beforeAll(async () => {
    k = await openCorpusKernel(ref);
    if (typeof k === 'string') return;
    kallsyms = await loadKallsyms(k.space, k.dump.vmcoreinfo);
    const map = systemMapFor(ref);
    best = map
      ? await loadSystemMap(map, { arch: k.dump.arch.name, vmcoreinfo: k.dump.vmcoreinfo, memory: k.space })
      : kallsyms;
  });
  afterAll(async () => {
    if (typeof k !== 'string') await k?.dump.close();
  });
  const opened = (ctx: { skip: (note?: string) => never }): OpenedKernel => {
    if (typeof k === 'string') ctx.skip(k);
    return k as OpenedKernel;
  };
  const input = (o: OpenedKernel) => ({
    arch: o.dump.arch.name,
    vmcoreinfo: o.dump.vmcoreinfo,
    prstatus: o.dump.prstatus,
  });

  it('reads panic_cpu as the ground truth has it', async (ctx) => {
    const o = opened(ctx);
    const got = await readPanicCpu(o.space, best);
    expect(got.cpu).toBe(ref.truth.crash_summary.panic_cpu);
    expect(got.cpu).toBe(ref.truth.drgn.panic_cpu);
    if (got.cpu === -1) expect(got.note).toMatch(/no CPU panicked/);
  });

  it('maps every NT_PRSTATUS note to the CPU the ground truth says', async (ctx) => {
    const o = opened(ctx);
    const m = await mapNotesToCpus(input(o), o.space, best);
    expect(m.method).toBe(o.dump.vmcoreinfo?.crashTime === undefined ? 'pid' : 'crash_notes');
    expect(m.cpus.every((c) => c !== undefined)).toBe(true);
    const perCpu = ref.truth.summary_per_cpu as {
      cpu: number;
      prstatus_pid: number;
      rip?: string;
      pc?: string;
    }[];
    expect(perCpu.length).toBe(o.dump.prstatus.length);
    for (const c of perCpu) {
      const i = m.cpus.indexOf(c.cpu);
      expect(i, `cpu ${c.cpu}`).toBeGreaterThanOrEqual(0);
      const note = o.dump.prstatus[i]!;
      expect(note.pid, `cpu ${c.cpu}`).toBe(c.prstatus_pid);
      expect(note.registers.get(o.dump.arch.pc), `cpu ${c.cpu}`).toBe(BigInt((c.rip ?? c.pc)!));
    }
  });

  it('says plainly when the symbols cannot give the CPU numbers', async (ctx) => {
    const o = opened(ctx);
    if (kallsyms.lookup('crash_notes')) ctx.skip('kallsyms has crash_notes (CONFIG_KALLSYMS_ALL)');
    const m = await mapNotesToCpus(input(o), o.space, kallsyms);
    if (o.dump.vmcoreinfo?.crashTime === undefined) return; // QEMU numbering needs no symbols
    expect(m.method).toBe('unknown');
    expect(m.cpus.every((c) => c === undefined)).toBe(true);
    expect(m.note).toMatch(
      /CPU numbers cannot be determined: crash_notes and __per_cpu_offset are not in the symbol table .*System\.map or vmlinux/,
    );
    const p = await readPanicCpu(o.space, kallsyms);
    expect(p.cpu).toBeUndefined();
    expect(p.note).toMatch(/panic_cpu is not in the symbol table.*CONFIG_KALLSYMS_ALL/);
  });
});

// ---- test-built crash_notes --------------------------------------------------------------------

const CRASH_NOTES = 0xffff_ffff_8250_0000n;
const PER_CPU_OFFSET = 0xffff_ffff_8260_0000n;
const NR_CPU_IDS = 0xffff_ffff_8250_2000n;
const PANIC_CPU = 0xffff_ffff_8250_3000n;
const PERCPU_BASE = 0xffff_8880_1000_0000n;
const PERCPU_STRIDE = 0x40000n;
const NOTES_PTR = 0x1e000n; // a per-CPU offset, like alloc_percpu() returns on x86_64

function desc(pid: number, salt: number): Uint8Array {
  const b = new Bytes(336).u32(32, pid);
  for (let i = 112; i < 328; i += 8) b.u64(i, BigInt(salt * 1000 + i));
  return b.bytes;
}

function note(d: Uint8Array): Uint8Array {
  const b = new Bytes(12 + 8 + d.length + 12);
  b.u32(0, 5).u32(4, d.length).u32(8, 1).ascii(12, 'CORE\0');
  b.bytes.set(d, 20);
  return b.bytes;
}

function prstatus(d: Uint8Array, noteIndex: number): PrStatus {
  return { noteIndex, pid: new DataView(d.buffer).getUint32(32, true), registers: new Map(), desc: d };
}

function crashSetup(cpuNotes: (Uint8Array | undefined)[], panicCpu = 2) {
  const mem = new TestVirtualMemory();
  mem.map(CRASH_NOTES, new Bytes(8).u64(0, NOTES_PTR).bytes);
  const offs = new Bytes(8 * 8192);
  cpuNotes.forEach((n, cpu) => {
    offs.u64(cpu * 8, PERCPU_BASE + BigInt(cpu) * PERCPU_STRIDE);
    mem.map(PERCPU_BASE + BigInt(cpu) * PERCPU_STRIDE + NOTES_PTR, n ? note(n) : new Uint8Array(512));
  });
  mem.map(PER_CPU_OFFSET, offs.bytes);
  mem.map(NR_CPU_IDS, new Bytes(4).u32(0, cpuNotes.length).bytes);
  mem.map(PANIC_CPU, new Bytes(4).s32(0, panicCpu).bytes);
  const symbols = new SymbolTable(
    [
      { name: 'crash_notes', address: CRASH_NOTES, type: 'B' },
      { name: '__per_cpu_offset', address: PER_CPU_OFFSET, type: 'D' },
      { name: 'nr_cpu_ids', address: NR_CPU_IDS, type: 'D' },
      { name: 'panic_cpu', address: PANIC_CPU, type: 'D' },
    ],
    'System.map',
  );
  return { mem, symbols };
}

const crashed = new VmcoreInfo('OSRELEASE=6.1.0\nCRASHTIME=1795323046\n');

describe('crash_notes mapping (test-built)', () => {
  it('finds the real CPU of each note when CPUs are missing from the note order', async () => {
    const d0 = desc(136, 0);
    const d2 = desc(0, 2);
    const d3 = desc(0, 3); // two idle CPUs: same pid, different registers
    const { mem, symbols } = crashSetup([d0, undefined, d2, d3]);
    const m = await mapNotesToCpus(
      { arch: 'x86_64', vmcoreinfo: crashed, prstatus: [prstatus(d0, 0), prstatus(d2, 1), prstatus(d3, 2)] },
      mem,
      symbols,
    );
    expect(m).toEqual({
      cpus: [0, 2, 3],
      method: 'crash_notes',
      note: 'CPU numbers from the per-CPU crash_notes buffers',
    });
    expect(await readPanicCpu(mem, symbols)).toMatchObject({ cpu: 2 });
  });

  it('a note that matches no buffer stays unknown, said so', async () => {
    const d0 = desc(1, 0);
    const { mem, symbols } = crashSetup([d0, desc(2, 1)]);
    const m = await mapNotesToCpus(
      { arch: 'x86_64', vmcoreinfo: crashed, prstatus: [prstatus(d0, 0), prstatus(desc(9, 9), 1)] },
      mem,
      symbols,
    );
    expect(m.cpus).toEqual([0, undefined]);
    expect(m.note).toMatch(/1 note\(s\) match no CPU's buffer and stay unknown/);
  });

  it('without symbols, or with a NULL crash_notes, the numbers are unknown', async () => {
    const d0 = desc(1, 0);
    const input = { arch: 'x86_64' as const, vmcoreinfo: crashed, prstatus: [prstatus(d0, 0)] };
    const { mem, symbols } = crashSetup([d0]);
    expect((await mapNotesToCpus(input, mem, undefined)).note).toMatch(/cannot be determined: no symbols/);
    mem.map(CRASH_NOTES - 0x100n, new Uint8Array(8));
    const nullSyms = new SymbolTable(
      [
        ...symbols.all().filter((s) => s.name !== 'crash_notes'),
        { name: 'crash_notes', address: CRASH_NOTES - 0x100n, type: 'B' },
      ],
      'System.map',
    );
    expect((await mapNotesToCpus(input, mem, nullSyms)).note).toMatch(/crash_notes is NULL/);
    expect(await readPanicCpu(mem, undefined)).toMatchObject({ cpu: undefined });
  });

  it('QEMU and s390 number notes pid = CPU + 1; other pids are not guessed at', async () => {
    const qemu = new VmcoreInfo('OSRELEASE=6.1.0\n');
    const mem = new TestVirtualMemory();
    const m = await mapNotesToCpus(
      { arch: 'x86_64', vmcoreinfo: qemu, prstatus: [prstatus(desc(1, 0), 0), prstatus(desc(3, 1), 1)] },
      mem,
      undefined,
    );
    expect(m).toMatchObject({ cpus: [0, 2], method: 'pid' });
    const s390 = await mapNotesToCpus(
      { arch: 's390x', vmcoreinfo: crashed, prstatus: [prstatus(desc(2, 0), 0)] },
      mem,
      undefined,
    );
    expect(s390).toMatchObject({ cpus: [1], method: 'pid' });
    const dup = await mapNotesToCpus(
      { arch: 'x86_64', vmcoreinfo: qemu, prstatus: [prstatus(desc(0, 0), 0), prstatus(desc(0, 1), 1)] },
      mem,
      undefined,
    );
    expect(dup.method).toBe('unknown');
    expect(dup.note).toMatch(/not the CPU numbers \+ 1 that QEMU writes/);
  });

  it('panic_cpu: -1, garbage and unreadable memory', async () => {
    const { mem, symbols } = crashSetup([desc(1, 0)], -1);
    expect(await readPanicCpu(mem, symbols)).toEqual({ cpu: -1, note: 'panic_cpu is -1: no CPU panicked' });
    mem.map(PANIC_CPU + 0x100n, new Bytes(4).s32(0, 123456).bytes);
    const garbage = new SymbolTable(
      [{ name: 'panic_cpu', address: PANIC_CPU + 0x100n, type: 'D' }],
      'System.map',
    );
    expect((await readPanicCpu(mem, garbage)).note).toMatch(/reads 123456, not a CPU number/);
    const nowhere = new SymbolTable(
      [{ name: 'panic_cpu', address: 0xffff_ffff_9000_0000n, type: 'D' }],
      'System.map',
    );
    expect(await readPanicCpu(mem, nowhere)).toMatchObject({
      cpu: undefined,
      note: expect.stringMatching(/cannot be read.*not-mapped/),
    });
  });
});
