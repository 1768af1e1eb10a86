/**
 * AArch64 disassembly (Capstone) against binutils' objdump on the same bytes, read from the real arm64
 * dumps: the code around every CPU's saved pc and whole functions on the panic path. Numbers are
 * compared by value (objdump prints `#256` where Capstone prints `#0x100`), everything else as text;
 * objdump's `// b.any`-style alias comments are not part of the instruction.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disassemblerFor } from '../../src/disasm';
import { Aarch64Disassembler } from '../../src/disasm/aarch64';
import { disassembleWindow } from '../../src/disasm/window';
import { KernelDump } from '../../src/kernel/kernelDump';
import { corpus, systemMapFor } from '../support/corpus';
import { cleanTmp, tmp } from '../support/tmp';

const OBJDUMP = 'aarch64-linux-gnu-objdump';

function objdump(bytes: Uint8Array, address: bigint, dir: string): Map<bigint, string> {
  const file = join(dir, `code-${address.toString(16)}.bin`);
  writeFileSync(file, bytes);
  let text: string;
  try {
    text = execFileSync(
      OBJDUMP,
      ['-D', '-b', 'binary', '-maarch64', `--adjust-vma=0x${address.toString(16)}`, file],
      {
        encoding: 'utf8',
      },
    );
  } catch (err) {
    throw new Error(
      `${OBJDUMP} is the reference for these tests: install Debian's binutils-aarch64-linux-gnu (${(err as Error).message})`,
    );
  }
  const out = new Map<bigint, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*([0-9a-f]+):\s+[0-9a-f]{8}\s+(.*)$/.exec(line);
    if (m) out.set(BigInt(`0x${m[1]}`), m[2]!);
  }
  return out;
}

/**
 * Same text modulo number spelling, objdump's `<symbol>` notes and whitespace. objdump prints a W
 * register's move of a negative value unsigned (`mov w1, #0xffffffff // #-1`), naming the signed value
 * in its comment: that value stands for the last immediate.
 */
