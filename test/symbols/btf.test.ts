/**
 * The BTF reader: test-built blobs with every kind (both byte orders), hostile blobs (truncated,
 * absurd counts and offsets, loops) that must give a BtfError quickly, a seeded mutation campaign,
 * and the real kernel BTF of every dump (read from the dump's memory) against the layout the debug
 * vmlinux's DWARF gives and against every task drgn listed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Btf, BtfError, BtfKind, MAX_BTF_BYTES } from '../../src/symbols/btf';
import { loadKallsyms } from '../../src/symbols/kallsyms';
import { readKernelBtf, readVmlinuxBtf } from '../../src/symbols/kernelBtf';
import type { SymbolTable } from '../../src/symbols/symbolTable';
import { loadSystemMap } from '../../src/symbols/systemMap';
import { readFully } from '../../src/translate/types';
import { AllocationMeter } from '../fuzz/allocations';
import { Rng } from '../fuzz/prng';
import { BtfBuilder } from '../support/btfBuilder';
import { corpus, systemMapFor } from '../support/corpus';
import { vmlinuxPath } from '../support/debianKernel';
import { type OpenedKernel, openCorpusKernel } from '../support/kernelCorpus';

/** A small kernel-like type graph using every kind. Returns the blob and the ids that matter. */
function kernelLike(littleEndian = true) {
  const b = new BtfBuilder(littleEndian);
  const int = b.int('int', 4, { signed: true });
  const uint = b.int('unsigned int', 4);
  const char = b.int('char', 1, { signed: true });
  const ulong = b.int('long unsigned int', 8);
  const pidT = b.typedef('pid_t', int);
  const volatilePid = b.volatile(pidT);
  const constPid = b.const(volatilePid);
  const comm = b.array(char, 16, int);
  const fwdMm = b.fwd('mm_struct');
  const mmPtr = b.ptr(fwdMm);
  b.restrict(mmPtr);
  const listHead = b.nextId;
  b.struct('list_head', 16, [
    { name: 'next', type: listHead + 1, bitOffset: 0 },
    { name: 'prev', type: listHead + 1, bitOffset: 64 },
  ]);
  b.ptr(listHead);
  // struct { u32 flags; u32 pad; } inside an anonymous union at byte 24.
  const inner = b.struct('', 8, [
    { name: 'flags', type: uint, bitOffset: 0 },
    { name: 'pad', type: uint, bitOffset: 32 },
  ]);
  const anonUnion = b.union('', 8, [
    { name: '', type: inner, bitOffset: 0 },
    { name: 'raw', type: ulong, bitOffset: 0 },
  ]);
  const thread = b.struct('thread_struct', 16, [
    { name: 'sp', type: ulong, bitOffset: 0 },
    { name: 'fsbase', type: ulong, bitOffset: 64 },
  ]);
  const state = b.enum('task_state', 4, [
    ['RUNNING', 0],
    ['SLEEPING', 1],
  ]);
  const state64 = b.enum64('big_state', 8, [['HUGE', 1n << 40n]]);
  const task = b.struct(
    'task_struct',
    128,
    [
      { name: 'tasks', type: listHead, bitOffset: 0 },
      { name: 'pid', type: pidT, bitOffset: 16 * 8 },
      { name: 'tgid', type: constPid, bitOffset: 20 * 8 },
      { name: '', type: anonUnion, bitOffset: 24 * 8 },
      { name: 'in_execve', type: uint, bitOffset: 32 * 8 + 2, bitSize: 1 },
      { name: 'comm', type: comm, bitOffset: 40 * 8 },
      { name: 'mm', type: mmPtr, bitOffset: 56 * 8 },
      { name: 'thread', type: thread, bitOffset: 64 * 8 },
      { name: 'state', type: state, bitOffset: 80 * 8 },
      { name: 'big', type: state64, bitOffset: 88 * 8 },
    ],
    { kindFlag: true },
  );
  const taskTypedef = b.typedef('task_t', task);
  const proto = b.funcProto(int, [['task', b.ptr(task)]]);
  b.func('wake_up_process', proto);
  const perCpu = b.variable('runqueues', taskTypedef);
  b.datasec('.data..percpu', 128, [[perCpu, 0, 128]]);
  b.float('double', 8);
  b.declTag('user', task, 1);
  const tagged = b.typeTag('rcu', task);
  const rq = b.struct('rq', 16, [
    { name: 'nr_running', type: uint, bitOffset: 0 },
    { name: 'curr', type: b.ptr(tagged), bitOffset: 64 },
  ]);
  const matrix = b.array(b.array(uint, 3), 4);
  return { b, bytes: b.build(), ids: { int, pidT, constPid, comm, task, taskTypedef, rq, matrix, listHead } };
}

