/**
 * The crashing CPU's stack in the debug adapter with each symbol source: the dump's own kallsyms
 * (no files), a System.map, and Debian's debug vmlinux; matched against drgn's backtrace. And the
 * launch error when a symbol file does not belong to the dump.
 */
import type { DebugClient } from '@vscode/debugadapter-testsupport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matchRate } from '../support/backtrace';
import { corpus, systemMapFor, VMCORES } from '../support/corpus';
import { launchDump, startAdapter, VSCODE_CLIENT } from '../support/dapClient';
import { systemMapPath, vmlinuxPath } from '../support/debianKernel';

interface Setup {
  label: string;
  args: (d: ReturnType<typeof corpus>[number]) => Record<string, string> | undefined;
  goal: number;
}

const SETUPS: Setup[] = [
  { label: 'no System.map or vmlinux (kallsyms and ORC from the dump)', args: () => ({}), goal: 0.9 },
  {
    label: 'System.map',
    args: (d) => {
      const map = d.truth.arch === 'x86_64' ? systemMapPath(d.truth.kernel.osrelease) : systemMapFor(d);
      return map ? { systemMap: map } : undefined;
    },
    goal: 0.95,
  },
  {
    label: 'vmlinux',
    args: (d) => (d.truth.arch === 'x86_64' ? { vmlinux: vmlinuxPath(d.truth.kernel.osrelease) } : undefined),
    goal: 0.95,
  },
];

const dumps = corpus().filter((d) => d.truth.drgn?.crashing_cpu_stack_trace);
const rates: string[] = [];

afterAll(() => {
  console.log(`crashing-CPU frame match with drgn:\n${rates.join('\n')}`);
});

for (const setup of SETUPS) {
  describe.each(dumps.filter((d) => setup.args(d)).map((d) => [d.name, d] as const))(
    `%s with ${setup.label}`,
    (_name, ref) => {
      let dc: DebugClient;
      beforeAll(async () => {
        dc = await startAdapter();
        await launchDump(dc, { vmcore: ref.path, ...setup.args(ref) });
      });
      afterAll(async () => {
        await dc?.stop();
      });

      it(`names ≥ ${setup.goal * 100}% of the crashing CPU's frames as drgn does`, async () => {
        const threads = (await dc.threadsRequest()).body.threads;
        const panicCpu = ref.truth.crash_summary.panic_cpu;
        const thread = threads.find((t) => t.name.startsWith(`CPU ${panicCpu} `)) ?? threads[0]!;
        const frames = (await dc.stackTraceRequest({ threadId: thread.id })).body.stackFrames;
        const ours = frames.map((f) => ({
          name: f.name.replace(/^\? /, ''),
          pc: BigInt(f.instructionPointerReference!),
        }));
        const rate = matchRate(ref.truth.drgn.crashing_cpu_stack_trace, ours);
        rates.push(`  ${ref.name} with ${setup.label}: ${rate.matched}/${rate.total}`);
        expect(rate.matched / rate.total).toBeGreaterThanOrEqual(setup.goal);
      });

      // drgn's `source` is basename:line of the innermost location at a pc (its first entry there,
      // an inlined callee when there is one), which is what the line table gives.
      it(
        setup.label === 'vmlinux'
          ? "frames carry drgn's file name and line (the vmlinux has DWARF)"
          : 'frames carry no source (no DWARF)',
        async () => {
          const threads = (await dc.threadsRequest()).body.threads;
          const panicCpu = ref.truth.crash_summary.panic_cpu;
          const thread = threads.find((t) => t.name.startsWith(`CPU ${panicCpu} `)) ?? threads[0]!;
          const frames = (await dc.stackTraceRequest({ threadId: thread.id })).body.stackFrames;
          if (setup.label !== 'vmlinux') {
            for (const f of frames) {
              expect(f.source).toBeUndefined();
              expect(f.line).toBe(0);
            }
            return;
          }
          const expected = new Map<bigint, string>();
          for (const f of ref.truth.drgn.crashing_cpu_stack_trace as { pc: string; source?: string }[]) {
            if (f.source && !expected.has(BigInt(f.pc))) expected.set(BigInt(f.pc), f.source);
          }
          const compared = frames.flatMap((f) => {
            const want = expected.get(BigInt(f.instructionPointerReference!));
            return want ? [{ ours: `${f.source?.name}:${f.line}`, want }] : [];
          });
          expect(compared.length).toBe(expected.size);
          expect(compared.map((c) => c.ours)).toEqual(compared.map((c) => c.want));
          // The Debian build paths are not on this machine: placeholders, de-emphasized, never a `path`.
          for (const f of frames.filter((x) => x.source)) {
            expect(f.source).toMatchObject({
              presentationHint: 'deemphasize',
              origin: /^not on this machine: /,
            });
            expect(f.source!.path).toBeUndefined();
            expect(f.source!.sourceReference).toBeGreaterThan(0);
          }
        },
      );
    },
  );
}

describe('symbol files that do not belong to the dump', () => {
  let dc: DebugClient;
  beforeAll(async () => {
    dc = await startAdapter();
    await dc.initializeRequest(VSCODE_CLIENT);
  });
  afterAll(async () => {
    await dc?.stop();
  });
  const x86 = corpus().find((d) => d.truth.arch === 'x86_64')!;
  const arm = corpus().find((d) => d.truth.arch === 'aarch64');

  it('a placeholder System.map is refused, naming the attribute', async () => {
    await expect(
      dc.launchRequest({
        vmcore: x86.path,
        systemMap: `${VMCORES}/kernel/System.map-6.1.0-56-amd64`,
      } as never),
    ).rejects.toThrow(/^systemMap: .*not a System.map/);
  });

  it.runIf(arm)("another architecture's System.map is refused", async () => {
    await expect(
      dc.launchRequest({ vmcore: x86.path, systemMap: systemMapFor(arm!)! } as never),
    ).rejects.toThrow(/^systemMap: /);
  });
});
