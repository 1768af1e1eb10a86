/**
 * `struct NAME[.MEMBER] ADDRESS` on every real dump, against the references' values: every task's
 * pid, tgid and comm as drgn's task list has them, each module's name and core size as drgn's module
 * list has them; bytes the dump lacks are said to be missing, never printed as zeros.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/adapter/commands';
import { KernelDump } from '../../src/kernel/kernelDump';
import { type CorpusDump, corpus, type DrgnTask, systemMapFor } from '../support/corpus';

const dumps = corpus();

describe.each(dumps.map((d) => [d.name, d] as const))('%s', (_name, d: CorpusDump) => {
  const tasks = (d.truth.drgn?.tasks ?? []) as DrgnTask[];
  const systemMap = d.truth.arch === 'aarch64' ? systemMapFor(d) : undefined;
  const readable = d.truth.arch === 'x86_64' || systemMap !== undefined;
  let k: KernelDump;
  const run = (line: string) => runCommand(line, { kernel: k, cpuIndex: 0 });
  beforeAll(async () => {
    k = await KernelDump.open(d.path, { systemMap });
  });
  afterAll(async () => {
    await k?.close();
  });

  it.runIf(readable && tasks.length > 0)(
    "every task's pid, tgid and comm as drgn's task list has them",
    async () => {
      for (const t of tasks) {
        expect(await run(`struct task_struct.pid ${t.task}`)).toBe(`  pid = ${t.pid},`);
        expect(await run(`struct task_struct.tgid ${t.task}`)).toBe(`  tgid = ${t.tgid},`);
        // comm is char[16]: the name, then NULs to the end, as crash prints it
        expect(await run(`struct task_struct.comm ${t.task}`)).toBe(
          `  comm = "${t.comm}${'\\000'.repeat(16 - Buffer.byteLength(t.comm))}",`,
        );
      }
      // the whole object: the same values among its top-level members, nested structs in braces
      const init = tasks.find((t) => t.pid === 1)!;
      const whole = (await run(`struct task_struct ${init.task}`)).split('\n');
      expect(whole[0]).toBe('struct task_struct {');
      expect(whole[whole.length - 1]).toBe('}');
      expect(whole).toContain('  pid = 1,');
      expect(whole).toContain(`  comm = "${init.comm}${'\\000'.repeat(16 - init.comm.length)}",`);
      expect(whole).toContain('  thread_info = {');
      const opens = whole.filter((l) => l.endsWith('{')).length;
      const closes = whole.filter((l) => /^\s*}[,]?$/.test(l)).length;
      expect(opens).toBe(closes);
    },
  );

  const modules = (d.truth.drgn?.modules ?? []) as { name: string; core_base: string; core_size: number }[];
  it.runIf(readable && modules.length > 0)(
    "each module's name and core size as drgn's module list has them",
    async () => {
      const layout = k.btf!.findMember('module', 'core_layout') ? 'core_layout' : undefined;
      for (const m of modules) {
        const mod = k.modules.find((x) => x.name === m.name)!;
        const address = `0x${mod.address.toString(16)}`;
        expect(await run(`struct module.name ${address}`)).toMatch(
          new RegExp(`^  name = "${m.name}(\\\\000)+",$`),
        );
        if (layout) {
          expect(await run(`struct module.core_layout.size ${address}`)).toBe(
            `  core_layout.size = ${m.core_size},`,
          );
          expect(await run(`struct module.core_layout.base ${address}`)).toBe(
            `  core_layout.base = ${m.core_base},`,
          );
        }
      }
    },
  );

  const missing = (
    (d.truth.drgn?.memory_samples ?? []) as { vaddr: string; bytes: string | null; region: string }[]
  ).find((s) => s.bytes === null && s.region !== 'user');
  it.runIf(readable && missing !== undefined)(
    'bytes the dump lacks are said to be missing, not printed as 0',
    async () => {
      const out = await run(`struct list_head ${missing!.vaddr}`);
      expect(out).toMatch(/^struct list_head \{\n {2}next = <[a-z-]+>,\n {2}prev = <[a-z-]+>\n\}$/);
    },
  );

  it.runIf(readable)('says what is wrong with a type or member name', async () => {
    await expect(run('struct no_such_struct 0xffffffff81000000')).rejects.toThrow(
      /has no struct or union named no_such_struct/,
    );
    await expect(run('struct task_struct.no_such_member 0xffffffff81000000')).rejects.toThrow(
      'struct task_struct has no member no_such_member',
    );
    await expect(run('struct task_struct')).rejects.toThrow('usage: struct NAME[.MEMBER] ADDRESS|SYMBOL');
  });
});
