/**
 * The loaded kernel modules and their symbols, read from the dump: the `modules` list of
 * `struct module`, each with its name, where its code and data lie, and its own symbol table
 * (`mod->kallsyms`: ELF symbols, string table and the nm-style type of each symbol) — the kernel's
 * kallsyms tables hold core-kernel symbols only, so a frame in a driver has a name only through this.
 *
 * Struct offsets come from the kernel's BTF; nothing is read at a guessed offset. Sizes and counts
 * read from the dump are bounded before anything is allocated from them.
 */
import type { Btf } from '../symbols/btf';
import { type KernelSymbol, type SymbolLocation, SymbolTable } from '../symbols/symbolTable';
import { readFully, readPointer, readU32, type VirtualMemory } from '../translate/types';
import type { ModuleCode } from '../unwind/types';

export interface KernelModule {
  name: string;
  /** Address of the struct module. */
  address: bigint;
  /** Start of the module's core code (crash `mod` BASE). */
  base: bigint;
  /** Bytes of the module's core memory (crash `mod` SIZE). */
  size: number;
  /** Where the module's memory lies: [start, end) ranges, code first. */
  ranges: { start: bigint; end: bigint }[];
  /** Its code, with its ORC tables where the kernel keeps them (x86_64), for the unwinder. */
  code: ModuleCode;
  /** The module's own symbols (its core symbol table), address-sorted. */
  symbols: KernelSymbol[];
  /** Why the symbols could not be read, when they could not. */
  symbolsProblem?: string;
}

export interface KernelModules {
  modules: KernelModule[];
  /** Where the list came from, or why there is none. */
  note: string;
}

/** Bounds: more modules than this is a loop in a damaged list, not a kernel. */
const MAX_MODULES = 10_000;
const MAX_SYMBOLS_PER_MODULE = 1_000_000;
/** Symbols of all modules together (a real system has a few hundred thousand). */
const MAX_SYMBOLS_TOTAL = 4_000_000;
const MAX_STRTAB_BYTES = 64 * 1024 * 1024;
const ELF64_SYM_SIZE = 24;
const ELF32_SYM_SIZE = 16;

interface Layout {
  list: number;
  name: number;
  nameLength: number;
  kallsyms: number;
  /** v6.4+: `mem[]` of struct module_memory; before: `core_layout` (struct module_layout). */
  memory: { offset: number; count: number; stride: number; base: number; size: number };
  /** `core_layout.text_size` before v6.4 (the code is the start of the core); v6.4+: mem[MOD_TEXT]. */
  textSize: number | undefined;
  /** x86_64 `mod->arch`: the module's ORC tables. */
  orc: { ip: number; entries: number; count: number } | undefined;
  symtab: number;
  numSymtab: number;
  strtab: number;
  typetab: number | undefined;
}

function layoutFrom(btf: Btf): Layout {
  const nameMember = btf.findMember('module', 'name');
  if (!nameMember) throw new Error('struct module has no name');
  const common = {
    list: btf.memberOffset('module', 'list'),
    name: btf.memberOffset('module', 'name'),
    nameLength: btf.sizeOf(nameMember.type),
    kallsyms: btf.memberOffset('module', 'kallsyms'),
    symtab: btf.memberOffset('mod_kallsyms', 'symtab'),
    numSymtab: btf.memberOffset('mod_kallsyms', 'num_symtab'),
    strtab: btf.memberOffset('mod_kallsyms', 'strtab'),
    typetab: btf.findMember('mod_kallsyms', 'typetab')
      ? btf.memberOffset('mod_kallsyms', 'typetab')
      : undefined,
  };
  const orc = btf.findMember('module', 'arch.orc_unwind_ip')
    ? {
        ip: btf.memberOffset('module', 'arch.orc_unwind_ip'),
        entries: btf.memberOffset('module', 'arch.orc_unwind'),
        count: btf.memberOffset('module', 'arch.num_orcs'),
      }
    : undefined;
  if (common.nameLength <= 0 || common.nameLength > 1024)
    throw new Error(`struct module.name is ${common.nameLength} bytes`);
  const core = btf.findMember('module', 'core_layout');
  if (core) {
    return {
      ...common,
      orc,
      textSize: btf.memberOffset('module_layout', 'text_size'),
      memory: {
        offset: btf.memberOffset('module', 'core_layout'),
        count: 1,
        stride: 0,
        base: btf.memberOffset('module_layout', 'base'),
        size: btf.memberOffset('module_layout', 'size'),
      },
    };
  }
  const mem = btf.findMember('module', 'mem');
  if (!mem) throw new Error('struct module has neither core_layout nor mem[]');
  const stride = btf.structSize('module_memory');
  // MOD_TEXT, MOD_DATA, MOD_RODATA, MOD_RO_AFTER_INIT come before the init types (freed after load).
  const count = Math.min(4, Math.floor(btf.sizeOf(mem.type) / stride));
  return {
    ...common,
    orc,
    textSize: undefined,
    memory: {
      offset: btf.memberOffset('module', 'mem'),
      count,
      stride,
      base: btf.memberOffset('module_memory', 'base'),
      size: btf.memberOffset('module_memory', 'size'),
    },
  };
}

