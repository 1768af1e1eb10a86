/**
 * NT_PRSTATUS register decoding for every architecture, from ELF cores built here with each register
 * value written at the offset the kernel's own struct definitions give (computed by test/arch/cstruct.ts
 * from the C declarations, not taken from src/arch or the format documentation), in ELF64 and ELF32,
 * little and big endian.
 */
import { describe, expect, it } from 'vitest';
import { openDumpSource } from '../../src/dump/open';
import { MemorySource } from '../../src/dump/source';
import { hex } from '../../src/util/bytes';
import {
  ByteWriter,
  buildElfCore,
  EM,
  type NoteSpec,
  NT_PRSTATUS,
  pattern,
  vmcoreinfoNote,
} from '../support/elfBuilder';
import { abi, array, type CType, offsetOf, struct } from './cstruct';

interface ArchCase {
  arch: string;
  machine: number;
  wordSize: 4 | 8;
  /** ELF classes and byte orders real producers use for this arch. */
  variants: { elfClass: 32 | 64; littleEndian: boolean }[];
  /** The arch's elf_gregset_t as its C declaration. */
  gregset: CType;
  /** C member path inside pr_reg → the name the library reports. */
  registers: [string, string][];
  /** C member paths of the program counter and stack pointer. */
  pc: string;
  sp: string;
  /** Register path and a value that means user mode / kernel mode. */
  mode: { path: string; user: bigint; kernel: bigint };
  /** sizeof(elf_gregset_t) as the kernel headers state it (ELF_NGREG × sizeof(elf_greg_t)). */
  gregsetSize: number;
}

const LP64 = abi(8);
const ILP32 = abi(4);

const x86_64Names = [
  ['r15', 'r15'],
  ['r14', 'r14'],
  ['r13', 'r13'],
  ['r12', 'r12'],
  ['bp', 'rbp'],
  ['bx', 'rbx'],
  ['r11', 'r11'],
  ['r10', 'r10'],
  ['r9', 'r9'],
  ['r8', 'r8'],
  ['ax', 'rax'],
  ['cx', 'rcx'],
  ['dx', 'rdx'],
  ['si', 'rsi'],
  ['di', 'rdi'],
  ['orig_ax', 'orig_rax'],
  ['ip', 'rip'],
  ['cs', 'cs'],
  ['flags', 'eflags'],
  ['sp', 'rsp'],
  ['ss', 'ss'],
  ['fs_base', 'fs_base'],
  ['gs_base', 'gs_base'],
  ['ds', 'ds'],
  ['es', 'es'],
  ['fs', 'fs'],
  ['gs', 'gs'],
] as [string, string][];

const i386Names = [
  ['bx', 'ebx'],
  ['cx', 'ecx'],
  ['dx', 'edx'],
  ['si', 'esi'],
  ['di', 'edi'],
  ['bp', 'ebp'],
  ['ax', 'eax'],
  ['ds', 'ds'],
  ['es', 'es'],
  ['fs', 'fs'],
  ['gs', 'gs'],
  ['orig_ax', 'orig_eax'],
  ['ip', 'eip'],
  ['cs', 'cs'],
  ['flags', 'eflags'],
  ['sp', 'esp'],
  ['ss', 'ss'],
] as [string, string][];

const riscvNames = [
  'pc',
  'ra',
  'sp',
  'gp',
  'tp',
  't0',
  't1',
  't2',
  's0',
  's1',
  'a0',
  'a1',
  'a2',
  'a3',
  'a4',
  'a5',
  'a6',
  'a7',
  's2',
  's3',
  's4',
  's5',
  's6',
  's7',
  's8',
  's9',
  's10',
  's11',
  't3',
  't4',
  't5',
  't6',
];

const ppcTail = [
  'nip',
  'msr',
  'orig_gpr3',
  'ctr',
  'link',
  'xer',
  'ccr',
  'softe',
  'trap',
  'dar',
  'dsisr',
  'result',
];

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

