/**
 * vmlinux ELF symbols: a real ELF executable built by gcc, checked against nm and readelf; test-built
 * vmlinux files in every class and byte order; and vmlinux files for the real dumps (made from their
 * kallsyms or System.map at link addresses, with the dump's build-id) loaded with the KASLR slide and
 * refused when the build-id, the arch or the symbols do not match.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VmcoreInfo } from '../../src/dump/vmcoreinfo';
import { KernelDump } from '../../src/kernel/kernelDump';
import { loadKallsyms } from '../../src/symbols/kallsyms';
import { SymbolMismatchError } from '../../src/symbols/relocate';
import type { KernelSymbol } from '../../src/symbols/symbolTable';
import { parseSystemMap } from '../../src/symbols/systemMap';
import { loadVmlinux, readVmlinuxSymbols, VmlinuxError } from '../../src/symbols/vmlinux';
import { corpus, systemMapFor } from '../support/corpus';
import { type OpenedKernel, openCorpusKernel } from '../support/kernelCorpus';
import { type ElfSymbolSpec, type SectionName, writeVmlinux } from '../support/vmlinuxBuilder';

const EM_X86_64 = 62;
const EM_AARCH64 = 183;
const EM_ARM = 40;
const EM_PPC64 = 21;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kdump-vmlinux-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function hasTool(cmd: string): boolean {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('a real ELF executable (gcc) against nm and readelf', () => {
  const tools = hasTool('gcc') && hasTool('nm') && hasTool('readelf');
  it.skipIf(!tools)(
    'gives the symbols, letters and sizes nm prints, and the build-id readelf prints',
    async () => {
      const src = join(dir, 'prog.c');
      writeFileSync(
        src,
        `int global_data = 5;
static int local_data = 3;
int bss_var;
static int local_bss;
const int ro_const = 7;
static const char local_ro[] = "x";
void global_fn(void) {}
static void local_fn(void) { local_bss++; }
__attribute__((weak)) void weak_fn(void) {}
__attribute__((weak)) int weak_var = 1;
int main(void) { local_fn(); return local_data + local_ro[0]; }
`,
      );
      const exe = join(dir, 'prog');
      execFileSync('gcc', ['-O0', '-no-pie', '-Wl,--build-id=sha1', '-o', exe, src]);
      const v = await readVmlinuxSymbols(exe);
      const nm = execFileSync('nm', ['--defined-only', '-S', exe], { encoding: 'utf8' });
      const want = new Set<string>();
      const sizes = new Map<string, bigint>();
      for (const line of nm.trim().split('\n')) {
        const f = line.trim().split(/\s+/);
        const [addr, size, type, name] = f.length === 4 ? f : [f[0], undefined, f[1], f[2]];
        want.add(`${BigInt(`0x${addr}`)} ${type} ${name}`);
        if (size) sizes.set(name!, BigInt(`0x${size}`));
      }
      const got = new Set(v.symbols.map((s) => `${s.address} ${s.type} ${s.name}`));
      expect([...got].sort()).toEqual([...want].sort());
      for (const s of v.symbols) if (sizes.has(s.name)) expect(s.size, s.name).toBe(sizes.get(s.name));
      for (const [name, type] of Object.entries({
        global_data: 'D',
        local_data: 'd',
        bss_var: 'B',
        local_bss: 'b',
        ro_const: 'R',
        global_fn: 'T',
        local_fn: 't',
        weak_fn: 'W',
        weak_var: 'V',
      }))
        expect(v.symbols.find((s) => s.name === name)?.type, name).toBe(type);
      const notes = execFileSync('readelf', ['-n', exe], { encoding: 'utf8' });
      expect(v.buildId).toBe(/Build ID: ([0-9a-f]+)/.exec(notes)![1]);
      expect(v.elfClass).toBe(64);
    },
  );
});

describe('test-built vmlinux files', () => {
  const symbols: ElfSymbolSpec[] = [
    { name: '_text', value: 0xffff_ffff_8100_0000n, section: '.text', type: 'notype' },
    { name: '_stext', value: 0xffff_ffff_8100_0000n, section: '.text', type: 'notype' },
    { name: 'start_kernel', value: 0xffff_ffff_8100_0100n, size: 0x80n, section: '.text' },
    { name: 'helper', value: 0xffff_ffff_8100_0200n, size: 0x10n, section: '.text', bind: 'local' },
    { name: 'weakfn', value: 0xffff_ffff_8100_0300n, section: '.text', bind: 'weak' },
    { name: 'linux_banner', value: 0xffff_ffff_8110_0000n, size: 0x100n, section: '.rodata', type: 'object' },
    { name: 'init_task', value: 0xffff_ffff_8120_0000n, size: 0x2000n, section: '.data', type: 'object' },
    {
      name: 'counter',
      value: 0xffff_ffff_8130_0000n,
      size: 8n,
      section: '.bss',
      type: 'object',
      bind: 'local',
    },
    { name: 'current_task', value: 0x1f000n, size: 8n, section: '.data..percpu', type: 'object' },
    { name: 'abs_sym', value: 0x1234n, section: 'ABS', type: 'notype' },
    { name: 'weakobj', value: 0xffff_ffff_8120_1000n, section: '.data', type: 'object', bind: 'weak' },
    { name: 'file.c', value: 0n, section: 'ABS', type: 'file', bind: 'local' },
    { name: '$x', value: 0xffff_ffff_8100_0000n, section: '.text', type: 'notype', bind: 'local' },
    { name: '.text', value: 0xffff_ffff_8100_0000n, section: '.text', type: 'section', bind: 'local' },
  ];
  const expected = {
    _stext: 'T',
    start_kernel: 'T',
    helper: 't',
    weakfn: 'W',
    linux_banner: 'R',
    init_task: 'D',
    counter: 'b',
    current_task: 'D',
    abs_sym: 'A',
    weakobj: 'V',
  };
  for (const elfClass of [64, 32] as const) {
    for (const littleEndian of [true, false]) {
      it(`ELF${elfClass} ${littleEndian ? 'LE' : 'BE'}: symbols, nm letters, sizes, build-id`, async () => {
        const syms =
          elfClass === 32 ? symbols.map((s) => ({ ...s, value: s.value & 0xffff_ffffn })) : symbols;
        const path = writeVmlinux(join(dir, `v${elfClass}${littleEndian}`), {
          elfClass,
          littleEndian,
          machine: elfClass === 32 ? EM_ARM : EM_PPC64,
          buildId: '00112233445566778899aabbccddeeff00112233',
          symbols: syms,
        });
        const v = await readVmlinuxSymbols(path);
        expect(v.elfClass).toBe(elfClass);
        expect(v.littleEndian).toBe(littleEndian);
        expect(v.buildId).toBe('00112233445566778899aabbccddeeff00112233');
        const byName = new Map(v.symbols.map((s) => [s.name, s]));
        for (const [name, type] of Object.entries(expected)) expect(byName.get(name)?.type, name).toBe(type);
        expect(byName.get('start_kernel')?.size).toBe(0x80n);
        expect(byName.get('_stext')?.size).toBeUndefined();
        expect(byName.get('start_kernel')?.address).toBe(
          elfClass === 32 ? 0x8100_0100n : 0xffff_ffff_8100_0100n,
        );
        // File, section and mapping symbols are not symbols to show.
        expect(byName.has('file.c') || byName.has('$x') || byName.has('.text')).toBe(false);
      });
    }
  }

  it('refuses stripped images, core dumps, non-ELF files and truncated files with a reason', async () => {
    const stripped = writeVmlinux(join(dir, 'stripped'), { machine: EM_X86_64, symbols: [], stripped: true });
    await expect(readVmlinuxSymbols(stripped)).rejects.toThrow(/has no \.symtab/);
    const core = writeVmlinux(join(dir, 'core'), { machine: EM_X86_64, symbols, type: 4 });
    await expect(readVmlinuxSymbols(core)).rejects.toThrow(/is an ELF core dump, not a vmlinux/);
    const text = join(dir, 'text');
    writeFileSync(text, 'ffffffff81000000 T _stext\n'.repeat(10));
    await expect(readVmlinuxSymbols(text)).rejects.toThrow(/not an ELF file.*System\.map/);
    const full = readFileSync(writeVmlinux(join(dir, 'full'), { machine: EM_X86_64, symbols }));
    const cut = join(dir, 'cut');
    writeFileSync(cut, full.subarray(0, full.length - 100));
    await expect(readVmlinuxSymbols(cut)).rejects.toThrow(VmlinuxError);
    await expect(readVmlinuxSymbols(join(dir, 'missing'))).rejects.toThrow(/cannot open .*ENOENT/);
  });
});

// ---- real dumps --------------------------------------------------------------------------------

const SECTION_BY_TYPE: Record<string, [SectionName, ElfSymbolSpec['bind'], ElfSymbolSpec['type']]> = {
  T: ['.text', 'global', 'func'],
  t: ['.text', 'local', 'func'],
  W: ['.text', 'weak', 'func'],
  D: ['.data', 'global', 'object'],
  d: ['.data', 'local', 'object'],
  V: ['.data', 'weak', 'object'],
  B: ['.bss', 'global', 'object'],
  b: ['.bss', 'local', 'object'],
  R: ['.rodata', 'global', 'object'],
  r: ['.rodata', 'local', 'object'],
  A: ['ABS', 'global', 'notype'],
  a: ['ABS', 'local', 'notype'],
};

const dumps = corpus();

/** Link-time symbols as ELF symbols (sections by nm letter), optionally moved (image symbols only). */
function elfSymbols(link: KernelSymbol[], move: (s: KernelSymbol) => bigint = () => 0n): ElfSymbolSpec[] {
  return link
    .filter((s) => SECTION_BY_TYPE[s.type])
    .map((s) => {
      const [section, bind, type] = SECTION_BY_TYPE[s.type]!;
      const percpu = (s as { percpu?: boolean }).percpu;
      const fixed = percpu || section === 'ABS';
      return {
        name: s.name,
        value: fixed ? s.address : s.address + move(s),
        section: percpu ? '.data..percpu' : section,
        bind,
        type,
      };
    });
}

