/**
 * Link-time symbols (System.map, vmlinux) → runtime addresses: the KASLR slide from VMCOREINFO
 * (`KERNELOFFSET`, else `SYMBOL(_stext)` − link address of `_stext`), applied only to addresses in the
 * kernel image (x86_64: [__START_KERNEL_map, +KERNEL_IMAGE_SIZE); elsewhere [_text, _end] of the file
 * itself). Absolute symbols and x86_64 per-CPU offsets are never moved.
 *
 * Then the check that the file belongs to the dump: every VMCOREINFO `SYMBOL(x)` that points into the
 * kernel image and that the file also names must agree after the slide, and `linux_banner` read from
 * memory must be this kernel's banner. A mismatch is refused with a message that says so.
 */
import type { ArchName } from '../arch/types';
import type { VmcoreInfo } from '../dump/vmcoreinfo';
import type { VirtualMemory } from '../translate/types';
import { type KernelSymbol, type SymbolSource, SymbolTable } from './symbolTable';

export class SymbolMismatchError extends Error {
  override readonly name = 'SymbolMismatchError';
}

/** What symbol loaders need to know about the dump. */
export interface DumpSymbolContext {
  arch: ArchName;
  vmcoreinfo: VmcoreInfo | undefined;
  /** Kernel virtual memory, for the linux_banner check (optional). */
  memory?: VirtualMemory;
}

const START_KERNEL_MAP = 0xffff_ffff_8000_0000n;
const DEFAULT_X86_64_IMAGE_SIZE = 1n << 30n;
const BANNER_READ = 512;
/** SYMBOL() keys whose value is a pointer's value, not the symbol's address. */
const POINTER_VALUED = new Set(['mem_section', 'vmemmap']);

export interface Relocation {
  slide: bigint;
  /** How the slide was found. */
  how: string;
  /** Link-time range moved by the slide. */
  imageStart: bigint;
  imageEnd: bigint;
}

function isAbsolute(type: string): boolean {
  return type === 'A' || type === 'a';
}

/** Work out the KASLR slide and the image range for link-time symbols. */
export function computeRelocation(link: readonly KernelSymbol[], ctx: DumpSymbolContext): Relocation {
  const byName = new Map<string, KernelSymbol>();
  for (const s of link) if (!isAbsolute(s.type) && !byName.has(s.name)) byName.set(s.name, s);
  const vi = ctx.vmcoreinfo;
  const linkStext = byName.get('_stext')?.address;
  const runtimeStext = vi?.symbol('_stext');
  const kernelOffset = vi?.kernelOffset;
  let slide = 0n;
  let how: string;
  const mask = (1n << 64n) - 1n;
  if (kernelOffset !== undefined) {
    slide = kernelOffset;
    how = `KERNELOFFSET=${kernelOffset.toString(16)}`;
    if (
      linkStext !== undefined &&
      runtimeStext !== undefined &&
      ((linkStext + slide) & mask) !== runtimeStext
    ) {
      throw new SymbolMismatchError(
        `does not match this dump: _stext is 0x${linkStext.toString(16)} in the file, which with the dump's KASLR offset 0x${kernelOffset.toString(16)} gives 0x${((linkStext + slide) & mask).toString(16)}, but the dump's VMCOREINFO says SYMBOL(_stext)=0x${runtimeStext.toString(16)}`,
      );
    }
  } else if (linkStext !== undefined && runtimeStext !== undefined) {
    slide = (runtimeStext - linkStext) & mask;
    how = `SYMBOL(_stext) − link address of _stext = 0x${slide.toString(16)}`;
  } else {
    how = 'no KASLR offset in the dump (KERNELOFFSET and SYMBOL(_stext) missing): addresses used as linked';
  }

  let imageStart: bigint;
  let imageEnd: bigint;
  if (ctx.arch === 'x86_64') {
    const size = vi?.number('KERNEL_IMAGE_SIZE');
    imageStart = START_KERNEL_MAP;
    imageEnd = START_KERNEL_MAP + (size !== undefined && size > 0n ? size : DEFAULT_X86_64_IMAGE_SIZE);
  } else {
    const start =
      byName.get('_text')?.address ?? byName.get('_stext')?.address ?? byName.get('_head')?.address;
    const end = byName.get('_end')?.address;
    if (start !== undefined && end !== undefined && end > start) {
      imageStart = start;
      imageEnd = end + 1n;
    } else {
      // Without _text/_end: everything but absolute symbols moves (the map is the kernel image).
      imageStart = 0n;
      imageEnd = 1n << 64n;
    }
  }
  return { slide, how, imageStart, imageEnd };
}