function normalize(text: string): string {
  const comment = /\s*\/\/\s*(.*)$/.exec(text);
  if (comment) {
    text = text.slice(0, comment.index);
    if (/^mov\s/.test(text) && /^#-?\w+$/.test(comment[1]!)) text = text.replace(/#[-\w]+$/, comment[1]!);
  }
  return text
    .replace(/\s*<[^>]*>/g, '')
    .replace(/#?(-?)(0x[0-9a-f]+|\d+)\b/gi, (_m, sign: string, n: string) => `${sign}${BigInt(n).toString()}`)
    .replace(/\s+/g, ' ')
    .trim();
}

describe('aarch64 decoding', () => {
  let dis: Aarch64Disassembler;
  beforeAll(async () => {
    dis = await Aarch64Disassembler.create();
  });

  const words = (...w: number[]) => {
    const b = Buffer.alloc(w.length * 4);
    w.forEach((x, i) => {
      b.writeUInt32LE(x >>> 0, i * 4);
    });
    return b;
  };

  it('gives branch, adr/adrp and literal-load targets as references at full 64-bit addresses', () => {
    // bl +0x100; adrp x0, +0x1000 page; b.ne -8; cbz x1, +16; ldr x0, literal +8; ret
    const code = words(0x94000040, 0xb0000000, 0x54ffffc1, 0xb4000081, 0x58000040, 0xd65f03c0);
    const at = 0xffffd6bb74a10000n;
    const list = dis.decode(code, at, 100);
    expect(list.map((i) => i.text)).toEqual([
      'bl 0xffffd6bb74a10100',
      'adrp x0, 0xffffd6bb74a11000',
      'b.ne 0xffffd6bb74a10000',
      'cbz x1, 0xffffd6bb74a1001c',
      'ldr x0, 0xffffd6bb74a10018',
      'ret',
    ]);
    expect(list.map((i) => i.reference)).toEqual([
      0xffffd6bb74a10100n,
      0xffffd6bb74a11000n,
      0xffffd6bb74a10000n,
      0xffffd6bb74a1001cn,
      0xffffd6bb74a10018n,
      undefined,
    ]);
    expect(list.map((i) => i.address)).toEqual([0n, 4n, 8n, 12n, 16n, 20n].map((d) => at + d));
  });

  it('marks words that do not decode and goes on after them, never beyond max or the bytes', () => {
    // 0xffffffff is unallocated in every AArch64 version capstone knows.
    const code = words(0xd503201f, 0xffffffff, 0xffffffff, 0xd65f03c0);
    const list = dis.decode(code, 0x1000n, 100);
    expect(list.map((i) => [i.text, i.invalid === true])).toEqual([
      ['nop', false],
      ['(bad)', true],
      ['(bad)', true],
      ['ret', false],
    ]);
    expect(Buffer.from(list[1]!.bytes).toString('hex')).toBe('ffffffff');
    expect(dis.decode(code, 0x1000n, 2)).toHaveLength(2);
    expect(dis.decode(code.subarray(0, 7), 0x1000n, 100)).toHaveLength(1);
  });

  it('decodes big-endian code when asked', async () => {
    const be = await Aarch64Disassembler.create(true);
    const code = Buffer.from('d65f03c0', 'hex');
    expect(be.decode(code, 0n, 1)[0]!.text).toBe('ret');
  });
});

const arm64 = corpus().filter((d) => d.truth.arch === 'aarch64');

describe.each(arm64.map((d) => [d.name, d] as const))('%s: Capstone agrees with objdump', (_name, ref) => {
  let k: KernelDump;
  const dir = tmp('aarch64-dis-');

  beforeAll(async () => {
    k = await KernelDump.open(ref.path, { systemMap: systemMapFor(ref) });
  });
  afterAll(async () => {
    await k?.close();
    cleanTmp();
  });

  async function compare(start: bigint, count: number): Promise<number> {
    const dis = (await disassemblerFor(k.arch))!;
    expect(dis.arch).toBe('aarch64');
    const read = await k.space.read(start, count * 4);
    expect(read.gaps, `code at 0x${start.toString(16)} is in the dump`).toEqual([]);
    const reference = objdump(read.bytes, start, dir);
    const entries = await disassembleWindow(k.space, dis, k.symbols, start, 0, count);
    expect(entries).toHaveLength(count);
    const mismatches: string[] = [];
    for (const e of entries) {
      const theirs = reference.get(e.address);
      expect(theirs, `objdump decoded 0x${e.address.toString(16)}`).toBeDefined();
      if (normalize(e.text) !== normalize(theirs!))
        mismatches.push(`0x${e.address.toString(16)}: ${e.text} | ${theirs}`);
    }
    expect(mismatches).toEqual([]);
    return entries.length;
  }

  it('around every CPU saved pc in kernel mode', async () => {
    let compared = 0;
    for (const cpu of k.cpus) {
      if (k.arch.isUserMode(cpu.registers)) continue;
      const pc = cpu.registers.get('pc')!;
      compared += await compare(pc - 64n * 4n, 128);
    }
    expect(compared).toBeGreaterThan(0);
  });

  it('whole functions on the panic path', async () => {
    expect(k.symbols, 'arm64 needs the System.map from the corpus for symbols').toBeDefined();
    let compared = 0;
    for (const name of ['__crash_kexec', 'panic', 'sysrq_handle_crash', 'el1h_64_sync', 'do_mem_abort']) {
      const sym = k.symbols!.lookup(name);
      expect(sym, name).toBeDefined();
      const extent = k.symbolize(sym!.address)?.extent ?? 0x400n;
      compared += await compare(sym!.address, Number(extent / 4n));
    }
    console.log(`${ref.name}: ${compared} instructions of 5 functions equal objdump's`);
    expect(compared).toBeGreaterThan(200);
  });
});
