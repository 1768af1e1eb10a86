/**
 * The kernel log of every real dump, line for line against makedumpfile --dump-dmesg / crash `log`
 * (and drgn's plain output), the panic message against the ground truth; the structured and legacy
 * formats and corrupt rings on test-built memory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VmcoreInfo } from '../../src/dump/vmcoreinfo';
import {
  findPanicMessage,
  formatKernelLog,
  formatRecord,
  formatTimestamp,
  type KernelLog,
  KernelLogError,
  panicCpuFromLog,
  readKernelLog,
  recordText,
} from '../../src/kernel/dmesg';
import { corpus } from '../support/corpus';
import { CountingMemory, type OpenedKernel, openCorpusKernel, referenceLogs } from '../support/kernelCorpus';
import { buildLegacy, buildLockless, buildStructured, type TestRecord } from '../support/printkBuilder';

const dumps = corpus();

describe.each(dumps.map((d) => [d.name, d] as const))('%s', (_name, ref) => {
  let k: OpenedKernel | string;
  let log: KernelLog;
  let counting: CountingMemory;
  beforeAll(async () => {
    k = await openCorpusKernel(ref);
    if (typeof k === 'string') return;
    counting = new CountingMemory(k.space);
    log = await readKernelLog(counting, k.dump.vmcoreinfo);
  });
  afterAll(async () => {
    if (typeof k !== 'string') await k?.dump.close();
  });
  const opened = (ctx: { skip: (note?: string) => never }): OpenedKernel => {
    if (typeof k === 'string') ctx.skip(k);
    return k as OpenedKernel;
  };

  it('reads the whole ring in a few reads, with no problems', (ctx) => {
    opened(ctx);
    expect(log.format).toBe('lockless');
    expect(log.problems).toEqual([]);
    expect(log.records.length).toBe(ref.truth.drgn.log.records);
    expect(counting.reads).toBeLessThan(12);
  });

  const refs = referenceLogs(ref);
  it('has a reference log', () => {
    expect(refs.length).toBeGreaterThan(0);
  });
  for (const r of refs) {
    it(`is identical, line for line, to ${r.file.split('/').slice(-2).join('/')} (${r.style})`, (ctx) => {
      opened(ctx);
      const lines = formatKernelLog(log, { style: r.style });
      expect(lines.length).toBe(r.lines.length);
      for (let i = 0; i < lines.length; i++)
        if (lines[i] !== r.lines[i]) expect(lines[i], `line ${i + 1}`).toBe(r.lines[i]);
    });
  }

  it('starts and ends with the lines in the ground truth', (ctx) => {
    opened(ctx);
    const lines = formatKernelLog(log);
    const first: string[] = ref.truth.crash_summary.log_first_lines;
    const last: string[] = ref.truth.crash_summary.log_last_lines;
    expect(lines.slice(0, first.length)).toEqual(first);
    expect(lines.slice(-last.length)).toEqual(last);
  });

  it('finds the panic message of the ground truth', (ctx) => {
    opened(ctx);
    const want: string | null = ref.truth.crash_summary.panic_message;
    const got = findPanicMessage(log);
    expect(got?.message ?? null).toBe(want);
    if (got) {
      expect(got.kind).toBe('panic');
      expect(recordText(log.records[got.record]!)).toContain(want);
      // The CPU: N PID: line after it names the panic CPU.
      expect(panicCpuFromLog(log, got)).toBe(ref.truth.crash_summary.panic_cpu);
    } else expect(panicCpuFromLog(log)).toBeUndefined();
  });

  it('decodes levels, caller ids and device info', (ctx) => {
    opened(ctx);
    const banner = log.records.find((r) => recordText(r).startsWith('Linux version '));
    expect(banner?.level).toBe(5); // the banner is KERN_NOTICE
    expect(log.records.every((r) => r.level !== undefined && r.level <= 7)).toBe(true);
    expect(log.records.some((r) => r.subsystem && r.device)).toBe(true);
    // The panic line comes from the task that wrote to sysrq-trigger (T<pid>), when there was a panic.
    const p = findPanicMessage(log);
    if (p && ref.truth.crash_summary.crashed_pid) {
      const caller = log.records[p.record]!.callerId!;
      expect(formatRecord(log.records[p.record]!, { callerId: true })[0]).toContain(
        caller & 0x80000000 ? `C${caller & 0x7fffffff}]` : `T${ref.truth.crash_summary.crashed_pid}]`,
      );
    }
  });

  it('can be cancelled', async (ctx) => {
    const o = opened(ctx);
    const ac = new AbortController();
    ac.abort();
    await expect(readKernelLog(o.space, o.dump.vmcoreinfo, { signal: ac.signal })).rejects.toThrow(/abort/i);
  });
});

// ---- lockless ring on test memory ------------------------------------------------------------------

const ns = (s: number, us: number) => BigInt(s) * 1_000_000_000n + BigInt(us) * 1000n + 123n;

async function readBuilt(b: {
  memory: import('../support/virtualMemory').TestVirtualMemory;
  vmcoreinfo: string;
}) {
  return readKernelLog(b.memory, new VmcoreInfo(b.vmcoreinfo));
}

describe('lockless ring (test-built)', () => {
  it('prints records as makedumpfile does: indentation, escapes, timestamps', async () => {
    const recs: TestRecord[] = [
      { ts: 0n, text: 'Linux version 6.1.0', level: 5 },
      { ts: ns(1, 5), text: 'first line\nsecond line\n  indented' },
      { ts: ns(2, 0), text: new Uint8Array([0x61, 0x09, 0x62, 0x01, 0x7f, 0xc3, 0xa9, 0x0d, 0x63]) },
      { ts: ns(123456, 999999), text: 'after a long uptime' },
      { ts: ns(3, 0), text: 'ends with newline\n' },
    ];
    const log = await readBuilt(buildLockless(recs, { countBits: 4, sizeBits: 12 }));
    expect(log.problems).toEqual([]);
    expect(formatKernelLog(log)).toEqual([
      '[    0.000000] Linux version 6.1.0',
      '[    1.000005] first line',
      '               second line',
      '                 indented',
      '[    2.000000] a\tb\\x01\\x7f\\xc3\\xa9\rc',
      '[123456.999999] after a long uptime',
      '[    3.000000] ends with newline',
      '               ',
    ]);
    expect(formatKernelLog(log, { signExtendEscapes: true })[4]).toBe(
      '[    2.000000] a\tb\\x01\\x7f\\xffffffc3\\xffffffa9\rc',
    );
    expect(formatKernelLog(log, { style: 'plain' }).slice(1, 4)).toEqual([
      '[    1.000005] first line',
      'second line',
      '  indented',
    ]);
    expect(formatKernelLog(log, { style: 'plain' })[4]).toBe('[    2.000000] a\tb\x01\x7fé\rc');
  });

  it('skips reserved, reused, mismatched and lost records; prints empty-line records', async () => {
    const recs: TestRecord[] = [
      { ts: ns(1, 0), text: 'one' },
      { ts: ns(2, 0), text: 'being written', state: 'reserved' },
      { ts: ns(3, 0), text: 'committed', state: 'committed' },
      { ts: ns(4, 0), text: 'freed', state: 'reusable' },
      { ts: ns(5, 0), text: 'stale', wrongId: true },
      { ts: ns(6, 0), text: '', dataless: 'failed' },
      { ts: ns(7, 0), text: '', dataless: 'empty' },
      { ts: ns(8, 0), text: 'last' },
    ];
    const log = await readBuilt(buildLockless(recs, { countBits: 4, sizeBits: 12 }));
    expect(formatKernelLog(log)).toEqual([
      '[    1.000000] one',
      '[    3.000000] committed',
      '[    7.000000] ',
      '[    8.000000] last',
    ]);
  });

  it('follows the rings as they wrap: descriptor IDs past the wrap point, text blocks stored at the start', async () => {
    const recs: TestRecord[] = [];
    for (let i = 0; i < 200; i++)
      recs.push({
        ts: ns(i, i),
        text: `message number ${i} ${'x'.repeat(i % 37)}`,
        callerId: i % 2 ? 0x80000001 : 100 + i,
      });
    const built = buildLockless(recs, { countBits: 5, sizeBits: 10 });
    expect(built.surviving.length).toBeGreaterThan(5);
    expect(built.surviving.length).toBeLessThan(32);
    const log = await readBuilt(built);
    expect(log.problems).toEqual([]);
    expect(log.records.map(recordText)).toEqual(built.surviving.map((r) => r.text));
    expect(log.records.map((r) => r.timestampNs)).toEqual(built.surviving.map((r) => r.ts));
    const last = log.records.at(-1)!;
    expect(formatRecord(last, { callerId: true })[0]).toBe(
      `[  199.000199] [    C1] message number 199 ${'x'.repeat(199 % 37)}`,
    );
    expect(formatRecord(log.records.at(-2)!, { callerId: true })[0]).toMatch(
      /^\[ {2}198\.000198\] \[ {2}T298\] message number 198/,
    );
  });

  it('32-bit big-endian rings', async () => {
    const recs: TestRecord[] = [];
    for (let i = 0; i < 50; i++) recs.push({ ts: ns(i, 0), text: `be32 ${i}`, level: i % 8 });
    const built = buildLockless(recs, { countBits: 4, sizeBits: 9, wordSize: 4, littleEndian: false });
    const log = await readBuilt(built);
    expect(log.problems).toEqual([]);
    expect(log.records.map(recordText)).toEqual(built.surviving.map((r) => r.text));
    expect(log.records.map((r) => r.level)).toEqual(built.surviving.map((r) => r.level));
  });

  it('reads subsystem and device of dev_printk records', async () => {
    const log = await readBuilt(
      buildLockless([{ ts: 1n, text: 'link up', subsystem: 'net', device: '+net:eth0', level: 6 }], {
        countBits: 3,
        sizeBits: 10,
      }),
    );
    expect(log.records[0]).toMatchObject({ subsystem: 'net', device: '+net:eth0', level: 6 });
  });

  it('a corrupt head/tail distance is bounded by the ring size and said', async () => {
    const recs = Array.from({ length: 10 }, (_, i) => ({ ts: ns(i, 0), text: `r${i}` }));
    const built = buildLockless(recs, {
      countBits: 4,
      sizeBits: 10,
      firstId: 100n,
      tailId: 5n,
      headId: 109n,
    });
    const t0 = Date.now();
    const log = await readBuilt(built);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(log.problems[0]).toMatch(/105 records apart but the ring holds 16: reading the last 16/);
    expect(log.records.map(recordText)).toEqual(recs.map((r) => r.text));
    // A head far ahead of the tail (an id space of 2^62) is not a 2^62-iteration loop.
    const wild = buildLockless(recs, {
      countBits: 4,
      sizeBits: 10,
      firstId: 100n,
      tailId: 100n,
      headId: (1n << 61n) + 7n,
    });
    expect((await readBuilt(wild)).problems[0]).toMatch(/reading the last 16/);
  });

  it('absurd ring sizes are errors, missing text is a problem', async () => {
    const built = buildLockless([{ ts: 1n, text: 'x' }], { countBits: 3, sizeBits: 10 });
    const bad = new VmcoreInfo(built.vmcoreinfo);
    const rbAddr = (await built.memory.read(BigInt(`0x${bad.get('SYMBOL(prb)')}`), 8)).bytes;
    const rb = new DataView(rbAddr.buffer).getBigUint64(0, true);
    const raw = (await built.memory.read(rb, 88)).bytes;
    new DataView(raw.buffer).setUint32(0, 40, true);
    built.memory.map(rb + 0x1000n, raw); // an alternative ringbuffer with count_bits = 40
    const ptr = new Uint8Array(8);
    new DataView(ptr.buffer).setBigUint64(0, rb + 0x1000n, true);
    built.memory.map(0xffff_ffff_8300_0800n, ptr);
    const vi = new VmcoreInfo(built.vmcoreinfo.replace(/SYMBOL\(prb\)=.*/, 'SYMBOL(prb)=ffffffff83000800'));
    await expect(readKernelLog(built.memory, vi)).rejects.toThrow(/claims 2\^40 records: corrupt/);

    const unmapped = buildLockless([{ ts: 1n, text: 'x' }], { countBits: 3, sizeBits: 10, unmapText: true });
    const log = await readBuilt(unmapped);
    expect(log.records).toEqual([]);
    expect(log.problems.join('\n')).toMatch(
      /printk text is not in the dump \(not-mapped\)[\s\S]*1 records are not in the dump/,
    );
  });

  it('says which VMCOREINFO keys it lacks', async () => {
    const built = buildLockless([{ ts: 1n, text: 'x' }], { countBits: 3, sizeBits: 10 });
    const vi = new VmcoreInfo(built.vmcoreinfo.replace(/^SIZE\(prb_desc\)=.*$/m, ''));
    await expect(readKernelLog(built.memory, vi)).rejects.toThrow(
      /lacks SIZE\(prb_desc\), needed to read the lockless/,
    );
    await expect(readKernelLog(built.memory, new VmcoreInfo('OSRELEASE=6.1\n'))).rejects.toThrow(
      KernelLogError,
    );
    await expect(readKernelLog(built.memory, undefined)).rejects.toThrow(/no VMCOREINFO/);
  });

  it('a large ring can be cancelled while decoding', async () => {
    const recs = Array.from({ length: 20000 }, (_, i) => ({ ts: BigInt(i), text: `line ${i}` }));
    const built = buildLockless(recs, { countBits: 15, sizeBits: 20 });
    const ac = new AbortController();
    const p = readKernelLog(built.memory, new VmcoreInfo(built.vmcoreinfo), { signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toThrow(/abort/i);
    const full = await readKernelLog(built.memory, new VmcoreInfo(built.vmcoreinfo));
    expect(full.records.length).toBe(built.surviving.length);
  });
});