describe('a well-formed BTF blob', () => {
  for (const littleEndian of [true, false]) {
    it(`${littleEndian ? 'little' : 'big'}-endian: structs, members, sizes, every kind`, () => {
      const { b, bytes, ids } = kernelLike(littleEndian);
      const btf = new Btf(bytes);
      expect(btf.littleEndian).toBe(littleEndian);
      expect(btf.count).toBe(b.nextId - 1);
      const task = btf.structByName('task_struct')!;
      expect(task).toMatchObject({ id: ids.task, kind: 'struct', name: 'task_struct', size: 128 });
      expect(task.members.map((m) => m.name)).toEqual([
        'tasks',
        'pid',
        'tgid',
        '',
        'in_execve',
        'comm',
        'mm',
        'thread',
        'state',
        'big',
      ]);
      expect(btf.memberOffset('task_struct', 'pid')).toBe(16);
      expect(btf.memberOffset('task_struct', 'comm')).toBe(40);
      // Members of an anonymous struct inside an anonymous union are found as C finds them.
      expect(btf.memberOffset('task_struct', 'flags')).toBe(24);
      expect(btf.memberOffset('task_struct', 'pad')).toBe(28);
      expect(btf.memberOffset('task_struct', 'raw')).toBe(24);
      expect(btf.memberOffset('task_struct', 'thread.fsbase')).toBe(72);
      expect(btf.memberOffset('rq', 'curr')).toBe(8);
      // kind_flag bitfields: offset and width decoded, and no byte offset claimed for them.
      expect(btf.findMember('task_struct', 'in_execve')).toEqual({
        bitOffset: 32 * 8 + 2,
        bitSize: 1,
        type: task.members[4]!.type,
      });
      expect(() => btf.memberOffset('task_struct', 'in_execve')).toThrow(/bitfield/);
      expect(btf.findMember('task_struct', 'nope')).toBeUndefined();
      expect(() => btf.memberOffset('task_struct', 'nope')).toThrow(/task_struct has no member nope/);
      expect(() => btf.memberOffset('task_struct', 'pid.x')).toThrow(/not a struct or union/);
      expect(() => btf.memberOffset('no_such', 'x')).toThrow(/has no struct no_such/);
      // Sizes through typedefs, qualifiers, arrays (nested), pointers.
      expect(btf.sizeOf(ids.comm)).toBe(16);
      expect(btf.sizeOf(ids.constPid)).toBe(4);
      expect(btf.resolve(ids.constPid)).toBe(ids.int);
      expect(btf.sizeOf(ids.taskTypedef)).toBe(128);
      expect(btf.sizeOf(ids.matrix)).toBe(48);
      expect(btf.sizeOf(btf.findMember('task_struct', 'mm')!.type)).toBe(8);
      expect(new Btf(bytes, { pointerSize: 4 }).sizeOf(btf.findMember('task_struct', 'mm')!.type)).toBe(4);
      expect(() => btf.sizeOf(btf.idsByName('mm_struct')[0]!)).toThrow(/fwd, which has no size/);
      expect(btf.structSize('rq')).toBe(16);
      // Every kind decodes; the records after the variable-length ones are where they should be.
      const kinds = new Set<number>();
      for (let id = 1; id <= btf.count; id++) kinds.add(btf.type(id).kind);
      expect([...kinds].sort((x, y) => x - y)).toEqual(Object.values(BtfKind).sort((x, y) => x - y));
      expect(btf.type(btf.idsByName('double')[0]!)).toMatchObject({ kindName: 'float', size: 8 });
      expect(btf.type(btf.idsByName('wake_up_process')[0]!)).toMatchObject({ kindName: 'func', vlen: 1 });
      expect(btf.array(ids.comm)).toEqual({ type: btf.idsByName('char')[0], indexType: ids.int, nelems: 16 });
      expect(btf.structByName('list_head')!.members[1]).toEqual({
        name: 'prev',
        type: ids.listHead + 1,
        bitOffset: 64,
        bitSize: 0,
      });
    });
  }

  it('without kind_flag, member offsets are plain bit offsets', () => {
    const b = new BtfBuilder();
    const u = b.int('unsigned int', 4);
    b.struct('s', 8, [
      { name: 'a', type: u, bitOffset: 0 },
      { name: 'b', type: u, bitOffset: 32 },
    ]);
    const btf = new Btf(b.build());
    expect(btf.structByName('s')!.members.map((m) => [m.bitOffset, m.bitSize])).toEqual([
      [0, 0],
      [32, 0],
    ]);
    expect(btf.memberOffset('s', 'b')).toBe(4);
  });

  it('a forward declaration does not hide the struct, and a union is found when no struct has the name', () => {
    const b = new BtfBuilder();
    b.fwd('thing');
    const u = b.int('int', 4);
    b.struct('thing', 4, [{ name: 'x', type: u, bitOffset: 0 }]);
    b.union('only_union', 4, [{ name: 'y', type: u, bitOffset: 0 }]);
    const btf = new Btf(b.build());
    expect(btf.structByName('thing')).toMatchObject({ kind: 'struct', size: 4 });
    expect(btf.structByName('only_union')).toMatchObject({ kind: 'union' });
    expect(btf.structByName('int')).toBeUndefined();
  });
});

