/**
 * Bounded reads of DWARF encodings from a byte array: fixed-width integers in the file's byte order,
 * LEB128 (at most 10 bytes, values up to 2^53), NUL-terminated strings with a length cap, and the
 * "initial length" that selects 32- or 64-bit DWARF. Every read checks the cursor's end, so corrupt
 * data ends in a DwarfError, never in a read past the unit or a runaway loop.
 */

export class DwarfError extends Error {
  override readonly name: string = 'DwarfError';
}

/** The data ended before a field: the caller may retry with more bytes. */
export class DwarfTruncatedError extends DwarfError {
  override readonly name = 'DwarfTruncatedError';
}

/** LEB128 longer than this cannot hold a 64-bit value. */
const MAX_LEB128_BYTES = 10;

export class DwarfCursor {
  private readonly view: DataView;
  pos: number;

  constructor(
    readonly bytes: Uint8Array,
    readonly littleEndian: boolean,
    start = 0,
    readonly end = bytes.length,
  ) {
    if (end > bytes.length || start < 0 || start > end)
      throw new DwarfError(`bad cursor range ${start}..${end}`);
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  get atEnd(): boolean {
    return this.pos >= this.end;
  }

  private need(n: number, what: string): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new DwarfTruncatedError(
        `${what} runs past the end of the data (${n} bytes at ${this.pos}, end ${this.end})`,
      );
    }
  }

  skip(n: number, what = 'skipped field'): void {
    this.need(n, what);
    this.pos += n;
  }

  u8(): number {
    this.need(1, 'byte');
    return this.view.getUint8(this.pos++);
  }

  s8(): number {
    this.need(1, 'byte');
    return this.view.getInt8(this.pos++);
  }

  u16(): number {
    this.need(2, '16-bit field');
    const v = this.view.getUint16(this.pos, this.littleEndian);
    this.pos += 2;
    return v;
  }

  u24(): number {
    this.need(3, '24-bit field');
    const b0 = this.bytes[this.pos]!;
    const b1 = this.bytes[this.pos + 1]!;
    const b2 = this.bytes[this.pos + 2]!;
    this.pos += 3;
    return this.littleEndian ? b0 | (b1 << 8) | (b2 << 16) : (b0 << 16) | (b1 << 8) | b2;
  }

  u32(): number {
    this.need(4, '32-bit field');
    const v = this.view.getUint32(this.pos, this.littleEndian);
    this.pos += 4;
    return v;
  }

  u64(): bigint {
    this.need(8, '64-bit field');
    const v = this.view.getBigUint64(this.pos, this.littleEndian);
    this.pos += 8;
    return v;
  }

  /** An unsigned value of 1, 2, 3, 4 or 8 bytes (addresses, data forms). */
  unsigned(size: number): bigint {
    switch (size) {
      case 1:
        return BigInt(this.u8());
      case 2:
        return BigInt(this.u16());
      case 3:
        return BigInt(this.u24());
      case 4:
        return BigInt(this.u32());
      case 8:
        return this.u64();
      default:
        throw new DwarfError(`unsupported field size ${size}`);
    }
  }

  /** A section offset or length of the unit's offset size (4 or 8), as a safe number. */
  offset(size: 4 | 8): number {
    if (size === 4) return this.u32();
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER))
      throw new DwarfError(`offset 0x${v.toString(16)} is out of range`);
    return Number(v);
  }

  /** Unsigned LEB128 as a number; values above 2^53 are refused. */
  uleb(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < MAX_LEB128_BYTES; i++) {
      if (this.pos >= this.end)
        throw new DwarfTruncatedError(`LEB128 runs past the end of the data at ${this.pos}`);
      const b = this.bytes[this.pos++]!;
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (result > Number.MAX_SAFE_INTEGER)
          throw new DwarfError(`LEB128 value is too large at ${this.pos}`);
        return result;
      }
      scale *= 128;
    }
    throw new DwarfError(`LEB128 longer than ${MAX_LEB128_BYTES} bytes at ${this.pos}`);
  }

  /** Signed LEB128 as a number; magnitudes above 2^53 are refused. */
  sleb(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < MAX_LEB128_BYTES; i++) {
      if (this.pos >= this.end)
        throw new DwarfTruncatedError(`LEB128 runs past the end of the data at ${this.pos}`);
      const b = this.bytes[this.pos++]!;
      result += (b & 0x7f) * scale;
      scale *= 128;
      if ((b & 0x80) === 0) {
        if (b & 0x40) result -= scale;
        if (!Number.isSafeInteger(result)) throw new DwarfError(`LEB128 value is too large at ${this.pos}`);
        return result;
      }
    }
    throw new DwarfError(`LEB128 longer than ${MAX_LEB128_BYTES} bytes at ${this.pos}`);
  }

  /** Unsigned LEB128 as a 64-bit bigint (constants in DIEs); longer encodings are refused. */
  ulebBig(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < MAX_LEB128_BYTES; i++) {
      if (this.pos >= this.end)
        throw new DwarfTruncatedError(`LEB128 runs past the end of the data at ${this.pos}`);
      const b = this.bytes[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if ((b & 0x80) === 0) return BigInt.asUintN(64, result);
    }
    throw new DwarfError(`LEB128 longer than ${MAX_LEB128_BYTES} bytes at ${this.pos}`);
  }

  /** Signed LEB128 as a 64-bit bigint. */
  slebBig(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < MAX_LEB128_BYTES; i++) {
      if (this.pos >= this.end)
        throw new DwarfTruncatedError(`LEB128 runs past the end of the data at ${this.pos}`);
      const b = this.bytes[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if ((b & 0x80) === 0) {
        if (b & 0x40) result -= 1n << shift;
        return BigInt.asIntN(64, result);
      }
    }
    throw new DwarfError(`LEB128 longer than ${MAX_LEB128_BYTES} bytes at ${this.pos}`);
  }

  /** A NUL-terminated string of at most `maxLength` bytes (Latin-1; paths are ASCII in practice). */
  cstring(maxLength = 4096): string {
    const limit = Math.min(this.end, this.pos + maxLength + 1);
    let i = this.pos;
    while (i < limit && this.bytes[i] !== 0) i++;
    if (i >= limit) {
      if (limit === this.end)
        throw new DwarfTruncatedError(`string at ${this.pos} runs past the end of the data`);
      throw new DwarfError(`string at ${this.pos} is longer than ${maxLength} bytes`);
    }
    const s = decodeText(this.bytes.subarray(this.pos, i));
    this.pos = i + 1;
    return s;
  }

  /**
   * The initial length field of a unit: 32-bit, or 0xffffffff followed by a 64-bit length (64-bit
   * DWARF). Reserved values are refused.
   */
  initialLength(): { length: number; offsetSize: 4 | 8 } {
    const first = this.u32();
    if (first < 0xffff_fff0) return { length: first, offsetSize: 4 };
    if (first !== 0xffff_ffff) throw new DwarfError(`reserved unit length 0x${first.toString(16)}`);
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER))
      throw new DwarfError(`unit length 0x${v.toString(16)} is absurd`);
    return { length: Number(v), offsetSize: 8 };
  }
}

/** File names are bytes; UTF-8 when valid (most build paths are ASCII), else Latin-1 so nothing is lost. */
export function decodeText(bytes: Uint8Array): string {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = b.toString('utf8');
  return utf8.includes('\ufffd') ? b.toString('latin1') : utf8;
}