// ---- structured log_buf (v3.5 – v5.9) ----------------------------------------------------------

describe('structured log_buf (test-built)', () => {
  it('reads records in order across the zero-length wrap marker', async () => {
    const recs: TestRecord[] = Array.from({ length: 60 }, (_, i) => ({
      ts: ns(i, 7),
      text: `structured ${i} ${'y'.repeat((i * 7) % 23)}`,
      level: i % 8,
    }));
    const built = buildStructured(recs, { bufLen: 1024 });
    expect(built.surviving.length).toBeLessThan(60);
    const log = await readBuilt(built);
    expect(log.format).toBe('structured');
    expect(log.problems).toEqual([]);
    expect(log.records.map(recordText)).toEqual(built.surviving.map((r) => r.text));
    expect(log.records.map((r) => r.level)).toEqual(built.surviving.map((r) => r.level));
    expect(formatKernelLog(log)[0]).toBe(
      `${formatTimestamp(built.surviving[0]!.ts)}${built.surviving[0]!.text}`,
    );
  });

  it('reads the pre-3.11 `struct log` names, and big-endian buffers', async () => {
    const recs = [{ ts: ns(1, 1), text: 'old\nkernel' }];
    for (const o of [{ oldName: true }, { littleEndian: false }]) {
      const log = await readBuilt(buildStructured(recs, { bufLen: 256, ...o }));
      expect(formatKernelLog(log)).toEqual(['[    1.000001] old', '               kernel']);
    }
  });

  it('corrupt buffers stop with a problem, never loop', async () => {
    const recs = Array.from({ length: 5 }, (_, i) => ({ ts: BigInt(i), text: `r${i}` }));
    // A record whose length is zero at offset 0: would wrap forever.
    const loop = buildStructured(recs, {
      bufLen: 512,
      corrupt: (b) => {
        b.u16(8, 0);
        return { nextIdx: 48 };
      },
    });
    const l1 = await readBuilt(loop);
    expect(l1.problems[0]).toMatch(/wraps twice/);
    // A length running past the end of the buffer.
    const past = buildStructured(recs, {
      bufLen: 512,
      corrupt: (b) => {
        b.u16(8 + 24, 0xfff0);
        return undefined;
      },
    });
    const l2 = await readBuilt(past);
    expect(l2.records.length).toBe(1);
    expect(l2.problems[0]).toMatch(/has length 65520: stopped/);
    // next_idx that no record reaches.
    const never = buildStructured(recs, { bufLen: 512, corrupt: () => ({ nextIdx: 13 }) });
    const l3 = await readBuilt(never);
    expect(l3.problems.length).toBe(1);
  });
});