const CASES: ArchCase[] = [
  {
    arch: 'x86_64',
    machine: EM.x86_64,
    wordSize: 8,
    variants: [
      { elfClass: 64, littleEndian: true },
      { elfClass: 32, littleEndian: true }, // kexec --elf32-core-headers
    ],
    // arch/x86/include/asm/user_64.h: struct user_regs_struct
    gregset: LP64.longs(x86_64Names.map(([c]) => c)),
    registers: x86_64Names,
    pc: 'ip',
    sp: 'sp',
    mode: { path: 'cs', user: 0x33n, kernel: 0x10n },
    gregsetSize: 27 * 8,
  },
  {
    arch: 'i386',
    machine: EM.i386,
    wordSize: 4,
    variants: [
      { elfClass: 32, littleEndian: true },
      { elfClass: 64, littleEndian: true }, // RAM above 4 GiB, or --elf64-core-headers
    ],
    // arch/x86/include/asm/user_32.h: struct user_regs_struct
    gregset: ILP32.longs(i386Names.map(([c]) => c)),
    registers: i386Names,
    pc: 'ip',
    sp: 'sp',
    mode: { path: 'cs', user: 0x73n, kernel: 0x60n },
    gregsetSize: 17 * 4,
  },
  {
    arch: 'aarch64',
    machine: EM.aarch64,
    wordSize: 8,
    variants: [{ elfClass: 64, littleEndian: true }],
    // arch/arm64/include/uapi/asm/ptrace.h: struct user_pt_regs
    gregset: struct([
      ['regs', array(LP64.u64, 31)],
      ['sp', LP64.u64],
      ['pc', LP64.u64],
      ['pstate', LP64.u64],
    ]),
    registers: [
      ...range(31).map((i) => [`regs[${i}]`, `x${i}`] as [string, string]),
      ['sp', 'sp'],
      ['pc', 'pc'],
      ['pstate', 'pstate'],
    ],
    pc: 'pc',
    sp: 'sp',
    mode: { path: 'pstate', user: 0x0n, kernel: 0x3c5n },
    gregsetSize: 34 * 8,
  },
  {
    arch: 'arm',
    machine: EM.arm,
    wordSize: 4,
    variants: [
      { elfClass: 32, littleEndian: true },
      { elfClass: 32, littleEndian: false },
    ],
    // arch/arm/include/asm/elf.h: elf_gregset_t = elf_greg_t[ELF_NGREG = 18] (uregs: r0-r15, cpsr, ORIG_r0)
    gregset: struct([['uregs', array(ILP32.long, 18)]]),
    registers: [
      ...range(16).map((i) => [`uregs[${i}]`, `r${i}`] as [string, string]),
      ['uregs[16]', 'cpsr'],
      ['uregs[17]', 'orig_r0'],
    ],
    pc: 'uregs[15]',
    sp: 'uregs[13]',
    mode: { path: 'uregs[16]', user: 0x6000_0010n, kernel: 0x6000_0013n },
    gregsetSize: 18 * 4,
  },
  ...[false, true].map(
    (le): ArchCase => ({
      arch: 'ppc64',
      machine: EM.ppc64,
      wordSize: 8,
      variants: [{ elfClass: 64, littleEndian: le }],
      // arch/powerpc/include/uapi/asm/ptrace.h: struct user_pt_regs, inside elf_gregset_t (ELF_NGREG = 48)
      gregset: struct([
        ['gpr', array(LP64.long, 32)],
        ...ppcTail.map((n) => [n, LP64.long] as [string, CType]),
        ['unused', array(LP64.long, 4)],
      ]),
      registers: [
        ...range(32).map((i) => [`gpr[${i}]`, `r${i}`] as [string, string]),
        ...ppcTail.map((n) => [n, n] as [string, string]),
      ],
      pc: 'nip',
      sp: 'gpr[1]',
      mode: { path: 'msr', user: 0x8000_0000_0000_d033n, kernel: 0x8000_0000_0000_9033n },
      gregsetSize: 48 * 8,
    }),
  ),
  {
    arch: 's390x',
    machine: EM.s390,
    wordSize: 8,
    variants: [{ elfClass: 64, littleEndian: false }],
    // arch/s390/include/asm/elf.h + uapi ptrace.h: s390_regs { psw_t psw; gprs[16]; unsigned int acrs[16]; orig_gpr2 }
    gregset: struct([
      [
        'psw',
        struct([
          ['mask', LP64.long],
          ['addr', LP64.long],
        ]),
      ],
      ['gprs', array(LP64.long, 16)],
      ['acrs', array(LP64.u32, 16)],
      ['orig_gpr2', LP64.long],
    ]),
    registers: [
      ['psw.mask', 'psw_mask'],
      ['psw.addr', 'psw_addr'],
      ...range(16).map((i) => [`gprs[${i}]`, `r${i}`] as [string, string]),
      ...range(16).map((i) => [`acrs[${i}]`, `a${i}`] as [string, string]),
      ['orig_gpr2', 'orig_gpr2'],
    ],
    pc: 'psw.addr',
    sp: 'gprs[15]',
    mode: { path: 'psw.mask', user: 0x0705_0001_8000_0000n, kernel: 0x0404_c001_8000_0000n },
    gregsetSize: 216,
  },
  {
    arch: 'riscv64',
    machine: EM.riscv,
    wordSize: 8,
    variants: [{ elfClass: 64, littleEndian: true }],
    // arch/riscv/include/uapi/asm/ptrace.h: struct user_regs_struct
    gregset: LP64.longs(riscvNames),
    registers: riscvNames.map((n) => [n, n] as [string, string]),
    pc: 'pc',
    sp: 'sp',
    mode: { path: 'pc', user: 0x0000_0000_0001_0b34n, kernel: 0xffff_ffff_8000_2000n },
    gregsetSize: 32 * 8,
  },
];