/** Run `fn`, expecting a BtfError (and no hang: within 5 s even on a loaded CI machine). */
function btfError(fn: () => unknown): { message: string } {
  const t0 = performance.now();
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BtfError);
    expect(performance.now() - t0).toBeLessThan(5000);
    return { message: (err as Error).message };
  }
  throw new Error('expected a BtfError');
}

describe('hostile BTF blobs give a clear BtfError, quickly', () => {
  it('bad headers', () => {
    const { b } = kernelLike();
    expect(btfError(() => new Btf(new Uint8Array(10))).message).toMatch(
      /too short for the 24-byte BTF header/,
    );
    expect(btfError(() => new Btf(b.build({ magic: 0x1234 }))).message).toMatch(/magic 0xeb9f/);
    expect(btfError(() => new Btf(b.build({ version: 2 }))).message).toMatch(/version 2/);
    expect(btfError(() => new Btf(b.build({ hdrLen: 8 }))).message).toMatch(/header length 8/);
    expect(btfError(() => new Btf(b.build({ hdrLen: 0xffffffff }))).message).toMatch(/header length/);
    // A longer header (a later BTF version's fields) is skipped over.
    expect(new Btf(b.build({ hdrLen: 32 })).structByName('task_struct')!.size).toBe(128);
    expect(btfError(() => new Btf(b.build({ typeLen: 0xfffffff0 }))).message).toMatch(
      /type section .* runs past the end/,
    );
    expect(btfError(() => new Btf(b.build({ strOff: 0xffffffff, strLen: 0xffffffff }))).message).toMatch(
      /string section/,
    );
    expect(btfError(() => new Btf(b.build({ strLen: 0 }))).message).toMatch(/start with an empty string/);
    expect(btfError(() => new Btf(b.build({ typeOff: 2 }))).message).toMatch(/not 4-byte aligned|runs past/);
    expect(btfError(() => new Btf(new Uint8Array(MAX_BTF_BYTES + 1))).message).toMatch(/limit/);
  });

  it('every truncation of a blob is refused with a BtfError or parses what is left, never anything else', () => {
    const { bytes } = kernelLike();
    for (let n = 0; n < bytes.length; n++) {
      const cut = bytes.slice(0, n);
      try {
        const btf = new Btf(cut);
        exercise(btf);
      } catch (err) {
        expect(err, `cut at ${n}`).toBeInstanceOf(BtfError);
      }
    }
  });

  it('absurd counts: a struct claiming 65535 members, an unknown kind', () => {
    const b = new BtfBuilder();
    b.int('int', 4);
    b.raw(b.str('huge'), BtfKind.STRUCT, 0xffff, 8, [0, 1, 0]);
    expect(btfError(() => new Btf(b.build())).message).toMatch(
      /type 2 \(struct, 65535 entries\) .* runs past the end of the type section/,
    );
    const k = new BtfBuilder();
    k.raw(0, 25, 0, 0);
    expect(btfError(() => new Btf(k.build())).message).toMatch(/unknown kind 25/);
  });

  it('typedef loops, self-nested arrays and anonymous members, dangling ids and names', () => {
    const b = new BtfBuilder();
    const a = b.typedef('a', b.nextId + 1);
    b.typedef('b', a); // a → b → a
    const selfArray = b.array(b.nextId, 1); // an array of itself
    const loopStruct = b.nextId;
    b.struct('loop', 8, [
      { name: '', type: loopStruct, bitOffset: 0 },
      { name: '', type: loopStruct + 1, bitOffset: 0 },
    ]);
    b.typedef('loop_t', loopStruct);
    b.struct('dangling', 8, [{ name: 'x', type: 9999, bitOffset: 0 }]);
    const badName = b.raw(0xfffff, BtfKind.INT, 0, 4, [32]); // name offset outside the string section
    const huge = b.struct('huge', 0xffffffff, []);
    b.typedef('huge_array', b.array(b.array(huge, 0xffffffff), 0xffffffff));
    const btf = new Btf(b.build());
    expect(btfError(() => btf.resolve(a)).message).toMatch(/longer than 64 links \(a loop\?\)/);
    expect(btfError(() => btf.sizeOf(a)).message).toMatch(/a loop\?/);
    expect(btfError(() => btf.sizeOf(selfArray)).message).toMatch(/nest more than 64 deep/);
    expect(btf.findMember('loop', 'missing')).toBeUndefined();
    expect(btfError(() => btf.sizeOf(btf.findMember('dangling', 'x')!.type)).message).toMatch(
      /type id 9999 does not exist/,
    );
    expect(btfError(() => btf.type(badName)).message).toMatch(/string offset .* outside/);
    expect(btfError(() => btf.sizeOf(btf.idsByName('huge_array')[0]!)).message).toMatch(/overflows/);
    expect(btfError(() => btf.type(0)).message).toMatch(/0 is void/);
    expect(btf.idsByName('a')).toEqual([a]); // the damaged name does not stop the name index
  });

  it('a struct graph built to be exponential is searched in linear time', () => {
    // 40 levels of structs, each with 2000 anonymous members all of the next level's type.
    const b = new BtfBuilder();
    const u = b.int('unsigned int', 4);
    const first = b.nextId;
    const levels = 40;
    for (let level = 0; level < levels; level++) {
      const next = level === levels - 1 ? u : first + level + 1;
      b.struct(
        level === 0 ? 'top' : `level${level}`,
        4,
        Array.from({ length: 2000 }, () => ({ name: '', type: next, bitOffset: 0 })),
      );
    }
    const btf = new Btf(b.build());
    const t0 = performance.now();
    expect(btf.findMember('top', 'nothing')).toBeUndefined();
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('a string without its NUL at the end of the section', () => {
    const b = new BtfBuilder();
    b.int('int', 4);
    const bytes = b.build();
    bytes[bytes.length - 1] = 0x41; // "int" loses its terminator
    const btf = new Btf(bytes);
    expect(btfError(() => btf.type(1)).message).toMatch(/no terminating NUL/);
    expect(btf.idsByName('int')).toEqual([]);
  });
});

/** Every query the task reader makes, on whatever the blob holds. */
function exercise(btf: Btf): void {
  for (const name of ['task_struct', 'rq', 'list_head', 'loop']) {
    const s = btf.structByName(name);
    if (!s) continue;
    for (const m of s.members) {
      if (m.name) btf.findMember(name, m.name);
      btf.sizeOf(m.type);
    }
    btf.findMember(name, 'comm');
  }
  for (let id = 1; id <= Math.min(btf.count, 200); id++) btf.type(id);
}

describe('seeded mutations of BTF blobs', () => {
  it('test-built blob: 3000 mutants each parse and answer, or fail with a BtfError, allocating little', () => {
    const { bytes } = kernelLike();
    const rng = new Rng(0xb7f);
    let refused = 0;
    let largest = 0;
    const t0 = performance.now();
    const meter = new AllocationMeter();
    meter.install();
    try {
      for (let i = 0; i < 3000; i++) {
        const m = mutate(bytes, rng);
        meter.start();
        try {
          exercise(new Btf(m));
        } catch (err) {
          if (!(err instanceof BtfError)) throw new Error(`case ${i}: ${(err as Error).stack}`);
          refused++;
        } finally {
          largest = Math.max(largest, meter.stop().largest);
        }
      }
    } finally {
      meter.uninstall();
    }
    expect(refused).toBeGreaterThan(100);
    // Whatever the counts and lengths say, nothing bigger than the blob itself is allocated.
    expect(largest).toBeGreaterThan(0); // the meter saw the type index
    expect(largest).toBeLessThanOrEqual(bytes.length);
    expect(performance.now() - t0).toBeLessThan(20_000);
  });
});

function mutate(bytes: Uint8Array, rng: Rng): Uint8Array {
  const out = bytes.slice();
  const n = 1 + rng.int(4);
  for (let k = 0; k < n; k++) {
    const at = rng.int(out.length);
    const choice = rng.int(4);
    if (choice === 0) out[at] = rng.int(256);
    else if (choice === 1) out[at] ^= 1 << rng.int(8);
    else if (choice === 2 && at + 4 <= out.length)
      new DataView(out.buffer).setUint32(at & ~3, rng.pick([0, 1, 0xffff, 0xffffffff, rng.u32()]), true);
    else out[at] = 0;
  }
  return rng.chance(0.1) ? out.subarray(0, rng.int(out.length)) : out;
}

/**
 * The layout Debian 6.1.0-56-amd64's debug vmlinux describes in DWARF, as gdb prints it
 * (`print sizeof(struct task_struct)`, `print &((struct task_struct *)0)->comm`, `ptype/o`, …).
 */
const DWARF_LAYOUT: Record<
  string,
  { struct: string; member?: string; bytes?: number; bits?: number; size?: number }[]
> = {
  '6.1.0-56-amd64': [
    { struct: 'task_struct', size: 9792 },
    { struct: 'task_struct', member: 'comm', bytes: 0xba0 },
    { struct: 'task_struct', member: 'pid', bytes: 0x970 },
    { struct: 'task_struct', member: 'tgid', bytes: 0x974 },
    { struct: 'task_struct', member: 'thread.sp', bytes: 0x1518 },
    { struct: 'task_struct', member: 'sched_reset_on_fork', bits: 2340 * 8 },
    { struct: 'task_struct', member: 'in_execve', bits: 2344 * 8 + 2 },
    { struct: 'rq', size: 3264 },
    { struct: 'rq', member: 'curr', bytes: 0x960 },
    // Inside anonymous unions and structs.
    { struct: 'page', size: 64 },
    { struct: 'page', member: 'mapping', bytes: 0x18 },
    { struct: 'page', member: 'compound_head', bytes: 0x8 },
    { struct: 'sk_buff', member: 'len', bytes: 0x70 },
  ],
};

const dumps = corpus();

describe.each(dumps.map((d) => [d.name, d] as const))('the kernel BTF of %s', (_name, ref) => {
  let k: OpenedKernel | string;
  let symbols: SymbolTable;
  let btf: Btf;
  beforeAll(async () => {
    k = await openCorpusKernel(ref);
    if (typeof k === 'string') return;
    // The arm64 kernel's kallsyms has no data symbols: its System.map finds __start_BTF.
    const map = systemMapFor(ref);
    symbols = map
      ? await loadSystemMap(map, { arch: k.dump.arch.name, vmcoreinfo: k.dump.vmcoreinfo, memory: k.space })
      : await loadKallsyms(k.space, k.dump.vmcoreinfo);
    btf = await readKernelBtf(k.space, symbols);
  });
  afterAll(async () => {
    if (typeof k !== 'string') await k?.dump.close();
  });

  it('is read from the dump between __start_BTF and __stop_BTF', (ctx) => {
    if (typeof k === 'string') ctx.skip(k);
    expect(btf.count).toBeGreaterThan(50_000);
    expect(btf.name).toBe(`the kernel BTF at 0x${symbols.lookup('__start_BTF')!.address.toString(16)}`);
    expect(btf.structByName('task_struct')!.size).toBeGreaterThan(1000);
    expect(btf.sizeOf(btf.findMember('task_struct', 'comm')!.type)).toBe(16);
  });

  it('matches the layout in the debug vmlinux DWARF, anonymous members and bitfields included', (ctx) => {
    const layout = DWARF_LAYOUT[ref.truth.kernel.osrelease];
    if (!layout) ctx.skip(`no DWARF layout recorded for ${ref.truth.kernel.osrelease}`);
    for (const l of layout!) {
      const what = `${l.struct}${l.member ? `.${l.member}` : ''}`;
      if (l.size !== undefined) expect(btf.structSize(l.struct), what).toBe(l.size);
      if (l.bytes !== undefined) expect(btf.memberOffset(l.struct, l.member!), what).toBe(l.bytes);
      if (l.bits !== undefined) expect(btf.findMember(l.struct, l.member!)?.bitOffset, what).toBe(l.bits);
    }
  });

  it('reads pid and comm of every task drgn listed, and init_task as swapper/0', async (ctx) => {
    if (typeof k === 'string') ctx.skip(k);
    const o = k as OpenedKernel;
    const pidAt = btf.memberOffset('task_struct', 'pid');
    const commAt = btf.memberOffset('task_struct', 'comm');
    const tasks = ref.truth.drgn.tasks as { pid: number; comm: string; task: string }[];
    expect(tasks.length).toBeGreaterThan(20);
    const read = async (address: bigint) => {
      const pid = await readFully(o.space, address + BigInt(pidAt), 4);
      const comm = await readFully(o.space, address + BigInt(commAt), 16);
      return {
        pid: new DataView(pid.buffer, pid.byteOffset, 4).getInt32(0, true),
        comm: Buffer.from(comm.subarray(0, comm.indexOf(0))).toString('utf8'),
      };
    };
    let matched = 0;
    for (const t of tasks) {
      expect(await read(BigInt(t.task)), t.task).toEqual({ pid: t.pid, comm: t.comm });
      matched++;
    }
    expect(matched).toBe(tasks.length);
    expect(await read(symbols.lookup('init_task')!.address)).toEqual({ pid: 0, comm: 'swapper/0' });
  });

  it("is byte for byte the debug vmlinux's .BTF section", async (ctx) => {
    if (ref.truth.arch !== 'x86_64') ctx.skip('no debug vmlinux for this kernel in the test cache');
    const fromFile = await readVmlinuxBtf(vmlinuxPath(ref.truth.kernel.osrelease));
    expect(fromFile).toBeDefined();
    expect(Buffer.compare(Buffer.from(fromFile!.bytes), Buffer.from(btf.bytes))).toBe(0);
    expect(fromFile!.name).toMatch(/^the \.BTF section of /);
  });
});

describe('the real BTF, mutated', () => {
  const x86 = dumps.find((d) => d.truth.arch === 'x86_64');
  it.skipIf(!x86)('40 mutants of a 4 MB kernel BTF parse and answer, or fail with a BtfError', async () => {
    const real = await readVmlinuxBtf(vmlinuxPath(x86!.truth.kernel.osrelease));
    const rng = new Rng(6119);
    const t0 = performance.now();
    for (let i = 0; i < 40; i++) {
      const m = real!.bytes.slice();
      // A third of the mutations hit the header, the rest anywhere (type records, strings).
      for (let j = 0; j < 8; j++) m[rng.chance(0.3) ? rng.int(24) : rng.int(m.length)] = rng.int(256);
      try {
        exercise(new Btf(m));
      } catch (err) {
        if (!(err instanceof BtfError)) throw new Error(`case ${i}: ${(err as Error).stack}`);
      }
    }
    expect(performance.now() - t0).toBeLessThan(30_000);
  });

  it('a file that is not ELF is refused', async () => {
    await expect(readVmlinuxBtf(__filename)).rejects.toThrow(/not an ELF file/);
  });
});