// ---- legacy character ring (< v3.5) -----------------------------------------------------------

describe('legacy log_buf (test-built)', () => {
  it('prints the buffer as stored, <N> prefixes included, before and after it wraps', async () => {
    const text = '<5>[    0.000000] Linux version 2.6.32\n<6>[    0.100000] second\n<4>third without time\n';
    const small = buildLegacy(text, 4096);
    const log = await readBuilt(small);
    expect(log.format).toBe('legacy');
    expect(formatKernelLog(log)).toEqual([
      '<5>[    0.000000] Linux version 2.6.32',
      '<6>[    0.100000] second',
      '<4>third without time',
    ]);
    expect(log.records.map((r) => r.level)).toEqual([5, 6, 4]);
    expect(log.records[1]!.timestampNs).toBe(100_000_000n);
    let long = '';
    for (let i = 0; i < 100; i++) long += `<6>[    ${String(i).padStart(1, '0')}.000000] line ${i}\n`;
    const wrapped = buildLegacy(long, 512);
    const lines = formatKernelLog(await readBuilt(wrapped));
    expect(lines.at(-1)).toBe('<6>[    99.000000] line 99');
    expect(lines.join('\n').length).toBeLessThanOrEqual(512);
    expect(long.endsWith(`${lines.slice(1).join('\n')}\n`)).toBe(true);
  });
});