/** sizeof(struct elf_prstatus) as BFD and binutils know it per arch (elf_*_grok_prstatus). */
const KNOWN_PRSTATUS_SIZE: Record<string, number> = {
  x86_64: 336,
  i386: 144,
  aarch64: 392,
  arm: 148,
  ppc64: 504,
  s390x: 336,
  riscv64: 376,
};

/** A value for register `i` of note `cpu`: every byte distinct, so byte-order or width mistakes show. */
function valueFor(cpu: number, i: number, size: number): bigint {
  if (size === 4) return BigInt((0xc4000000 | (cpu << 16) | (i << 8) | 0x17) >>> 0);
  return 0xf1e2_d3c4_0000_0000n | (BigInt(cpu) << 24n) | (BigInt(i) << 8n) | 0x17n;
}

interface BuiltPrstatus {
  desc: Uint8Array;
  expected: Map<string, bigint>;
}

function prstatusNote(
  c: ArchCase,
  le: boolean,
  cpu: number,
  pid: number,
  override: Record<string, bigint> = {},
): BuiltPrstatus {
  const t = (c.wordSize === 8 ? LP64 : ILP32).elfPrstatus(c.gregset);
  const w = new ByteWriter(le);
  w.reserve(t.size);
  // Unrelated fields get non-zero values so a reader looking at the wrong place sees garbage.
  w.u32(offsetOf(t, 'common.pr_info.si_signo').offset, 11);
  w.u32(offsetOf(t, 'common.pr_ppid').offset, 0x7777);
  w.u32(offsetOf(t, 'common.pr_pid').offset, pid);
  w.u32(offsetOf(t, 'pr_fpvalid').offset, 0x5a5a5a5a);
  const expected = new Map<string, bigint>();
  c.registers.forEach(([path, name], i) => {
    const { offset, size } = offsetOf(t, `pr_reg.${path}`);
    const v = override[path] ?? valueFor(cpu, i, size);
    w.word(offset, v, size as 4 | 8);
    expected.set(name, v);
  });
  return { desc: w.result(), expected };
}

function variantName(v: { elfClass: number; littleEndian: boolean }) {
  return `ELF${v.elfClass} ${v.littleEndian ? 'LE' : 'BE'}`;
}

const rows = CASES.flatMap((c) => c.variants.map((v) => [`${c.arch} ${variantName(v)}`, c, v] as const));

