/**
 * Where a kernel's BTF comes from: the blob a CONFIG_DEBUG_INFO_BTF kernel keeps in its own read-only
 * data between `__start_BTF` and `__stop_BTF` (read from the dump, found through the symbol table),
 * or the `.BTF` section of its vmlinux file.
 */
import { FileSource } from '../dump/source';
import { readFully, type VirtualMemory } from '../translate/types';
import { Btf, BtfError, MAX_BTF_BYTES } from './btf';
import { readElfLayout, SHF_COMPRESSED, SHT_NOBITS } from './elfSections';
import type { SymbolTable } from './symbolTable';

const CHUNK = 1024 * 1024;

/** The kernel's BTF read from the dump's memory, found through `__start_BTF`/`__stop_BTF`. */
export async function readKernelBtf(mem: VirtualMemory, symbols: SymbolTable | undefined): Promise<Btf> {
  if (!symbols)
    throw new BtfError('no symbols to find the kernel BTF (__start_BTF): give a System.map or vmlinux');
  const start = symbols.lookup('__start_BTF');
  const stop = symbols.lookup('__stop_BTF');
  if (!start || !stop) {
    throw new BtfError(
      `__start_BTF and __stop_BTF are not in the symbol table (${symbols.description}): kallsyms without CONFIG_KALLSYMS_ALL lists only functions, and a kernel without CONFIG_DEBUG_INFO_BTF has no BTF`,
    );
  }
  const size = stop.address - start.address;
  if (size <= 0n) throw new BtfError(`__stop_BTF is not after __start_BTF: the kernel holds no BTF`);
  if (size > BigInt(MAX_BTF_BYTES))
    throw new BtfError(
      `the kernel BTF would be ${size} bytes (__start_BTF…__stop_BTF), more than the ${MAX_BTF_BYTES}-byte limit`,
    );
  const bytes = new Uint8Array(Number(size));
  for (let off = 0; off < bytes.length; off += CHUNK) {
    const n = Math.min(CHUNK, bytes.length - off);
    try {
      bytes.set(await readFully(mem, start.address + BigInt(off), n, 'the kernel BTF'), off);
    } catch (err) {
      throw new BtfError(`the kernel BTF is not fully in the dump: ${(err as Error).message}`);
    }
  }
  return new Btf(bytes, {
    pointerSize: mem.wordSize,
    name: `the kernel BTF at 0x${start.address.toString(16)}`,
  });
}

/** The `.BTF` section of a vmlinux, or undefined when it has none. */
export async function readVmlinuxBtf(path: string): Promise<Btf | undefined> {
  const source = await FileSource.open(path, { blockCache: false });
  try {
    const layout = await readElfLayout(source);
    const section = layout.sections.find((s) => s.name === '.BTF');
    if (!section || section.type === SHT_NOBITS) return undefined;
    if ((section.flags & BigInt(SHF_COMPRESSED)) !== 0n)
      throw new BtfError(`the .BTF section of ${path} is compressed, which this reader does not support`);
    if (section.size > MAX_BTF_BYTES)
      throw new BtfError(
        `the .BTF section of ${path} is ${section.size} bytes, more than the ${MAX_BTF_BYTES}-byte limit`,
      );
    const bytes = await source.read(section.offset, section.size);
    if (bytes.length < section.size) throw new BtfError(`${path} ends inside its .BTF section`);
    return new Btf(bytes, {
      pointerSize: layout.elfClass === 64 ? 8 : 4,
      name: `the .BTF section of ${path}`,
    });
  } finally {
    await source.close();
  }
}