// ---- the panic message ----------------------------------------------------------------------------

describe('panic message', () => {
  const log = (texts: string[]): KernelLog => ({
    format: 'lockless',
    problems: [],
    records: texts.map((t, i) => ({ timestampNs: BigInt(i), text: new TextEncoder().encode(t) })),
  });
  it('prefers the last "Kernel panic - not syncing" line', () => {
    const l = log([
      'BUG: kernel NULL pointer dereference, address: 0000000000000000',
      'Oops: 0002 [#1] PREEMPT SMP NOPTI',
      'CPU: 3 PID: 77 Comm: insmod Not tainted 6.1.0 #1',
      'Kernel panic - not syncing: Fatal exception',
      'CPU: 3 PID: 77 Comm: insmod Tainted: G      D 6.1.0 #1',
    ]);
    expect(findPanicMessage(l)).toEqual({
      message: 'Kernel panic - not syncing: Fatal exception',
      record: 3,
      kind: 'panic',
    });
    expect(panicCpuFromLog(l)).toBe(3);
  });
  it('falls back to the first Oops/BUG line when the kernel kexec-ed from the oops path', () => {
    const l = log([
      'booting',
      'Unable to handle kernel paging request at virtual address dead',
      'Internal error: Oops: 96000005 [#1] SMP',
      'CPU: 1 PID: 9 Comm: x',
    ]);
    expect(findPanicMessage(l)).toMatchObject({
      message: 'Unable to handle kernel paging request at virtual address dead',
      kind: 'oops',
    });
    expect(panicCpuFromLog(l)).toBe(1);
  });
  it('is undefined for a kernel that did not crash', () => {
    expect(findPanicMessage(log(['booting', 'all fine']))).toBeUndefined();
  });
});

describe('timestamps', () => {
  it('print as [%5lu.%06lu] for short and very long uptimes alike', () => {
    expect(formatTimestamp(0n)).toBe('[    0.000000] ');
    expect(formatTimestamp(14_002_228_123n)).toBe('[   14.002228] ');
    // 2^53 ns is 104 days: beyond it the arithmetic must stay exact.
    expect(formatTimestamp(9_007_199_254_740_993n)).toBe('[9007199.254740] ');
    expect(formatTimestamp(123_456_789_012_345_678_901n)).toBe('[123456789012.345678] ');
  });
});