/**
 * Read the loaded modules. Without `btf` or the symbol `modules` the list is empty and the note says
 * why (`btfProblem`: why there is no BTF).
 */
export async function readModules(
  mem: VirtualMemory,
  symbols: SymbolTable | undefined,
  btf: Btf | undefined,
  btfProblem?: string,
  signal?: AbortSignal,
): Promise<KernelModules> {
  if (!btf)
    return {
      modules: [],
      note: `the module list needs the kernel's BTF, and none was found${btfProblem ? `: ${btfProblem}` : ''}`,
    };
  const head = symbols?.lookup('modules');
  if (!symbols || !head)
    return {
      modules: [],
      note: `the module list needs the symbol "modules", which is not in ${symbols ? symbols.description : 'any symbol table'} (kallsyms without CONFIG_KALLSYMS_ALL has only functions): give a System.map or vmlinux`,
    };
  let layout: Layout;
  try {
    layout = layoutFrom(btf);
  } catch (err) {
    return {
      modules: [],
      note: `the module layout cannot be read from ${btf.name}: ${(err as Error).message}`,
    };
  }
  const modules: KernelModule[] = [];
  const seen = new Set<bigint>();
  const budget = { symbols: MAX_SYMBOLS_TOTAL };
  let next = await readPointer(mem, head.address, 'modules.next');
  while (next !== head.address) {
    signal?.throwIfAborted();
    if (seen.has(next) || modules.length >= MAX_MODULES)
      return {
        modules,
        note: `the module list loops or is damaged after ${modules.length} modules; those are shown`,
      };
    seen.add(next);
    const address = next - BigInt(layout.list);
    try {
      modules.push(await readModule(mem, address, layout, budget));
      next = await readPointer(mem, next, `module at 0x${address.toString(16)}: list.next`);
    } catch (err) {
      return {
        modules,
        note: `the module list breaks after ${modules.length} modules: ${(err as Error).message}`,
      };
    }
  }
  const withoutSymbols = modules.filter((m) => m.symbolsProblem).length;
  return {
    modules,
    note: `${modules.length} modules from the kernel's module list (struct module layout from ${btf.name})${withoutSymbols ? `; ${withoutSymbols} without readable symbols` : ''}`,
  };
}

async function readModule(
  mem: VirtualMemory,
  address: bigint,
  layout: Layout,
  budget: { symbols: number },
): Promise<KernelModule> {
  const at = (offset: number) => address + BigInt(offset);
  const nameBytes = await readFully(mem, at(layout.name), layout.nameLength, 'module name');
  const end = nameBytes.indexOf(0);
  if (end <= 0) throw new Error(`struct module at 0x${address.toString(16)} has no name`);
  const name = Buffer.from(nameBytes.subarray(0, end)).toString('utf8');
  const ranges: KernelModule['ranges'] = [];
  let size = 0;
  let base = 0n;
  for (let i = 0; i < layout.memory.count; i++) {
    const m = at(layout.memory.offset + i * layout.memory.stride);
    const start = await readPointer(mem, m + BigInt(layout.memory.base), `${name}: memory base`);
    const length = await readU32(mem, m + BigInt(layout.memory.size), `${name}: memory size`);
    if (i === 0) base = start;
    if (start === 0n || length === 0) continue;
    ranges.push({ start, end: start + BigInt(length) });
    size += length;
  }
  const u32 = (at: bigint, what: string) => readU32(mem, at, `${name}: ${what}`);
  const code: ModuleCode = { name, start: base, end: ranges[0]?.end ?? base };
  if (layout.textSize !== undefined) {
    const textSize = await u32(at(layout.memory.offset + layout.textSize), 'text size');
    code.end = base + BigInt(Math.min(textSize, size));
  }
  if (layout.orc) {
    const count = await u32(at(layout.orc.count), 'arch.num_orcs');
    if (count > 0)
      code.orc = {
        ipTable: await readPointer(mem, at(layout.orc.ip), `${name}: arch.orc_unwind_ip`),
        entryTable: await readPointer(mem, at(layout.orc.entries), `${name}: arch.orc_unwind`),
        count,
      };
  }
  const module: KernelModule = { name, address, base, size, ranges, code, symbols: [] };
  try {
    module.symbols = await readModuleSymbols(mem, at(layout.kallsyms), layout, name, budget);
  } catch (err) {
    module.symbolsProblem = (err as Error).message;
  }
  return module;
}

