/**
 * kallsyms decoded from the memory of every real dump, checked against VMCOREINFO and the ground truth
 * (drgn with the debug vmlinux), plus synthetic tables for every address era, the v6.1 big-symbol
 * length encoding, and corrupt tables.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VmcoreInfo } from '../../src/dump/vmcoreinfo';
import { decodeKallsyms, KallsymsError, type KallsymsResult, loadKallsyms } from '../../src/symbols/kallsyms';
import { formatLocation, isText } from '../../src/symbols/symbolTable';
import { corpus } from '../support/corpus';
import { type BuildSymbol, buildKallsyms, type Era } from '../support/kallsymsBuilder';
import { CountingMemory, type OpenedKernel, openCorpusKernel } from '../support/kernelCorpus';
import { TestVirtualMemory } from '../support/virtualMemory';

const dumps = corpus();

it('the corpus has dumps with kallsyms', () => {
  expect(dumps.filter((d) => d.truth.vmcoreinfo?.['SYMBOL(kallsyms_names)']).length).toBeGreaterThanOrEqual(
    3,
  );
});

describe.each(dumps.map((d) => [d.name, d] as const))('%s', (_name, ref) => {
  let k: OpenedKernel | string;
  let result: KallsymsResult;
  let counting: CountingMemory;
  beforeAll(async () => {
    k = await openCorpusKernel(ref);
    if (typeof k === 'string') return;
    counting = new CountingMemory(k.space);
    result = await decodeKallsyms(counting, k.dump.vmcoreinfo);
  });
  afterAll(async () => {
    if (typeof k !== 'string') await k?.dump.close();
  });
  const ready = (ctx: { skip: (note?: string) => never }) => {
    if (typeof k === 'string') ctx.skip(k);
  };
  /** CONFIG_KALLSYMS_ALL: data symbols too (without it only functions and a few markers like _etext). */
  const hasDataSymbols = () => result.table.all().filter((s) => /^[dDbB]$/.test(s.type)).length > 100;

  it('decodes a plausible number of symbols in few large reads', (ctx) => {
    ready(ctx);
    expect(result.info.count).toBeGreaterThan(10_000);
    expect(result.info.count).toBeLessThan(1_000_000);
    expect(result.table.size).toBe(result.info.count);
    expect(result.info.bigSymbols).toBe(true); // 6.1 kernel
    expect(counting.reads).toBeLessThan(20);
    expect(result.table.source).toBe('kallsyms');
    expect(result.table.description).toContain(`${result.info.count} symbols`);
    // Every name is a type letter + printable name; text symbols are the majority.
    const text = result.table.all().filter((s) => isText(s.type)).length;
    expect(text / result.info.count).toBeGreaterThan(0.4);
  });

  it('picks the address era that gives SYMBOL(_stext)', (ctx) => {
    ready(ctx);
    expect(result.table.lookup('_stext')!.address).toBe(
      BigInt(`0x${ref.truth.vmcoreinfo['SYMBOL(_stext)']}`),
    );
    expect(result.info.era).toBe(ref.truth.arch === 'x86_64' ? 'absolute-percpu' : 'relative');
  });

  it('agrees with every VMCOREINFO SYMBOL() that kallsyms names', (ctx) => {
    ready(ctx);
    let compared = 0;
    for (const [key, value] of Object.entries(ref.truth.vmcoreinfo as Record<string, string>)) {
      const m = /^SYMBOL\((.+)\)$/.exec(key);
      if (!m || m[1] === 'mem_section' || m[1] === 'vmemmap') continue;
      const s = result.table.lookup(m[1]!);
      if (!s) continue;
      expect(s.address, key).toBe(BigInt(`0x${value}`));
      compared++;
    }
    expect(compared).toBeGreaterThanOrEqual(hasDataSymbols() ? 8 : 1);
  });

  it('gives the addresses of the ground-truth symbols', (ctx) => {
    ready(ctx);
    const expected = new Map<string, bigint>();
    for (const s of ref.truth.drgn?.memory_samples ?? []) {
      const m = /^symbol (\S+)/.exec(s.what);
      if (m) expected.set(m[1]!, BigInt(s.vaddr));
    }
    for (const [name, addr] of Object.entries((ref.truth.drgn?.symbols ?? {}) as Record<string, string>))
      expected.set(name, BigInt(addr));
    expect([...expected.keys()]).toEqual(expect.arrayContaining(['panic', '_stext', 'linux_banner']));
    let checked = 0;
    for (const [name, addr] of expected) {
      const s = result.table.lookup(name);
      // Without CONFIG_KALLSYMS_ALL (the arm64 kernel) kallsyms holds functions only.
      if (!s && !hasDataSymbols() && !['panic', '_stext', '_etext'].includes(name)) continue;
      expect(s?.address, name).toBe(addr);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(3);
  });

  it('symbolizes the crashing CPU the way the ground truth does', (ctx) => {
    ready(ctx);
    const trace = ref.truth.drgn?.crashing_cpu_stack_trace as
      | { pc: string; symbol?: string; symbol_offset?: string; inline: boolean }[]
      | null;
    let checked = 0;
    if (trace) {
      for (const f of trace) {
        const pc = BigInt(f.pc);
        if (!f.symbol || !f.symbol_offset || pc < 1n << 63n) continue;
        // Frames after the first hold return addresses: look up pc - 1 (a call to a noreturn function
        // can be the last instruction, so pc is already the next function), report the offset of pc.
        const loc = result.table.symbolize(pc === BigInt(trace[0]!.pc) ? pc : pc - 1n);
        const got = loc && `${loc.symbol.name}+0x${(pc - loc.symbol.address).toString(16)}`;
        const want = `${f.symbol}+${f.symbol_offset}`;
        if (got !== want) {
          // drgn sizes symbols from vmlinux; kallsyms has no sizes, so a global label inside a function
          // (entry_SYSCALL_64_after_hwframe inside entry_SYSCALL_64) wins, as in the kernel's own traces.
          const outer = result.table.lookup(f.symbol);
          expect(outer && pc - outer.address, `${f.pc}: ${got} vs ${want}`).toBe(BigInt(f.symbol_offset));
          expect(loc!.symbol.address > outer!.address, `${got} lies inside ${want}`).toBe(true);
        }
        checked++;
      }
      expect(trace[0]!.symbol).toBeDefined();
    }
    // crash's "exception RIP: name+decimal" for CPUs stopped in the kernel (the QEMU snapshot's idle CPU).
    for (const cpu of ref.truth.summary_per_cpu ?? []) {
      const m = /^exception RIP: (\S+)\+(\d+)$/.exec(cpu.backtrace_crash?.[0] ?? '');
      if (!m || !cpu.rip) continue;
      const loc = result.table.symbolize(BigInt(cpu.rip));
      expect(formatLocation(loc, BigInt(cpu.rip))).toBe(`${m[1]}+0x${Number(m[2]).toString(16)}`);
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('is sorted by address, text symbols within the kernel text', (ctx) => {
    ready(ctx);
    const all = result.table.all();
    for (let i = 1; i < all.length; i++) expect(all[i - 1]!.address <= all[i]!.address).toBe(true);
    const stext = result.table.lookup('_stext')!.address;
    const etext = result.table.lookup('_etext')!.address;
    const stray = all.filter(
      (s) => s.type === 'T' && (s.address < stext - 0x200000n || s.address > etext + 0x4000000n),
    );
    // init text and entry trampolines lie outside _stext.._etext but near it; nothing is far away.
    expect(
      stray.length,
      stray
        .slice(0, 3)
        .map((s) => s.name)
        .join(','),
    ).toBe(0);
  });
});

// ---- synthetic tables ------------------------------------------------------------------------------

const KBASE = 0xffff_ffff_8100_0000n;
const TABLES = 0xffff_ffff_8200_0000n;

function sampleSymbols(extra: BuildSymbol[] = []): BuildSymbol[] {
  const syms: BuildSymbol[] = [
    { type: 'A', name: '__per_cpu_start', address: 0n },
    { type: 'A', name: 'cpu_number', address: 0x1f000n },
    { type: 'T', name: '_text', address: KBASE - 0x1000n },
    { type: 'T', name: '_stext', address: KBASE },
    { type: 't', name: 'local_helper.constprop.0', address: KBASE + 0x40n },
    { type: 'T', name: 'panic', address: KBASE + 0x100n },
    { type: 'W', name: 'weak_fn', address: KBASE + 0x180n },
  ];
  for (let i = 0; i < 300; i++)
    syms.push({
      type: i % 3 ? 't' : 'T',
      name: `fn_${i}_do_work`,
      address: KBASE + 0x200n + BigInt(i * 0x30),
    });
  syms.push(...extra);
  syms.push({ type: 'D', name: 'init_task', address: KBASE + 0x100000n });
  syms.push({ type: 'b', name: 'bss_thing', address: KBASE + 0x200000n });
  return syms;
}

function memoryWith(
  built: ReturnType<typeof buildKallsyms>,
  wordSize: 4 | 8 = 8,
  le = true,
): TestVirtualMemory {
  return new TestVirtualMemory(wordSize, le).map(built.address, built.bytes);
}

function vmcoreinfo(built: ReturnType<typeof buildKallsyms>, extra: string): VmcoreInfo {
  return new VmcoreInfo(`OSRELEASE=6.1.0\n${built.vmcoreinfo}${extra}`);
}

describe('synthetic kallsyms', () => {
  const eras: Era[] = ['absolute', 'relative', 'absolute-percpu', 'place-relative'];
  for (const era of eras) {
    for (const le of [true, false]) {
      it(`decodes ${era} addresses (${le ? 'LE' : 'BE'})`, async () => {
        const syms = sampleSymbols();
        // 'relative' cannot express the absolute per-CPU symbols below the base: leave them out.
        const input =
          era === 'relative' || era === 'place-relative' ? syms.filter((s) => s.type !== 'A') : syms;
        const built = buildKallsyms(input, { era, bigSymbols: true, at: TABLES, littleEndian: le });
        const mem = memoryWith(built, 8, le);
        const r = await decodeKallsyms(mem, vmcoreinfo(built, `SYMBOL(_stext)=${KBASE.toString(16)}\n`));
        expect(r.info.era).toBe(era);
        expect(r.info.count).toBe(input.length);
        const got = new Map(r.table.all().map((s) => [s.name, s]));
        for (const s of input) {
          expect(got.get(s.name)?.address, s.name).toBe(s.address);
          expect(got.get(s.name)?.type, s.name).toBe(s.type);
        }
        expect(mem.reads).toBeLessThan(12);
      });
    }
  }

  it('decodes 32-bit kernels (absolute and relative)', async () => {
    const base = 0xc100_0000n;
    const syms = [
      { type: 'T', name: '_stext', address: base },
      { type: 'T', name: 'start_kernel', address: base + 0x1234n },
      { type: 'D', name: 'init_task', address: base + 0x80000n },
    ];
    for (const era of ['absolute', 'relative'] as const) {
      const built = buildKallsyms(syms, { era, bigSymbols: false, at: 0xc200_0000n, wordSize: 4 });
      const r = await decodeKallsyms(
        memoryWith(built, 4),
        vmcoreinfo(built, `SYMBOL(_stext)=${base.toString(16)}\n`),
      );
      expect(r.table.lookup('start_kernel')?.address).toBe(base + 0x1234n);
      expect(r.info.era).toBe(era);
    }
  });

  it('reads v6.1 two-byte lengths for long symbols, and retries when the version says otherwise', async () => {
    let long = 'rust_';
    for (let i = 0; long.length < 900; i++)
      long += String.fromCharCode(0x41 + ((i * 7) % 26), 0x61 + ((i * 11) % 26));
    const syms = sampleSymbols([{ type: 'T', name: long, address: KBASE + 0x90000n }]);
    const built = buildKallsyms(syms, { era: 'absolute-percpu', bigSymbols: true, at: TABLES });
    const anchor = `SYMBOL(_stext)=${KBASE.toString(16)}\n`;
    const r = await decodeKallsyms(memoryWith(built), vmcoreinfo(built, anchor));
    expect(r.info.bigSymbols).toBe(true);
    expect(r.table.lookup(long)?.address).toBe(KBASE + 0x90000n);
    // An older OSRELEASE suggests one-byte lengths; the decoder notices and retries.
    const old = new VmcoreInfo(`OSRELEASE=6.0.9\n${built.vmcoreinfo}${anchor}`);
    const r2 = await decodeKallsyms(memoryWith(built), old);
    expect(r2.info.bigSymbols).toBe(true);
    expect(r2.table.lookup(long)).toBeDefined();
    // Forcing the wrong encoding is a clear error, not garbage.
    await expect(decodeKallsyms(memoryWith(built), old, { bigSymbols: false })).rejects.toThrow(
      KallsymsError,
    );
  });

  it('one-byte lengths on kernels before 6.1', async () => {
    const syms = sampleSymbols();
    const built = buildKallsyms(syms, { era: 'absolute-percpu', bigSymbols: false, at: TABLES });
    const r = await decodeKallsyms(
      memoryWith(built),
      new VmcoreInfo(`OSRELEASE=6.0.0\n${built.vmcoreinfo}SYMBOL(_stext)=${KBASE.toString(16)}\n`),
    );
    expect(r.info.bigSymbols).toBe(false);
    expect(r.table.lookup('panic')?.address).toBe(KBASE + 0x100n);
  });

  it('without SYMBOL(_stext) picks the era under which addresses are sorted', async () => {
    const built = buildKallsyms(sampleSymbols(), { era: 'absolute-percpu', bigSymbols: true, at: TABLES });
    const r = await decodeKallsyms(memoryWith(built), vmcoreinfo(built, ''));
    expect(r.info.era).toBe('absolute-percpu');
    expect(r.table.lookup('init_task')?.address).toBe(KBASE + 0x100000n);
  });

  it('says which keys are missing and what to do instead', async () => {
    const mem = new TestVirtualMemory();
    await expect(loadKallsyms(mem, new VmcoreInfo('OSRELEASE=5.10.0\n'))).rejects.toThrow(
      /lacks SYMBOL\(kallsyms_names\).*System\.map or vmlinux/,
    );
    await expect(loadKallsyms(mem, undefined)).rejects.toThrow(/no VMCOREINFO/);
  });

  it('refuses an impossible symbol count', async () => {
    const built = buildKallsyms(sampleSymbols(), { era: 'absolute-percpu', bigSymbols: true, at: TABLES });
    const bytes = built.bytes.slice();
    const numOff = Number(built.symbols.kallsyms_num_syms! - TABLES);
    new DataView(bytes.buffer).setUint32(numOff, 0xffffffff, true);
    const mem = new TestVirtualMemory().map(TABLES, bytes);
    await expect(loadKallsyms(mem, vmcoreinfo(built, ''))).rejects.toThrow(/kallsyms_num_syms is 4294967295/);
  });

  it('a count larger than the names table ends in an error, not a hang', async () => {
    const built = buildKallsyms(sampleSymbols(), { era: 'absolute-percpu', bigSymbols: true, at: TABLES });
    const bytes = built.bytes.slice();
    const numOff = Number(built.symbols.kallsyms_num_syms! - TABLES);
    new DataView(bytes.buffer).setUint32(numOff, 3_000_000, true);
    // The offsets table is now too short for the count too: either way, a KallsymsError or MemoryError.
    const mem = new TestVirtualMemory().map(TABLES, bytes);
    const t0 = Date.now();
    await expect(loadKallsyms(mem, vmcoreinfo(built, ''))).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('garbage names are reported as corrupt', async () => {
    const built = buildKallsyms(sampleSymbols(), { era: 'absolute-percpu', bigSymbols: true, at: TABLES });
    const bytes = built.bytes.slice();
    const namesOff = Number(built.symbols.kallsyms_names! - TABLES);
    for (let i = 0; i < 64; i++) bytes[namesOff + 20 + i] = (i * 37) & 0xff;
    const mem = new TestVirtualMemory().map(TABLES, bytes);
    await expect(loadKallsyms(mem, vmcoreinfo(built, ''))).rejects.toThrow(
      /kallsyms_names is corrupt|runs past/,
    );
  });

  it('names that run into unmapped memory say so', async () => {
    const built = buildKallsyms(sampleSymbols(), { era: 'absolute-percpu', bigSymbols: true, at: TABLES });
    // Map only up to the middle of the names table, then the token tables separately.
    const namesOff = Number(built.symbols.kallsyms_names! - TABLES);
    const tokOff = Number(built.symbols.kallsyms_token_table! - TABLES);
    const mem = new TestVirtualMemory()
      .map(TABLES, built.bytes.slice(0, namesOff + 200))
      .map(built.symbols.kallsyms_token_table!, built.bytes.slice(tokOff));
    await expect(loadKallsyms(mem, vmcoreinfo(built, ''))).rejects.toThrow(
      /kallsyms_names cannot be read at 0x[0-9a-f]+: not-mapped/,
    );
  });

  it('a token table without terminators is an error', async () => {
    const built = buildKallsyms(sampleSymbols(), { era: 'absolute-percpu', bigSymbols: true, at: TABLES });
    const bytes = built.bytes.slice();
    const tokOff = Number(built.symbols.kallsyms_token_table! - TABLES);
    const idxOff = Number(built.symbols.kallsyms_token_index! - TABLES);
    bytes.fill(0x41, tokOff, idxOff);
    const mem = new TestVirtualMemory().map(TABLES, bytes.subarray(0, idxOff + 512));
    await expect(loadKallsyms(mem, vmcoreinfo(built, ''))).rejects.toThrow(/kallsyms_token_table: token \d+/);
  });

  it('no era giving SYMBOL(_stext) is an error naming what each gave', async () => {
    const built = buildKallsyms(sampleSymbols(), { era: 'absolute-percpu', bigSymbols: true, at: TABLES });
    await expect(
      loadKallsyms(
        memoryWith(built),
        vmcoreinfo(built, `SYMBOL(_stext)=${(KBASE + 0x5000n).toString(16)}\n`),
      ),
    ).rejects.toThrow(
      /no kallsyms address encoding gives _stext = 0xffffffff81005000.*absolute-percpu: 0xffffffff81000000/,
    );
  });

  it('can be cancelled', async () => {
    const built = buildKallsyms(sampleSymbols(), { era: 'absolute-percpu', bigSymbols: true, at: TABLES });
    const ac = new AbortController();
    ac.abort();
    await expect(
      loadKallsyms(memoryWith(built), vmcoreinfo(built, ''), { signal: ac.signal }),
    ).rejects.toThrow(/abort/i);
  });
});
