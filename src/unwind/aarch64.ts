import { readFully } from '../translate/types';
import { type Frame, MAX_FRAMES, type UnwindContext, type UnwindResult } from './types';

/**
 * arm64 kernels always keep frame records: x29 points at {caller x29, return address}. The first
 * frame is the saved pc; each record then gives the next return address. Return addresses may carry
 * pointer-authentication bits, removed with KERNELPACMASK.
 */
export async function unwindAarch64(
  ctx: UnwindContext,
  initial: ReadonlyMap<string, bigint>,
  pacMask: bigint,
): Promise<UnwindResult> {
  const first: Frame = {
    pc: initial.get('pc') ?? 0n,
    sp: initial.get('sp') ?? 0n,
    registers: new Map(initial),
    source: 'registers',
    reliable: true,
    isReturnAddress: false,
    userMode: ctx.arch.isUserMode(initial),
  };
  const frames: Frame[] = [first];
  if (first.userMode) return { frames };
  let fp = initial.get('x29') ?? 0n;
  let prevFp = 0n;
  while (frames.length < MAX_FRAMES) {
    if (ctx.signal?.aborted) return { frames, stopReason: 'cancelled' };
    if (fp === 0n) return { frames };
    if ((fp & 0xfn) !== 0n) return { frames, stopReason: `frame pointer 0x${fp.toString(16)} is misaligned` };
    if (prevFp !== 0n && fp <= prevFp)
      return { frames, stopReason: 'the frame chain does not move up the stack' };
    let record: Uint8Array;
    try {
      record = await readFully(ctx.memory, fp, 16, 'a frame record');
    } catch (e) {
      return { frames, stopReason: (e as Error).message };
    }
    const dv = new DataView(record.buffer, record.byteOffset, 16);
    const nextFp = dv.getBigUint64(0, ctx.memory.littleEndian);
    const lr = dv.getBigUint64(8, ctx.memory.littleEndian);
    if (lr === 0n) return { frames }; // the final record an exception entry leaves
    const pc = (lr >> 55n) & 1n ? lr | pacMask : lr & ~pacMask;
    frames.push({
      // Frame records do not say where the caller's sp was; the record's own address is the best
      // stack position we know for this frame.
      pc,
      sp: fp,
      registers: new Map([
        ['pc', pc],
        ['x29', nextFp],
      ]),
      source: 'frame-pointer',
      reliable: true,
      isReturnAddress: true,
      userMode: false,
    });
    prevFp = fp;
    fp = nextFp;
  }
  return { frames, stopReason: `stopped after ${MAX_FRAMES} frames` };
}