async function readModuleSymbols(
  mem: VirtualMemory,
  kallsymsPointer: bigint,
  layout: Layout,
  module: string,
  budget: { symbols: number },
): Promise<KernelSymbol[]> {
  const ks = await readPointer(mem, kallsymsPointer, `${module}: kallsyms`);
  if (ks === 0n) throw new Error(`${module} has no symbol table (mod->kallsyms is NULL)`);
  const symtab = await readPointer(mem, ks + BigInt(layout.symtab), `${module}: kallsyms->symtab`);
  const count = await readU32(mem, ks + BigInt(layout.numSymtab), `${module}: num_symtab`);
  if (count > MAX_SYMBOLS_PER_MODULE) throw new Error(`${module}: ${count} symbols is not a symbol table`);
  if (count > budget.symbols)
    throw new Error(`${module}: ${count} more symbols would pass ${MAX_SYMBOLS_TOTAL} for all modules`);
  budget.symbols -= count;
  const strtab = await readPointer(mem, ks + BigInt(layout.strtab), `${module}: kallsyms->strtab`);
  const typetab =
    layout.typetab === undefined
      ? 0n
      : await readPointer(mem, ks + BigInt(layout.typetab), `${module}: kallsyms->typetab`);
  const wide = mem.wordSize === 8;
  const entry = wide ? ELF64_SYM_SIZE : ELF32_SYM_SIZE;
  const table = await readFully(mem, symtab, count * entry, `${module}: symtab`);
  const types = typetab !== 0n ? await readFully(mem, typetab, count, `${module}: typetab`) : undefined;
  const view = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const le = mem.littleEndian;
  const entries: { nameOffset: number; value: bigint; size: bigint; type: string }[] = [];
  let strtabEnd = 0;
  for (let i = 1; i < count; i++) {
    // Elf64_Sym: st_name u32, st_info u8, st_other u8, st_shndx u16, st_value u64, st_size u64;
    // Elf32_Sym: st_name, st_value, st_size u32, st_info u8, st_other u8, st_shndx u16.
    const o = i * entry;
    const nameOffset = view.getUint32(o, le);
    const shndx = view.getUint16(o + (wide ? 6 : 14), le);
    const value = wide ? view.getBigUint64(o + 8, le) : BigInt(view.getUint32(o + 4, le));
    const size = wide ? view.getBigUint64(o + 16, le) : BigInt(view.getUint32(o + 8, le));
    if (nameOffset === 0 || shndx === 0 || value === 0n) continue; // unnamed, undefined
    const type = types ? String.fromCharCode(types[i]!) : '?';
    if (type === 'U' || type === 'u') continue;
    entries.push({ nameOffset, value, size, type });
    if (nameOffset > strtabEnd) strtabEnd = nameOffset;
  }
  if (entries.length === 0) return [];
  // The string table: up to the last name used, plus that name (bounded).
  const length = Math.min(strtabEnd + 512, MAX_STRTAB_BYTES);
  if (strtabEnd >= MAX_STRTAB_BYTES) throw new Error(`${module}: a string table of over 64 MiB`);
  const strings = await readStrtab(mem, strtab, length, module);
  const symbols: KernelSymbol[] = [];
  for (const e of entries) {
    const stop = strings.indexOf(0, e.nameOffset);
    if (stop < 0) continue;
    const name = Buffer.from(strings.subarray(e.nameOffset, stop)).toString('utf8');
    if (!name || name.startsWith('$')) continue; // mapping symbols ($x, $d on arm64)
    symbols.push({ name, address: e.value, type: e.type, size: e.size > 0n ? e.size : undefined, module });
  }
  symbols.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  return symbols;
}

/** The string table, shortened to what the dump has when its end runs past mapped memory. */
async function readStrtab(
  mem: VirtualMemory,
  at: bigint,
  length: number,
  module: string,
): Promise<Uint8Array> {
  const r = await mem.read(at, length);
  const firstGap = r.gaps[0];
  if (!firstGap) return r.bytes;
  const have = firstGap.offset;
  if (have <= 0) throw new Error(`${module}: the string table at 0x${at.toString(16)} is not in the dump`);
  return r.bytes.subarray(0, have);
}

/** Module symbols looked up by address and name, beside the core kernel's table: one table per module. */
export class ModuleSymbols {
  private readonly tables: { module: KernelModule; table: SymbolTable }[];

  constructor(modules: readonly KernelModule[]) {
    this.tables = modules.map((module) => ({
      module,
      table: new SymbolTable(module.symbols, 'kallsyms', `the symbols of module ${module.name}`),
    }));
  }

  /** A symbol by name, from the first module that has it. */
  lookup(name: string): KernelSymbol | undefined {
    for (const { table } of this.tables) {
      const s = table.lookup(name);
      if (s) return s;
    }
    return undefined;
  }

  /** The symbol containing `address`, in the module whose memory holds it. */
  symbolize(address: bigint): SymbolLocation | undefined {
    const hit = this.tables.find(({ module }) =>
      module.ranges.some((r) => address >= r.start && address < r.end),
    );
    return hit?.table.symbolize(address);
  }
}