describe.each(rows)('%s', (_label, c, v) => {
  const t = (c.wordSize === 8 ? LP64 : ILP32).elfPrstatus(c.gregset);

  it('the struct definitions give the sizes binutils knows', () => {
    expect(c.gregset.size).toBe(c.gregsetSize);
    expect(t.size).toBe(KNOWN_PRSTATUS_SIZE[c.arch]);
  });

  it('decodes pid and every register of every CPU note, and finds pc/sp', async () => {
    const cpus = [
      prstatusNote(c, v.littleEndian, 0, 4242),
      prstatusNote(c, v.littleEndian, 1, 0),
      prstatusNote(c, v.littleEndian, 2, 17),
    ];
    const ram = pattern(4096, 7);
    const notes: NoteSpec[] = [
      ...cpus.map((p) => ({ name: 'CORE', type: NT_PRSTATUS, desc: p.desc })),
      vmcoreinfoNote({ OSRELEASE: `6.1.0-test-${c.arch}`, PAGESIZE: 65536 }),
    ];
    const elf = buildElfCore({
      class: v.elfClass,
      littleEndian: v.littleEndian,
      machine: c.machine,
      segments: [
        { kind: 'note', notes },
        { kind: 'load', paddr: 0x4000_0000n, data: ram },
      ],
    });
    const dump = await openDumpSource(new MemorySource(elf.bytes, `${c.arch}.elf`));
    expect(dump.arch.name).toBe(c.arch);
    expect(dump.littleEndian).toBe(v.littleEndian);
    expect(dump.details.elfClass).toBe(`ELF${v.elfClass}`);
    expect(dump.vmcoreinfo?.osRelease).toBe(`6.1.0-test-${c.arch}`);
    expect(dump.memory.pageSize).toBe(65536);
    expect(dump.prstatus.map((p) => p.pid)).toEqual([4242, 0, 17]);
    expect(dump.problems.filter((p) => p.kind === 'notes')).toEqual([]);
    cpus.forEach((cpu, i) => {
      const got = dump.prstatus[i]!;
      expect(got.noteIndex).toBe(i);
      expect(got.desc.length).toBe(t.size);
      // Every register, and no others.
      expect(new Map(got.registers)).toEqual(cpu.expected);
      const pcIndex = c.registers.findIndex(([p]) => p === c.pc);
      const spIndex = c.registers.findIndex(([p]) => p === c.sp);
      expect(got.registers.get(dump.arch.pc)).toBe(valueFor(i, pcIndex, c.wordSize));
      expect(got.registers.get(dump.arch.sp)).toBe(valueFor(i, spIndex, c.wordSize));
    });
    // The memory is there too, whatever the class and byte order.
    const r = await dump.memory.read(0x4000_0000n + 100n, 32);
    expect(r.gaps).toEqual([]);
    expect(hex(r.bytes)).toBe(hex(ram.subarray(100, 132)));
    await dump.close();
  });

  it('tells user mode from kernel mode by the saved state', async () => {
    const modes: boolean[] = [];
    for (const value of [c.mode.user, c.mode.kernel]) {
      const p = prstatusNote(c, v.littleEndian, 0, 1, { [c.mode.path]: value });
      const elf = buildElfCore({
        class: v.elfClass,
        littleEndian: v.littleEndian,
        machine: c.machine,
        segments: [{ kind: 'note', notes: [{ name: 'CORE', type: NT_PRSTATUS, desc: p.desc }] }],
      });
      const dump = await openDumpSource(new MemorySource(elf.bytes));
      modes.push(dump.arch.isUserMode(dump.prstatus[0]!.registers));
    }
    expect(modes).toEqual([true, false]);
  });

  it('reports a register note too short for the arch instead of reading past it', async () => {
    const p = prstatusNote(c, v.littleEndian, 0, 1);
    const lastReg = offsetOf(t, `pr_reg.${c.registers[c.registers.length - 1]![0]}`);
    const elf = buildElfCore({
      class: v.elfClass,
      littleEndian: v.littleEndian,
      machine: c.machine,
      segments: [
        {
          kind: 'note',
          notes: [{ name: 'CORE', type: NT_PRSTATUS, desc: p.desc.subarray(0, lastReg.offset + 2) }],
        },
      ],
    });
    const dump = await openDumpSource(new MemorySource(elf.bytes));
    expect(dump.prstatus).toEqual([]);
    expect(dump.problems.find((x) => x.kind === 'notes')?.message).toMatch(/NT_PRSTATUS note #0 .* bytes/);
  });
});
