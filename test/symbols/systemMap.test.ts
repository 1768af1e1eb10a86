/**
 * System.map with the KASLR slide: the real arm64 System.map against its dump (and kallsyms), refusals
 * of maps that do not belong to the dump (the x86_64 placeholder, another arch's map, a map of another
 * build), and the "kernel image only" rule on x86_64 (per-CPU and absolute symbols stay put).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VmcoreInfo } from '../../src/dump/vmcoreinfo';
import { loadKallsyms } from '../../src/symbols/kallsyms';
import { SymbolMismatchError } from '../../src/symbols/relocate';
import type { SymbolTable } from '../../src/symbols/symbolTable';
import {
  loadSystemMap,
  parseSystemMap,
  SystemMapError,
  systemMapFromText,
} from '../../src/symbols/systemMap';
import { corpus, systemMapFor, VMCORES } from '../support/corpus';
import { type OpenedKernel, openCorpusKernel } from '../support/kernelCorpus';

const dumps = corpus();
const X86_PLACEHOLDER = join(VMCORES, 'kernel', 'System.map-6.1.0-56-amd64');

it('the corpus has a dump with a real System.map', () => {
  expect(dumps.filter((d) => systemMapFor(d)).length).toBeGreaterThanOrEqual(1);
});

describe.each(dumps.map((d) => [d.name, d] as const))('%s', (_name, ref) => {
  let k: OpenedKernel | string;
  let kallsyms: SymbolTable;
  const mapPath = systemMapFor(ref);
  beforeAll(async () => {
    k = await openCorpusKernel(ref);
    if (typeof k !== 'string') kallsyms = await loadKallsyms(k.space, k.dump.vmcoreinfo);
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

  it.skipIf(!mapPath)('loads its System.map with the KASLR slide and agrees with kallsyms', async (ctx) => {
    const o = opened(ctx);
    const map = await loadSystemMap(mapPath!, context(o));
    expect(map.source).toBe('System.map');
    expect(map.description).toMatch(
      /KERNELOFFSET=[0-9a-f]+; \d+ VMCOREINFO symbols agree; linux_banner matches/,
    );
    const byName = new Map<string, bigint[]>();
    for (const s of map.all()) byName.set(s.name, [...(byName.get(s.name) ?? []), s.address]);
    let same = 0;
    for (const s of kallsyms.all()) {
      expect(byName.get(s.name), s.name).toContain(s.address);
      same++;
    }
    expect(same).toBe(kallsyms.size);
    expect(map.size).toBeGreaterThan(kallsyms.size); // data symbols too
    // The ground truth's own symbol addresses (drgn with the debug vmlinux).
    for (const [name, addr] of Object.entries((ref.truth.drgn?.symbols ?? {}) as Record<string, string>))
      expect(map.lookup(name)?.address, name).toBe(BigInt(addr));
    const pc = BigInt(ref.truth.drgn.crashing_cpu_stack_trace[0].pc);
    expect(map.symbolize(pc)?.symbol.name).toBe(ref.truth.drgn.crashing_cpu_stack_trace[0].symbol);
  });

  it.skipIf(!mapPath)('refuses its System.map when one symbol moved (another build)', async (ctx) => {
    const o = opened(ctx);
    const text = readFileSync(mapPath!, 'latin1');
    const moved = text.replace(
      /^([0-9a-f]+)( [A-Za-z] init_uts_ns)$/m,
      (_m, a: string, rest: string) => (BigInt(`0x${a}`) + 0x40n).toString(16).padStart(16, '0') + rest,
    );
    expect(moved).not.toBe(text);
    await expect(systemMapFromText(moved, context(o), 'other.map')).rejects.toThrow(
      /other\.map does not match this dump: init_uts_ns is at 0x[0-9a-f]+ .*SYMBOL\(init_uts_ns\)/,
    );
    // A map whose linux_banner is elsewhere fails the banner check even without VMCOREINFO symbols.
    const banner = text.replace(
      /^([0-9a-f]+)( [A-Za-z] linux_banner)$/m,
      (_m, a: string, rest: string) => (BigInt(`0x${a}`) + 0x100n).toString(16).padStart(16, '0') + rest,
    );
    const noSymbols = new VmcoreInfo(
      [...o.dump.vmcoreinfo!.raw]
        .filter(([key]) => !key.startsWith('SYMBOL(') || key === 'SYMBOL(_stext)')
        .map(([a, b]) => `${a}=${b}\n`)
        .join(''),
    );
    await expect(
      systemMapFromText(banner, { ...context(o), vmcoreinfo: noSymbols }, 'other.map'),
    ).rejects.toThrow(/linux_banner at 0x[0-9a-f]+ reads .*not "Linux version 6\.1\.0-56-arm64/);
  });

  it.skipIf(!mapPath)('finds the slide from SYMBOL(_stext) when KERNELOFFSET is missing', async (ctx) => {
    const o = opened(ctx);
    const noOffset = new VmcoreInfo(o.dump.vmcoreinfo!.text.replace(/^KERNELOFFSET=.*$/m, ''));
    expect(noOffset.kernelOffset).toBeUndefined();
    const map = await loadSystemMap(mapPath!, { ...context(o), vmcoreinfo: noOffset });
    expect(map.description).toContain('SYMBOL(_stext) − link address of _stext');
    expect(map.lookup('panic')?.address).toBe(kallsyms.lookup('panic')?.address);
  });

  it('refuses the x86_64 placeholder System.map, saying what it is', async (ctx) => {
    const o = opened(ctx);
    await expect(loadSystemMap(X86_PLACEHOLDER, context(o))).rejects.toThrow(
      /is not a System\.map: 0 of 1 lines .*The real System\.map is in the linux-image-<version>-dbg package/,
    );
  });

  it('refuses a System.map of another kernel', async (ctx) => {
    const o = opened(ctx);
    const others = dumps.map((d) => systemMapFor(d)).filter((p): p is string => !!p && p !== mapPath);
    if (others.length === 0) ctx.skip('no System.map of another kernel in the corpus');
    for (const other of new Set(others)) {
      const err = await loadSystemMap(other, context(o)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SymbolMismatchError);
      expect((err as Error).message).toMatch(/does not match this dump/);
    }
  });

  it.runIf(ref.truth.arch === 'x86_64')(
    'moves only kernel-image addresses on x86_64 (per-CPU and absolute stay)',
    async (ctx) => {
      const o = opened(ctx);
      const slide = o.dump.vmcoreinfo!.kernelOffset!;
      const image = 0xffff_ffff_8000_0000n;
      // A System.map as the build writes it: link addresses; per-CPU symbols are small offsets ('D').
      const lines: string[] = [];
      for (const s of kallsyms.all()) {
        const link = s.address >= image + slide ? s.address - slide : s.address;
        const type = s.type === 'A' ? 'D' : s.type;
        lines.push(`${link.toString(16).padStart(16, '0')} ${type} ${s.name}`);
      }
      lines.push('ffffffff81000000 A absolute_in_image_range');
      const map = await systemMapFromText(lines.join('\n'), context(o), 'synthetic.map');
      expect(map.lookup('absolute_in_image_range')?.address).toBe(0xffff_ffff_8100_0000n);
      for (const name of [
        'fixed_percpu_data',
        'cpu_tss_rw',
        'current_task',
        'panic',
        'init_task',
        '_stext',
      ]) {
        const want = kallsyms.lookup(name);
        if (want) expect(map.lookup(name)?.address, name).toBe(want.address);
      }
      expect(map.lookup('current_task')!.address < 0x100000n).toBe(true);
    },
  );
});

describe('System.map parsing', () => {
  it('reads address/type/name lines, tolerating CRLF and blank lines, and counts the rest', () => {
    const p = parseSystemMap(
      'ffffffff81000000 T _stext\r\n\nc0100000 t startup_32\nnonsense line\n0000000000000000 D __per_cpu_start\n',
    );
    expect(p.symbols).toEqual([
      { name: '_stext', address: 0xffff_ffff_8100_0000n, type: 'T' },
      { name: 'startup_32', address: 0xc010_0000n, type: 't' },
      { name: '__per_cpu_start', address: 0n, type: 'D' },
    ]);
    expect(p.badLines).toBe(1);
  });

  it('refuses a file without _stext/_text, and compressed or ELF files with advice', async () => {
    await expect(
      systemMapFromText('0000000000001000 T foo\n', { arch: 'x86_64', vmcoreinfo: undefined }, 'x.map'),
    ).rejects.toThrow(SystemMapError);
    await expect(
      loadSystemMap(join(VMCORES, 'kernel-arm64', 'System.map-6.1.0-56-arm64.zst'), {
        arch: 'aarch64',
        vmcoreinfo: undefined,
      }),
    ).rejects.toThrow(/zstd-compressed; decompress it first: zstd -d/);
    const elf = dumps.find((d) => d.truth.format === 'elf');
    if (elf)
      await expect(loadSystemMap(elf.path, { arch: 'x86_64', vmcoreinfo: undefined })).rejects.toThrow(
        /ELF file, not a System\.map/,
      );
    await expect(
      loadSystemMap('/nonexistent/System.map', { arch: 'x86_64', vmcoreinfo: undefined }),
    ).rejects.toThrow(/ENOENT/);
  });

  it('without any KASLR information uses link addresses and says it could not verify', async () => {
    const t = await systemMapFromText('ffffffff81000000 T _stext\nffffffff81000100 T panic\n', {
      arch: 'x86_64',
      vmcoreinfo: new VmcoreInfo('OSRELEASE=4.4.0\n'),
    });
    expect(t.lookup('panic')?.address).toBe(0xffff_ffff_8100_0100n);
    expect(t.description).toMatch(/no KASLR offset.*not verified against the dump/);
  });
});
