/**
 * A small, safe LZO1X decompressor (the format makedumpfile writes with `lzo1x_1_compress`, page by
 * page). Written from the format's description: every input read and every output write is bounds
 * checked, a match may never reach before the start of the output, and nothing is ever written past
 * the end of `out`. The caller decides whether the produced length is the one it expected.
 */

export class LzoError extends Error {
  override readonly name = 'LzoError';
}

/** Largest look-behind distance of the 3-byte "M1 after literals" form (M2_MAX_OFFSET + 1). */
const M2_FAR = 0x0801;

/**
 * Decompress one LZO1X block into `out`. Returns the number of bytes produced. Throws LzoError when
 * the input is malformed, ends early, has bytes after the end marker, would write past `out`, or
 * refers to data before the start of the output.
 */
export function lzo1xDecompress(input: Uint8Array, out: Uint8Array): number {
  const inLen = input.length;
  const outLen = out.length;
  let ip = 0;
  let op = 0;

  const needInput = (n: number): void => {
    if (ip + n > inLen) throw new LzoError(`input ends early (at ${ip}, ${n} more bytes needed)`);
  };
  const copyLiterals = (n: number): void => {
    needInput(n);
    if (op + n > outLen)
      throw new LzoError(`literal run of ${n} bytes at ${op} overflows the ${outLen}-byte output`);
    if (n < 32) {
      for (let k = 0; k < n; k++) out[op++] = input[ip++]!;
    } else {
      out.set(input.subarray(ip, ip + n), op);
      ip += n;
      op += n;
    }
  };
  /** Lengths past a zero field: 255 per zero byte, then the next (non-zero) byte plus `base`. */
  const extendedLength = (base: number): number => {
    let zeros = 0;
    for (;;) {
      needInput(1);
      if (input[ip] !== 0) break;
      ip++;
      zeros++;
    }
    return zeros * 255 + base + input[ip++]!;
  };

  if (inLen < 3) throw new LzoError(`input of ${inLen} bytes is too short for LZO1X`);

  // state: 0 = after a match that carried no literals; 1..3 = after 1-3 trailing literals;
  // 4 = after a literal run of 4 or more bytes.
  let state = 0;
  if (input[0]! > 17) {
    const t = input[ip++]! - 17;
    copyLiterals(t);
    state = t < 4 ? t : 4;
  }

  for (;;) {
    needInput(1);
    let t = input[ip++]!;
    let distance: number;
    let length: number;
    let next: number;
    if (t < 16) {
      if (state === 0) {
        // A literal run: 3 + (t or an extended length).
        const n = (t === 0 ? extendedLength(15) : t) + 3;
        copyLiterals(n);
        state = 4;
        continue;
      }
      needInput(1);
      next = t & 3;
      if (state !== 4) {
        // 2-byte match, distance up to 1 KiB.
        distance = 1 + (t >> 2) + (input[ip++]! << 2);
        length = 2;
      } else {
        // 3-byte match right after a long literal run, distance 2049..3072.
        distance = M2_FAR + (t >> 2) + (input[ip++]! << 2);
        length = 3;
      }
    } else if (t >= 64) {
      // M2: 3..8 bytes, distance up to 2 KiB.
      needInput(1);
      next = t & 3;
      distance = 1 + ((t >> 2) & 7) + (input[ip++]! << 3);
      length = (t >> 5) + 1;
    } else if (t >= 32) {
      // M3: distance up to 16 KiB.
      length = (t & 31) + 2;
      if (length === 2) length = extendedLength(31) + 2;
      needInput(2);
      const v = input[ip]! | (input[ip + 1]! << 8);
      ip += 2;
      distance = 1 + (v >> 2);
      next = v & 3;
    } else {
      // M4: distance 16 KiB..48 KiB, or the end marker (distance 0).
      length = (t & 7) + 2;
      if (length === 2) length = extendedLength(7) + 2;
      needInput(2);
      const v = input[ip]! | (input[ip + 1]! << 8);
      ip += 2;
      distance = ((t & 8) << 11) + (v >> 2);
      next = v & 3;
      if (distance === 0) {
        if (length !== 3) throw new LzoError(`malformed end marker at ${ip - 3}`);
        if (ip !== inLen) throw new LzoError(`${inLen - ip} bytes follow the end marker`);
        return op;
      }
      distance += 0x4000;
    }
    if (distance > op) {
      throw new LzoError(
        `match at output ${op} refers ${distance} bytes back, before the start of the output`,
      );
    }
    if (op + length > outLen) {
      throw new LzoError(`match of ${length} bytes at ${op} overflows the ${outLen}-byte output`);
    }
    // Byte by byte: matches may overlap their own output (run-length copies).
    let from = op - distance;
    for (t = 0; t < length; t++) out[op++] = out[from++]!;
    state = next;
    if (next > 0) copyLiterals(next);
  }
}
