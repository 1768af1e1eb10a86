/** Why a dump (or part of one) cannot be read. Every message says what is wrong and where. */
export type DumpErrorKind = 'not-a-dump' | 'corrupt' | 'truncated' | 'unsupported' | 'io' | 'compressed-file';

export class DumpError extends Error {
  override readonly name = 'DumpError';

  constructor(
    readonly kind: DumpErrorKind,
    message: string,
    /** File offset the problem was found at, when there is one. */
    readonly offset?: number,
  ) {
    super(offset === undefined ? message : `${message} (at file offset 0x${offset.toString(16)})`);
  }
}

export function corrupt(message: string, offset?: number): DumpError {
  return new DumpError('corrupt', message, offset);
}

export function truncated(message: string, offset?: number): DumpError {
  return new DumpError('truncated', message, offset);
}
