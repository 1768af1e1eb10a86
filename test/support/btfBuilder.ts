/**
 * Builds BTF blobs (Documentation/bpf/btf.rst) for the BTF reader's tests: well-formed ones with every
 * kind, and hostile ones through `raw` records and header overrides. Ids are handed out in order
 * from 1, so a test can refer forward (`b.nextId + 1`) to build loops.
 */
import { BtfKind } from '../../src/symbols/btf';

export interface BtfMemberSpec {
  name: string;
  type: number;
  /** Bit offset from the start of the struct. */
  bitOffset: number;
  /** Bitfield width (written only in the kind_flag layout). */
  bitSize?: number;
}

export interface BtfHeaderOverrides {
  magic?: number;
  version?: number;
  flags?: number;
  hdrLen?: number;
  typeOff?: number;
  typeLen?: number;
  strOff?: number;
  strLen?: number;
}

export class BtfBuilder {
  private readonly stringBytes: number[] = [0];
  private readonly stringOffsets = new Map<string, number>([['', 0]]);
  /** Each type's record as 32-bit words. */
  private readonly records: number[][] = [];

  constructor(readonly littleEndian = true) {}

  get nextId(): number {
    return this.records.length + 1;
  }

  /** Offset of a name in the string section (added once). */
  str(name: string): number {
    const known = this.stringOffsets.get(name);
    if (known !== undefined) return known;
    const off = this.stringBytes.length;
    for (const b of new TextEncoder().encode(name)) this.stringBytes.push(b);
    this.stringBytes.push(0);
    this.stringOffsets.set(name, off);
    return off;
  }

  /** Any record: name offset, kind, vlen, kind_flag, the third word, then extra words. Returns the id. */
  raw(
    nameOff: number,
    kind: number,
    vlen: number,
    sizeOrType: number,
    extra: number[] = [],
    kindFlag = false,
  ): number {
    const info = ((kindFlag ? 1 : 0) << 31) | ((kind & 0x1f) << 24) | (vlen & 0xffff);
    this.records.push([nameOff, info >>> 0, sizeOrType >>> 0, ...extra.map((w) => w >>> 0)]);
    return this.records.length;
  }

  int(
    name: string,
    size: number,
    options: { signed?: boolean; bits?: number; bitOffset?: number } = {},
  ): number {
    const encoding = options.signed ? 1 : 0;
    const word = (encoding << 24) | ((options.bitOffset ?? 0) << 16) | (options.bits ?? size * 8);
    return this.raw(this.str(name), BtfKind.INT, 0, size, [word]);
  }

  ptr(type: number): number {
    return this.raw(0, BtfKind.PTR, 0, type);
  }

  array(type: number, nelems: number, indexType = 0): number {
    return this.raw(0, BtfKind.ARRAY, 0, 0, [type, indexType, nelems]);
  }

  struct(
    name: string,
    size: number,
    members: BtfMemberSpec[],
    options: { union?: boolean; kindFlag?: boolean } = {},
  ): number {
    const extra: number[] = [];
    for (const m of members) {
      const offset = options.kindFlag ? ((m.bitSize ?? 0) << 24) | m.bitOffset : m.bitOffset;
      extra.push(this.str(m.name), m.type, offset);
    }
    return this.raw(
      this.str(name),
      options.union ? BtfKind.UNION : BtfKind.STRUCT,
      members.length,
      size,
      extra,
      options.kindFlag,
    );
  }

  union(name: string, size: number, members: BtfMemberSpec[], options: { kindFlag?: boolean } = {}): number {
    return this.struct(name, size, members, { ...options, union: true });
  }

  enum(name: string, size: number, values: [string, number][]): number {
    return this.raw(
      this.str(name),
      BtfKind.ENUM,
      values.length,
      size,
      values.flatMap(([n, v]) => [this.str(n), v]),
    );
  }

  enum64(name: string, size: number, values: [string, bigint][]): number {
    return this.raw(
      this.str(name),
      BtfKind.ENUM64,
      values.length,
      size,
      values.flatMap(([n, v]) => [this.str(n), Number(v & 0xffffffffn), Number((v >> 32n) & 0xffffffffn)]),
    );
  }

  fwd(name: string, union = false): number {
    return this.raw(this.str(name), BtfKind.FWD, 0, 0, [], union);
  }

  typedef(name: string, type: number): number {
    return this.raw(this.str(name), BtfKind.TYPEDEF, 0, type);
  }

  volatile(type: number): number {
    return this.raw(0, BtfKind.VOLATILE, 0, type);
  }

  const(type: number): number {
    return this.raw(0, BtfKind.CONST, 0, type);
  }

  restrict(type: number): number {
    return this.raw(0, BtfKind.RESTRICT, 0, type);
  }

  typeTag(name: string, type: number): number {
    return this.raw(this.str(name), BtfKind.TYPE_TAG, 0, type);
  }

  funcProto(returnType: number, params: [string, number][]): number {
    return this.raw(
      0,
      BtfKind.FUNC_PROTO,
      params.length,
      returnType,
      params.flatMap(([n, t]) => [this.str(n), t]),
    );
  }

  func(name: string, proto: number, linkage = 1): number {
    return this.raw(this.str(name), BtfKind.FUNC, linkage, proto);
  }

  variable(name: string, type: number, linkage = 1): number {
    return this.raw(this.str(name), BtfKind.VAR, 0, type, [linkage]);
  }

  datasec(name: string, size: number, vars: [type: number, offset: number, size: number][]): number {
    return this.raw(this.str(name), BtfKind.DATASEC, vars.length, size, vars.flat());
  }

  float(name: string, size: number): number {
    return this.raw(this.str(name), BtfKind.FLOAT, 0, size);
  }

  declTag(name: string, type: number, componentIndex = -1): number {
    return this.raw(this.str(name), BtfKind.DECL_TAG, 0, type, [componentIndex]);
  }

  /** The blob: header, type section, string section (header fields can be overridden). */
  build(overrides: BtfHeaderOverrides = {}): Uint8Array {
    const typeLen = this.records.reduce((n, r) => n + r.length * 4, 0);
    const strLen = this.stringBytes.length;
    const hdrLen = overrides.hdrLen ?? 24;
    // A longer header is laid out for real; an absurd or too-short one is only written in the field.
    const base = hdrLen >= 24 && hdrLen <= 4096 ? hdrLen : 24;
    const total = base + typeLen + strLen;
    const out = new Uint8Array(total);
    const dv = new DataView(out.buffer);
    const le = this.littleEndian;
    dv.setUint16(0, overrides.magic ?? 0xeb9f, le);
    dv.setUint8(2, overrides.version ?? 1);
    dv.setUint8(3, overrides.flags ?? 0);
    dv.setUint32(4, hdrLen >>> 0, le);
    dv.setUint32(8, (overrides.typeOff ?? 0) >>> 0, le);
    dv.setUint32(12, (overrides.typeLen ?? typeLen) >>> 0, le);
    dv.setUint32(16, (overrides.strOff ?? typeLen) >>> 0, le);
    dv.setUint32(20, (overrides.strLen ?? strLen) >>> 0, le);
    let at = base;
    for (const r of this.records) {
      for (const w of r) {
        dv.setUint32(at, w, le);
        at += 4;
      }
    }
    out.set(this.stringBytes, at);
    return out;
  }
}
