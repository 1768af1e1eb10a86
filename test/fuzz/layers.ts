/**
 * What the fuzzer does with a dump that opened: the extension point for the layers above the
 * container.
 *
 * Each layer gets every dump that opens (mutated real dumps included) and a seeded Rng. It may
 * throw a DumpError, or an error its `allows` accepts (e.g. a TranslationError from a page-table
 * walk, a MemoryError from a read that had to be complete); anything else fails the case. Invariant
 * violations go through `ctx.fail`. Time (2 s per case, loops included: source reads stop at the
 * deadline) and the largest single allocation are checked by the harness for all layers together.
 *
 * To add a layer (page-table walks and vtop/ptov, kallsyms, dmesg, unwinding): write a FuzzLayer and
 * push it onto LAYERS below.
 */
import type { Dump, ReadResult } from '../../src/dump/types';
import type { Rng } from './prng';

export interface FuzzContext {
  rng: Rng;
  /** Fail the case: an invariant of the layer does not hold. */
  fail(message: string): never;
}

export interface FuzzLayer {
  name: string;
  run(dump: Dump, ctx: FuzzContext): Promise<void>;
  /** Errors this layer may throw besides DumpError. */
  allows?(err: unknown): boolean;
}

const REASONS = new Set(['excluded', 'not-in-dump', 'truncated', 'lost', 'corrupt', 'not-mapped']);

/** Check the contract of a ReadResult: right length, gaps sorted, disjoint, in range, zero-filled. */
export function checkRead(r: ReadResult, length: number, what: string, ctx: FuzzContext): void {
  if (r.bytes.length !== length)
    ctx.fail(`${what}: ${r.bytes.length} bytes returned for ${length} requested`);
  let prevEnd = 0;
  for (const g of r.gaps) {
    if (!REASONS.has(g.reason)) ctx.fail(`${what}: unknown gap reason ${g.reason}`);
    if (!(g.length > 0) || g.offset < prevEnd || g.offset + g.length > length) {
      ctx.fail(`${what}: gap ${g.offset}+${g.length} is out of order or out of range (length ${length})`);
    }
    for (let i = g.offset; i < g.offset + g.length; i++) {
      if (r.bytes[i] !== 0) ctx.fail(`${what}: byte ${i} inside a ${g.reason} gap is not zero`);
    }
    prevEnd = g.offset + g.length;
  }
}

/** The container itself: facts readable, ranges sorted and disjoint, registers decoded. */
export const containerLayer: FuzzLayer = {
  name: 'container',
  async run(dump, ctx) {
    const ranges = dump.memory.ranges();
    for (let i = 0; i < ranges.length; i++) {
      const r = ranges[i]!;
      if (r.end <= r.start) ctx.fail(`empty or reversed physical range ${r.start}-${r.end}`);
      if (i > 0 && ranges[i - 1]!.end > r.start) ctx.fail(`physical ranges overlap or are unsorted at ${i}`);
    }
    for (const p of dump.problems) {
      if (typeof p.message !== 'string' || p.message.length === 0) ctx.fail('a problem without a message');
    }
    for (const p of dump.prstatus) {
      for (const [name, v] of p.registers) {
        if (typeof v !== 'bigint' || v < 0n) ctx.fail(`register ${name} decoded as ${String(v)}`);
      }
    }
    const ps = dump.memory.pageSize;
    if (!Number.isInteger(ps) || ps <= 0 || (ps & (ps - 1)) !== 0) ctx.fail(`page size ${ps}`);
    void dump.vmcoreinfo?.osRelease;
  },
};

/** A few physical reads: range starts and ends (straddling), inside, page-crossing, wild addresses. */
export const physicalReadsLayer: FuzzLayer = {
  name: 'physical reads',
  async run(dump, ctx) {
    const { rng } = ctx;
    const ranges = dump.memory.ranges();
    const picks: [bigint, number][] = [];
    for (const r of ranges.slice(0, 2)) {
      picks.push([r.start, 16]);
      picks.push([r.end - 8n, 32]);
    }
    if (ranges.length > 0) {
      const r = rng.pick(ranges);
      const span = r.end - r.start;
      const off = span > 0n ? BigInt(rng.int(Number(span > 1n << 52n ? 1n << 52n : span))) : 0n;
      picks.push([r.start + off, rng.pick([1, 8, 4096, 8192])]);
    }
    picks.push([0n, 64]);
    picks.push([rng.u64(), 16]);
    picks.push([(1n << 64n) - 8n, 16]); // crosses the top of the address space
    for (const [addr, len] of picks.slice(0, 8)) {
      const r = await dump.memory.read(addr, len);
      checkRead(r, len, `physical read 0x${addr.toString(16)}+${len}`, ctx);
    }
  },
};

export const LAYERS: FuzzLayer[] = [containerLayer, physicalReadsLayer];
