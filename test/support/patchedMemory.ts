/** Real kernel memory with some bytes replaced: damaged kernel structures on an otherwise real dump. */
import type { ReadResult } from '../../src/dump/types';
import type { VirtualMemory } from '../../src/translate/types';

export function patchedMemory(mem: VirtualMemory, patches: Map<bigint, Uint8Array>): VirtualMemory {
  return {
    wordSize: mem.wordSize,
    littleEndian: mem.littleEndian,
    async read(vaddr: bigint, length: number): Promise<ReadResult> {
      const r = await mem.read(vaddr, length);
      const bytes = Uint8Array.from(r.bytes);
      for (const [at, data] of patches)
        for (let i = 0; i < data.length; i++) {
          const o = at + BigInt(i) - vaddr;
          if (o >= 0n && o < BigInt(length)) bytes[Number(o)] = data[i]!;
        }
      return { ...r, bytes };
    },
  };
}

/** A little-endian u64, for patching pointers. */
export function u64le(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}
