/**
 * Endian-aware reads of fixed-width integers from a byte array. Every field of a dump is in the
 * dump's byte order (the flattened container is the one exception: always big endian), and
 * addresses do not fit in a JS number, so 64-bit values come back as bigint.
 */
export class ByteView {
  private readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly littleEndian: boolean,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.length;
  }

  u8(offset: number): number {
    return this.view.getUint8(offset);
  }
  u16(offset: number): number {
    return this.view.getUint16(offset, this.littleEndian);
  }
  s16(offset: number): number {
    return this.view.getInt16(offset, this.littleEndian);
  }
  u32(offset: number): number {
    return this.view.getUint32(offset, this.littleEndian);
  }
  s32(offset: number): number {
    return this.view.getInt32(offset, this.littleEndian);
  }
  u64(offset: number): bigint {
    return this.view.getBigUint64(offset, this.littleEndian);
  }
  s64(offset: number): bigint {
    return this.view.getBigInt64(offset, this.littleEndian);
  }
  /** An unsigned word of 4 or 8 bytes, as bigint. */
  word(offset: number, size: 4 | 8): bigint {
    return size === 8 ? this.u64(offset) : BigInt(this.u32(offset));
  }
  /** A 64-bit unsigned field that must fit in a safe JS number (file offsets, sizes). */
  safeU64(offset: number): number {
    const v = this.u64(offset);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(v);
  }
  /** NUL-terminated string within [offset, offset+max). */
  cstring(offset: number, max: number): string {
    const end = Math.min(this.bytes.length, offset + max);
    let i = offset;
    while (i < end && this.bytes[i] !== 0) i++;
    return latin1(this.bytes.subarray(offset, i));
  }
}

export function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return s;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** `0x` + lowercase hex, zero-padded to `digits`. */
export function hexAddr(value: bigint, digits = 16): string {
  return '0x' + value.toString(16).padStart(digits, '0');
}

export const U64_MASK = (1n << 64n) - 1n;

/** Interpret a bigint as unsigned 64-bit (two's complement for negatives). */
export function toU64(value: bigint): bigint {
  return value & U64_MASK;
}

/** Interpret an unsigned 64-bit bigint as signed. */
export function toS64(value: bigint): bigint {
  return BigInt.asIntN(64, value);
}
