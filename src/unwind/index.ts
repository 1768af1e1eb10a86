import { unwindAarch64 } from './aarch64';
import type { UnwindContext, UnwindResult } from './types';
import { unwindX86_64 } from './x86_64';

export type { Frame, FrameSource, UnwindContext, UnwindResult } from './types';

/** Unwind one CPU's kernel stack from its saved registers. */
export async function unwind(
  ctx: UnwindContext,
  registers: ReadonlyMap<string, bigint>,
  pacMask = 0n,
): Promise<UnwindResult> {
  switch (ctx.arch.name) {
    case 'x86_64':
      return unwindX86_64(ctx, registers);
    case 'aarch64':
      return unwindAarch64(ctx, registers, pacMask);
    default:
      return {
        frames: [
          {
            pc: registers.get(ctx.arch.pc) ?? 0n,
            sp: registers.get(ctx.arch.sp) ?? 0n,
            registers: new Map(registers),
            source: 'registers',
            reliable: true,
            isReturnAddress: false,
            userMode: ctx.arch.isUserMode(registers),
          },
        ],
        stopReason: `stack unwinding is not implemented for ${ctx.arch.name}; only the saved registers are shown`,
      };
  }
}