describe.each(dumps.map((d) => [d.name, d] as const))('%s', (_name, ref) => {
  let k: OpenedKernel | string;
  let runtime: KernelSymbol[];
  let link: KernelSymbol[];
  let vmlinux: string;
  beforeAll(async () => {
    k = await openCorpusKernel(ref);
    if (typeof k === 'string') return;
    const vi = k.dump.vmcoreinfo!;
    const slide = vi.kernelOffset!;
    const map = systemMapFor(ref);
    if (map) {
      link = parseSystemMap(readFileSync(map, 'latin1')).symbols;
    } else {
      // From kallsyms: link address = runtime − slide in the image; x86_64 per-CPU symbols are
      // .data..percpu offsets (kallsyms shows them as absolute).
      runtime = (await loadKallsyms(k.space, vi)).all() as KernelSymbol[];
      link = runtime.map((s) =>
        s.type === 'A' ? { ...s, type: 'D', percpu: true } : { ...s, address: s.address - slide },
      ) as KernelSymbol[];
    }
    const machine = k.dump.arch.name === 'aarch64' ? EM_AARCH64 : EM_X86_64;
    vmlinux = writeVmlinux(join(dir, ref.name.replace(/\W/g, '_')), {
      machine,
      buildId: vi.buildId,
      symbols: elfSymbols(link),
    });
  });
  afterAll(async () => {
    if (typeof k !== 'string') await k?.dump.close();
  });
  const opened = (ctx: { skip: (note?: string) => never }): OpenedKernel => {
    if (typeof k === 'string') ctx.skip(k);
    return k as OpenedKernel;
  };
  const context = (o: OpenedKernel) => ({
    arch: o.dump.arch.name,
    vmcoreinfo: o.dump.vmcoreinfo,
    memory: o.space,
  });

  it('loads a matching vmlinux with the KASLR slide, checked by build-id, VMCOREINFO and linux_banner', async (ctx) => {
    const o = opened(ctx);
    const t = await loadVmlinux(vmlinux, context(o));
    expect(t.source).toBe('vmlinux');
    expect(t.description).toMatch(
      new RegExp(
        `build-id ${ref.truth.kernel.build_id ?? o.dump.vmcoreinfo!.buildId} matches.*VMCOREINFO symbols agree; linux_banner matches`,
      ),
    );
    for (const s of ref.truth.drgn?.memory_samples ?? []) {
      const m = /^symbol (\S+)/.exec(s.what);
      if (m) expect(t.lookup(m[1]!)?.address, m[1]).toBe(BigInt(s.vaddr));
    }
    if (runtime) {
      const byName = new Map(t.all().map((s) => [s.name, s.address]));
      for (const s of runtime.slice(0, 5000)) expect(byName.get(s.name), s.name).toBeDefined();
      expect(t.lookup('current_task')?.address).toBe(runtime.find((s) => s.name === 'current_task')?.address);
    }
    const f = ref.truth.drgn?.crashing_cpu_stack_trace?.[0];
    if (f) expect(t.symbolize(BigInt(f.pc))?.symbol.name).toBe(f.symbol);
  });

  it.runIf(ref.name === 'kdump-sysrq/vmcore.kdump-zstd')(
    'a vmlinux without DWARF gives symbols; source lines are a note, not an error',
    async (ctx) => {
      opened(ctx);
      const kernel = await KernelDump.open(ref.path, { vmlinux });
      try {
        expect(kernel.symbols?.source).toBe('vmlinux');
        expect(kernel.lines).toBeUndefined();
        expect(kernel.linesNote).toMatch(
          /^no source lines: .* has no DWARF line information \(missing \.debug_line/,
        );
        const bt = await kernel.backtrace(
          Math.max(
            0,
            kernel.cpus.findIndex((c) => c.panicked),
          ),
        );
        expect(bt.frames.length).toBeGreaterThan(3);
        for (const f of bt.frames) expect(f.line).toBeUndefined();
        expect((await kernel.systemInfo())['SOURCE LINES']).toBe(kernel.linesNote);
      } finally {
        await kernel.close();
      }
    },
  );

  it('refuses a vmlinux with another build-id, unless told to ignore it', async (ctx) => {
    const o = opened(ctx);
    const other = writeVmlinux(join(dir, `${ref.name.replace(/\W/g, '_')}-other`), {
      machine: o.dump.arch.name === 'aarch64' ? EM_AARCH64 : EM_X86_64,
      buildId: 'ffffffffffffffffffffffffffffffffffffffff',
      symbols: link
        .filter((s) => s.type === 'T')
        .map((s) => ({ name: s.name, value: s.address, section: '.text' as const })),
    });
    await expect(loadVmlinux(other, context(o))).rejects.toThrow(
      /does not match this dump: its build-id is f{40} but the dump's VMCOREINFO says BUILD-ID=[0-9a-f]{40}/,
    );
    const t = await loadVmlinux(other, context(o), { ignoreBuildId: true });
    expect(t.description).toContain('ignored on request');
    // Symbols are still checked: another build (everything but _stext moved) is refused.
    const shifted = writeVmlinux(join(dir, `${ref.name.replace(/\W/g, '_')}-shifted`), {
      machine: o.dump.arch.name === 'aarch64' ? EM_AARCH64 : EM_X86_64,
      symbols: elfSymbols(link, (s) => (s.name === '_stext' ? 0n : 0x1000n)),
    });
    const noOffset = new VmcoreInfo(o.dump.vmcoreinfo!.text.replace(/^KERNELOFFSET=.*$/m, ''));
    const err = await loadVmlinux(shifted, { ...context(o), vmcoreinfo: noOffset }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SymbolMismatchError);
  });

  it('refuses a vmlinux of another architecture', async (ctx) => {
    const o = opened(ctx);
    const wrong = writeVmlinux(join(dir, `${ref.name.replace(/\W/g, '_')}-arch`), {
      machine: o.dump.arch.name === 'aarch64' ? EM_X86_64 : EM_AARCH64,
      symbols: [{ name: '_stext', value: 0xffff_ffff_8100_0000n, section: '.text' }],
    });
    await expect(loadVmlinux(wrong, context(o))).rejects.toThrow(
      /is a vmlinux for (aarch64|x86_64), but the dump is/,
    );
  });
});
