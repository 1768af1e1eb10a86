import type { VirtualMemory } from '../translate/types';
import type { KernelText } from './textRange';
import type { Frame } from './types';

/** Kernel stacks are THREAD_SIZE-aligned; 16 KiB on x86_64 and arm64 (32 KiB with KASAN). */
const STACK_ALIGN = 0x4000n;

/**
 * Last resort when no unwind data covers a frame: every word from `sp` to the end of its stack that
 * holds a kernel text address preceded by a call instruction is reported, marked unreliable (as
 * crash's `bt -t` does). `isCallSite` checks the bytes before the address.
 */
export async function scanStack(
  memory: VirtualMemory,
  sp: bigint,
  text: KernelText,
  isCallSite: (returnAddress: bigint) => Promise<boolean>,
  limit: number,
): Promise<Frame[]> {
  const word = BigInt(memory.wordSize);
  const top = (sp | (STACK_ALIGN - 1n)) + 1n;
  const length = Number(top - sp);
  if (length <= 0 || length > Number(STACK_ALIGN) * 2) return [];
  const { bytes, gaps } = await memory.read(sp, length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const frames: Frame[] = [];
  for (let off = 0; off + memory.wordSize <= length && frames.length < limit; off += memory.wordSize) {
    if (gaps.some((g) => off < g.offset + g.length && off + memory.wordSize > g.offset)) continue;
    const value =
      memory.wordSize === 8
        ? view.getBigUint64(off, memory.littleEndian)
        : BigInt(view.getUint32(off, memory.littleEndian));
    if (!text.contains(value) || !(await isCallSite(value))) continue;
    const slot = sp + BigInt(off);
    frames.push({
      pc: value,
      sp: slot + word,
      registers: new Map(),
      source: 'stack-scan',
      reliable: false,
      isReturnAddress: true,
      userMode: false,
    });
  }
  return frames;
}
