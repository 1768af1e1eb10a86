/**
 * Every real dump in ../shared/vmcores, whatever its format: the container, every CPU's registers,
 * VMCOREINFO and physical memory must match the reference files the real tools wrote.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDump } from '../../src/dump/open';
import type { Dump } from '../../src/dump/types';
import { hex } from '../../src/util/bytes';
import { corpus } from '../support/corpus';

const dumps = corpus();

it('the shared corpus is present', () => {
  expect(dumps.length).toBeGreaterThanOrEqual(8);
});

describe.each(dumps.map((d) => [d.name, d] as const))('%s', (_name, ref) => {
  let dump: Dump;
  beforeAll(async () => {
    dump = await openDump(ref.path);
  });
  afterAll(async () => {
    await dump?.close();
  });

  it('identifies the format and architecture', () => {
    const expected = ref.truth.format as string;
    expect(dump.format).toBe(expected.endsWith('kdump') ? 'kdump' : 'elf');
    expect(dump.container).toBe(expected.startsWith('flattened') ? 'flattened' : 'plain');
    expect(dump.arch.name).toBe(ref.truth.arch);
    if (dump.format === 'elf') {
      expect(dump.details.programHeaders).toBe(ref.truth.container.phnum);
      expect(dump.details.loadSegments).toBe(ref.truth.container.num_pt_load);
    }
  });

  it('has every note the reference lists', () => {
    expect(dump.notes.map((n) => [n.name, n.type, n.desc.length])).toEqual(
      ref.truth.notes.map((n: { name: string; type: number; descsz: number }) => [n.name, n.type, n.descsz]),
    );
  });

  it('decodes every NT_PRSTATUS: pid and every register exact', () => {
    expect(dump.prstatus.length).toBe(ref.truth.prstatus.length);
    ref.truth.prstatus.forEach((p: { pid: number; regs: Record<string, string> }, i: number) => {
      const got = dump.prstatus[i]!;
      expect(got.pid).toBe(p.pid);
      const regs = Object.fromEntries(
        [...got.registers].map(([k, v]) => [k, '0x' + v.toString(16).padStart(16, '0')]),
      );
      expect(regs).toEqual(p.regs);
    });
  });

  it('parses every VMCOREINFO key with its raw value', () => {
    expect(Object.fromEntries(dump.vmcoreinfo!.raw)).toEqual(ref.truth.vmcoreinfo);
    expect(dump.vmcoreinfo!.osRelease).toBe(ref.truth.kernel.osrelease);
    expect(dump.vmcoreinfo!.pageSize).toBe(ref.truth.kernel.pagesize);
  });

  it('reads every memory sample byte-exact by physical address', async () => {
    const samples = (ref.truth.drgn?.memory_samples ?? []).filter(
      (s: { paddr_pagewalk?: string }) => s.paddr_pagewalk,
    );
    expect(samples.length).toBeGreaterThan(10);
    for (const s of samples) {
      const { bytes, gaps } = await dump.memory.read(BigInt(s.paddr_pagewalk), 16);
      if (s.bytes === null) {
        // Not in the dump: must be reported as unavailable, never as zeros.
        expect(gaps.length, `${s.what} must be unavailable`).toBeGreaterThan(0);
        expect(['not-in-dump', 'excluded']).toContain(gaps[0]!.reason);
      } else if (s.page_in_dump && /filtered/.test(s.page_in_dump)) {
        expect(
          gaps.map((g) => g.reason),
          s.what,
        ).toEqual(['excluded']);
      } else {
        expect(gaps, s.what).toEqual([]);
        expect(hex(bytes), s.what).toBe(s.bytes_via_phys ?? s.bytes);
      }
    }
  });
});
