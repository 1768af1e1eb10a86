/**
 * Loaded modules and their symbols, on every real dump: the list (struct module, name, base, size)
 * against drgn's module list and crash's `mod`; every function of each module's .text against the
 * symbol table of Debian's debug build of that very module (readelf of the .ko from the -dbg
 * package): name, type, size and placement. Then how frames, `sym`, `dis` and `mod` name module
 * addresses, and a damaged module list.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/adapter/commands';
import { KernelDump } from '../../src/kernel/kernelDump';
import { readModules } from '../../src/kernel/modules';
import { formatLocation } from '../../src/symbols/symbolTable';
import { unwind } from '../../src/unwind';
import { parseKernelVersion } from '../../src/unwind/types';
import { type CorpusDump, corpus, refFile, systemMapFor } from '../support/corpus';
import { debugModulePath } from '../support/debianKernel';
import { patchedMemory, u64le } from '../support/patchedMemory';

interface DrgnModule {
  name: string;
  core_base: string;
  core_size: number;
}

interface KoFunction {
  name: string;
  value: bigint;
  size: bigint;
}

/** The functions of a .ko's .text section, by readelf (a static name can be defined there twice). */
function koTextFunctions(ko: string): KoFunction[] {
  const sections = execFileSync('readelf', ['-SW', ko], { encoding: 'utf8' });
  const text = /^\s*\[\s*(\d+)\]\s+\.text\s/m.exec(sections);
  if (!text) throw new Error(`${ko} has no .text`);
  const symtab = execFileSync('readelf', ['-sW', ko], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return [
    ...symtab.matchAll(
      /^\s*\d+:\s+([0-9a-f]+)\s+(\d+)\s+FUNC\s+(?:LOCAL|GLOBAL|WEAK)\s+\S+\s+(\d+)\s+(\S+)$/gm,
    ),
  ]
    .filter((m) => m[3] === text[1])
    .map((m) => ({ name: m[4]!, value: BigInt(`0x${m[1]}`), size: BigInt(m[2]!) }));
}

const dumps = corpus();

describe.each(dumps.map((d) => [d.name, d] as const))('%s', (_name, d: CorpusDump) => {
  const drgn = (d.truth.drgn?.modules ?? []) as DrgnModule[];
  const systemMap = d.truth.arch === 'aarch64' ? systemMapFor(d) : undefined;
  const release = d.truth.kernel?.osrelease as string;
  let k: KernelDump;
  beforeAll(async () => {
    k = await KernelDump.open(d.path, { systemMap });
  });
  afterAll(async () => {
    await k?.close();
  });

  it.runIf(drgn.length > 0 && (d.truth.arch === 'x86_64' || systemMap))(
    "lists the modules as drgn does: name, core base and size, in the kernel's list order",
    () => {
      expect(k.modulesNote).toMatch(new RegExp(`^${drgn.length} modules from the kernel's module list`));
      expect(
        k.modules.map((m) => ({ name: m.name, core_base: `0x${m.base.toString(16)}`, core_size: m.size })),
      ).toEqual(drgn);
      for (const m of k.modules) expect(m.symbolsProblem, m.name).toBeUndefined();
    },
  );

  const crashMod = refFile(d, 'crash-mod.txt');
  it.runIf(crashMod !== undefined)("`mod` prints crash's MODULE, NAME, BASE and SIZE columns", async () => {
    const columns = (text: string) =>
      [...text.matchAll(/^([0-9a-f]{16})\s+(\S+)\s+([0-9a-f]{16})\s+(\d+)\s/gm)].map((m) =>
        m.slice(1, 5).join(' '),
      );
    const ours = await runCommand('mod', { kernel: k, cpuIndex: 0 });
    const expected = columns(crashMod!);
    expect(expected.length).toBeGreaterThan(0);
    expect(columns(ours)).toEqual(expected);
  });

  const kos = drgn.map((m) => ({ module: m.name, ko: release ? debugModulePath(release, m.name) : '' }));
  it.runIf(d.truth.arch === 'x86_64' && kos.length > 0 && kos.every((x) => existsSync(x.ko)))(
    "every function of each module's .text equals Debian's debug .ko: name, type, size, placement",
    () => {
      let compared = 0;
      for (const { module, ko } of kos) {
        const mod = k.modules.find((m) => m.name === module)!;
        const all = koTextFunctions(ko);
        const functions = all.filter((f) => all.filter((g) => g.name === f.name).length === 1);
        expect(functions.length, module).toBeGreaterThan(0);
        const ours = new Map<string, (typeof mod.symbols)[number][]>();
        for (const s of mod.symbols) ours.set(s.name, [...(ours.get(s.name) ?? []), s]);
        const anchorKo = functions[0]!;
        const anchor = ours.get(anchorKo.name)?.[0];
        expect(anchor, `${module}: ${anchorKo.name}`).toBeDefined();
        for (const f of functions) {
          const found = ours.get(f.name);
          expect(found, `${module}: ${f.name}`).toHaveLength(1);
          const s = found![0]!;
          expect(
            { type: s.type, size: s.size, offset: s.address - anchor!.address, module: s.module },
            `${module}: ${f.name}`,
            // The loader types every symbol of an executable section 't' (kernel/module/kallsyms.c
            // elf_type); only /proc/kallsyms upper-cases the exported ones when it prints them.
          ).toEqual({ type: 't', size: f.size, offset: f.value - anchorKo.value, module });
          // and that address names it back, with the module, as crash prints it (a function rather
          // than the init_module/cleanup_module alias module_init()/module_exit() give it)
          const names = all.filter((g) => g.value === f.value).map((g) => g.name);
          const own = names.filter((n) => n !== 'init_module' && n !== 'cleanup_module');
          const inside = s.address + (f.size > 1n ? 1n : 0n);
          if (own.length === 1)
            expect(formatLocation(k.symbolize(inside), inside)).toBe(
              `${own[0]}${f.size > 1n ? '+0x1' : ''} [${module}]`,
            );
          compared++;
        }
        // the module's memory starts with its first .text function (the ground truth sampled its bytes)
        const lowest = all.reduce((a, b) => (b.value < a.value ? b : a));
        expect(formatLocation(k.symbolize(mod.base), mod.base), module).toBe(`${lowest.name} [${module}]`);
      }
      console.log(`${d.name}: ${compared} module functions equal Debian's debug .ko files`);
      expect(compared).toBeGreaterThan(1000);
    },
  );

  it.runIf(d.truth.arch === 'x86_64' && kos.length > 0 && kos.every((x) => existsSync(x.ko)))(
    "each module's ORC entries in memory are its .ko's .orc_unwind section (sorted by the loader), on its text",
    async () => {
      for (const { module, ko } of kos) {
        const mod = k.modules.find((m) => m.name === module)!;
        const section = (name: string) => {
          const m = new RegExp(
            `^\\s*\\[\\s*\\d+\\]\\s+${name.replaceAll('.', '\\.')}\\s+\\S+\\s+[0-9a-f]+\\s+([0-9a-f]+)\\s+([0-9a-f]+)\\s`,
            'm',
          ).exec(execFileSync('readelf', ['-SW', ko], { encoding: 'utf8' }));
          return m
            ? readFileSync(ko).subarray(parseInt(m[1]!, 16), parseInt(m[1]!, 16) + parseInt(m[2]!, 16))
            : undefined;
        };
        const entries = section('.orc_unwind');
        const ips = section('.orc_unwind_ip');
        if (!entries) {
          expect(mod.code.orc, module).toBeUndefined();
          continue;
        }
        expect(mod.code.orc?.count, module).toBe(entries.length / 6);
        expect(ips!.length / 4, module).toBe(entries.length / 6);
        const inMemory = await k.space.read(mod.code.orc!.entryTable, entries.length);
        expect(inMemory.gaps, module).toEqual([]);
        const records = (b: Uint8Array) =>
          Array.from({ length: b.length / 6 }, (_, i) =>
            Buffer.from(b.subarray(i * 6, i * 6 + 6)).toString('hex'),
          ).sort();
        expect(records(inMemory.bytes), module).toEqual(records(entries));
        // every ip is relative to its own slot; the loader sorted them (init code, freed since, sorts
        // apart from the core text); the module's first function has an entry at its first byte
        const ipBytes = await k.space.read(mod.code.orc!.ipTable, ips!.length);
        const view = new DataView(ipBytes.bytes.buffer, ipBytes.bytes.byteOffset);
        const all = Array.from(
          { length: ips!.length / 4 },
          (_, i) => mod.code.orc!.ipTable + BigInt(i * 4) + BigInt(view.getInt32(i * 4, true)),
        );
        expect(
          all.every((ip, i) => i === 0 || ip >= all[i - 1]!),
          `${module}: sorted`,
        ).toBe(true);
        expect(all.includes(mod.code.start), `${module}: an entry at ${mod.code.start.toString(16)}`).toBe(
          true,
        );
        expect(all.filter((ip) => ip >= mod.code.start && ip < mod.code.end).length, module).toBeGreaterThan(
          0,
        );
      }
    },
  );

  it.runIf(d.truth.arch === 'x86_64' && drgn.some((m) => m.name === 'qemu_fw_cfg'))(
    "a CPU stopped in a module function unwinds through the module's ORC into the real stack below it",
    async () => {
      // The panicking CPU's real stack, and a module function entered from one of its frames: at the
      // entry the return address is the word just below that frame's sp, already on the real stack.
      // (the panicking CPU's, or on a dump without a panic the first CPU stopped deep enough in the kernel)
      const order = [...k.cpus.keys()].sort(
        (a, b) => Number(k.cpus[b]!.panicked) - Number(k.cpus[a]!.panicked),
      );
      let cpu = -1;
      let real: Awaited<ReturnType<KernelDump['backtrace']>>['frames'] = [];
      let j = -1;
      for (const c of order) {
        real = (await k.backtrace(c)).frames;
        j = real.findIndex((f, i) => i >= 2 && f.source === 'orc' && f.reliable);
        if (j > 0) {
          cpu = c;
          break;
        }
      }
      expect(j, 'a CPU with two ORC frames').toBeGreaterThan(0);
      const fn = k.modules
        .find((m) => m.name === 'qemu_fw_cfg')!
        .symbols.find((s) => s.name === 'fw_cfg_sysfs_attr_show')!;
      const registers = new Map(k.cpus[cpu]!.registers);
      registers.set('rip', fn.address);
      registers.set('rsp', real[j]!.sp - 8n);
      registers.set('rbp', real[j]!.registers.get('rbp')!);
      const ctx = {
        arch: k.arch,
        memory: k.space,
        symbols: k.symbols,
        symbolizer: k,
        kernelVersion: parseKernelVersion(k.osRelease),
      };
      const through = await unwind({ ...ctx, modules: k.modules.map((m) => m.code) }, registers);
      expect(formatLocation(k.symbolize(through.frames[0]!.pc), through.frames[0]!.pc)).toBe(
        'fw_cfg_sysfs_attr_show [qemu_fw_cfg]',
      );
      const below = real
        .slice(j)
        .map((f) => ({ pc: f.pc, sp: f.sp, source: f.source, reliable: f.reliable }));
      expect(
        through.frames.slice(1).map((f) => ({ pc: f.pc, sp: f.sp, source: f.source, reliable: f.reliable })),
      ).toEqual(below);
      // Without the module's ORC the same registers give only a scan of the stack, marked uncertain.
      const blind = await unwind(ctx, registers);
      expect(blind.frames.slice(1).every((f) => !f.reliable)).toBe(true);
    },
  );

  it.runIf(drgn.some((m) => m.name === 'qemu_fw_cfg') && (d.truth.arch === 'x86_64' || systemMap))(
    '`sym` and `dis` name module code as crash does, "function+0xoff [module]"',
    async () => {
      const mod = k.modules.find((m) => m.name === 'qemu_fw_cfg')!;
      const fn = mod.symbols.find((s) => s.name === 'fw_cfg_sysfs_attr_show')!;
      const hex = fn.address.toString(16);
      const ctx = { kernel: k, cpuIndex: 0 };
      expect(await runCommand('sym fw_cfg_sysfs_attr_show', ctx)).toBe(
        `${hex} (t) fw_cfg_sysfs_attr_show [qemu_fw_cfg]`,
      );
      expect(await runCommand(`sym ${(fn.address + 4n).toString(16)}`, ctx)).toBe(
        `${(fn.address + 4n).toString(16)} (t) fw_cfg_sysfs_attr_show+0x4 [qemu_fw_cfg]`,
      );
      const dis = (await runCommand('dis fw_cfg_sysfs_attr_show 3', ctx)).split('\n');
      expect(dis).toHaveLength(3);
      expect(dis[0]).toMatch(new RegExp(`^0x${hex} <fw_cfg_sysfs_attr_show \\[qemu_fw_cfg\\]>\\s`));
    },
  );
});

describe.runIf(dumps.some((d) => d.name === 'kdump-sysrq/vmcore.elf-d31'))('a damaged module list', () => {
  let k: KernelDump;
  beforeAll(async () => {
    k = await KernelDump.open(dumps.find((d) => d.name === 'kdump-sysrq/vmcore.elf-d31')!.path);
  });
  afterAll(async () => {
    await k?.close();
  });
  const listOffset = () => k.btf!.memberOffset('module', 'list');

  it('a list that loops back stops with the modules read so far and says so', async () => {
    const [first, second] = k.modules;
    // the second module's list.next points back at the first
    const mem = patchedMemory(
      k.space,
      new Map([[second!.address + BigInt(listOffset()), u64le(first!.address + BigInt(listOffset()))]]),
    );
    const r = await readModules(mem, k.symbols, k.btf);
    expect(r.modules.map((m) => m.name)).toEqual([first!.name, second!.name]);
    expect(r.note).toBe('the module list loops or is damaged after 2 modules; those are shown');
  });

  it('an absurd symbol count is refused for that module only; the list goes on', async () => {
    const ext4 = k.modules.find((m) => m.name === 'ext4')!;
    const ks = await k.space.read(ext4.address + BigInt(k.btf!.memberOffset('module', 'kallsyms')), 8);
    const kallsyms = new DataView(ks.bytes.buffer, ks.bytes.byteOffset).getBigUint64(0, true);
    const count = new Uint8Array([0xff, 0xff, 0xff, 0x7f]);
    const mem = patchedMemory(
      k.space,
      new Map([[kallsyms + BigInt(k.btf!.memberOffset('mod_kallsyms', 'num_symtab')), count]]),
    );
    const r = await readModules(mem, k.symbols, k.btf);
    expect(r.modules).toHaveLength(k.modules.length);
    const bad = r.modules.find((m) => m.name === 'ext4')!;
    expect(bad.symbols).toEqual([]);
    expect(bad.symbolsProblem).toBe('ext4: 2147483647 symbols is not a symbol table');
    expect(r.note).toMatch(/; 1 without readable symbols$/);
    expect(r.modules.find((m) => m.name === 'jbd2')!.symbols.length).toBe(
      k.modules.find((m) => m.name === 'jbd2')!.symbols.length,
    );
  });

  it('a list pointer into memory that is not in the dump ends the list with the reason', async () => {
    const [first] = k.modules;
    const mem = patchedMemory(
      k.space,
      new Map([[first!.address + BigInt(listOffset()), u64le(0xffffffffc0fff000n)]]),
    );
    const r = await readModules(mem, k.symbols, k.btf);
    expect(r.modules.map((m) => m.name)).toEqual([first!.name]);
    expect(r.note).toMatch(
      /^the module list breaks after 1 modules: cannot read module name at 0xffffffffc0fff/,
    );
  });

  it('without BTF or the symbol "modules" there is no list, and the note says which', async () => {
    expect((await readModules(k.space, k.symbols, undefined, 'no .BTF')).note).toBe(
      "the module list needs the kernel's BTF, and none was found: no .BTF",
    );
    expect((await readModules(k.space, undefined, k.btf)).note).toMatch(
      /^the module list needs the symbol "modules", which is not in any symbol table/,
    );
  });
});