/** Apply a relocation to link-time symbols. */
export function relocate(link: readonly KernelSymbol[], r: Relocation): KernelSymbol[] {
  const mask = (1n << 64n) - 1n;
  if (r.slide === 0n) return [...link];
  return link.map((s) =>
    !isAbsolute(s.type) && s.address >= r.imageStart && s.address < r.imageEnd
      ? { ...s, address: (s.address + r.slide) & mask }
      : s,
  );
}

/**
 * The link-time address of a runtime address, for looking it up in the file (DWARF line tables):
 * undefined when the address is outside the relocated image (modules, user space, the direct map).
 */
export function toLinkTime(r: Relocation, runtime: bigint): bigint | undefined {
  const mask = (1n << 64n) - 1n;
  const link = (runtime - r.slide) & mask;
  return link >= r.imageStart && link < r.imageEnd ? link : undefined;
}

/**
 * Check relocated symbols against the dump; throws SymbolMismatchError naming the first disagreement.
 * Returns what was checked, for the table's description.
 */
export async function verifyAgainstDump(
  lookup: (name: string) => KernelSymbol | undefined,
  r: Relocation,
  ctx: DumpSymbolContext,
  what: string,
): Promise<string[]> {
  const checked: string[] = [];
  const vi = ctx.vmcoreinfo;
  const mask = (1n << 64n) - 1n;
  const runtimeStart = (r.imageStart + r.slide) & mask;
  const runtimeEnd = r.imageEnd >= 1n << 64n ? 1n << 64n : (r.imageEnd + r.slide) & mask;
  if (vi) {
    let agreed = 0;
    for (const key of vi.raw.keys()) {
      const m = /^SYMBOL\((.+)\)$/.exec(key);
      if (!m || POINTER_VALUED.has(m[1]!)) continue;
      const name = m[1]!;
      const value = vi.symbol(name);
      if (value === undefined || value < runtimeStart || value >= runtimeEnd) continue;
      const s = lookup(name);
      if (!s) continue;
      if (s.address !== value) {
        throw new SymbolMismatchError(
          `${what} does not match this dump: ${name} is at 0x${s.address.toString(16)} by the file (after a KASLR slide of 0x${r.slide.toString(16)}) but the dump's VMCOREINFO says SYMBOL(${name})=0x${value.toString(16)}: it is for another build of the kernel`,
        );
      }
      agreed++;
    }
    if (agreed > 0) checked.push(`${agreed} VMCOREINFO symbols agree`);
  }
  const banner = lookup('linux_banner');
  if (ctx.memory && banner) {
    const { bytes, gaps } = await ctx.memory.read(banner.address, BANNER_READ);
    const usable = gaps.length > 0 ? Math.min(...gaps.map((g) => g.offset)) : bytes.length;
    if (usable >= 16) {
      let end = bytes.indexOf(0);
      if (end < 0 || end > usable) end = usable;
      const text = Buffer.from(bytes.subarray(0, end)).toString('latin1');
      const release = vi?.osRelease;
      const ok =
        text.startsWith('Linux version ') && (!release || text.startsWith(`Linux version ${release} `));
      if (!ok) {
        throw new SymbolMismatchError(
          `${what} does not match this dump: linux_banner at 0x${banner.address.toString(16)} reads ${JSON.stringify(text.slice(0, 60))}${release ? `, not "Linux version ${release} …"` : ', not a Linux banner'}`,
        );
      }
      checked.push('linux_banner matches');
    }
  }
  return checked;
}

/** Relocate link-time symbols and verify them against the dump, giving the runtime table. */
export async function runtimeTable(
  link: readonly KernelSymbol[],
  source: SymbolSource,
  ctx: DumpSymbolContext,
  what: string,
  extra: string[] = [],
): Promise<SymbolTable> {
  let r: Relocation;
  try {
    r = computeRelocation(link, ctx);
  } catch (err) {
    if (err instanceof SymbolMismatchError) throw new SymbolMismatchError(`${what} ${err.message}`);
    throw err;
  }
  const symbols = relocate(link, r);
  const byName = new Map<string, KernelSymbol>();
  for (const s of symbols) {
    const prev = byName.get(s.name);
    if (!prev || (isAbsolute(prev.type) && !isAbsolute(s.type))) byName.set(s.name, s);
  }
  const checked = await verifyAgainstDump((n) => byName.get(n), r, ctx, what);
  const facts = [`${symbols.length} symbols`, r.how, ...extra, ...checked];
  if (checked.length === 0 && extra.length === 0)
    facts.push('not verified against the dump (nothing to compare)');
  return new SymbolTable(symbols, source, `${what}: ${facts.join('; ')}`, r);
}
