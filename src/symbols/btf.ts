/**
 * BTF, the kernel's compact type information (Documentation/bpf/btf.rst): a 24-byte header (magic
 * 0xEB9F in the writer's byte order, version 1, flags, hdr_len, then type_off/type_len and
 * str_off/str_len relative to the end of the header), a type section of `struct btf_type` records
 * (name_off, info = vlen | kind << 24 | kind_flag << 31, size-or-type) each followed by its kind's
 * extra data, and a string section of NUL-terminated names. Type ids count from 1; 0 is void.
 *
 * Built to read a blob from a dump that may be damaged: the constructor checks the header and walks
 * the type section once, recording where each record starts (every record must fit in the section).
 * Everything else is decoded on demand; names are indexed on the first lookup by name. Every id,
 * string offset and chain of references is checked, and every walk is bounded (type chains, array
 * nesting, anonymous-member nesting), so bad input gives a BtfError, never a hang or a huge allocation.
 */

export class BtfError extends Error {
  override readonly name = 'BtfError';
}

export const BTF_MAGIC = 0xeb9f;
/** Bigger than any kernel's BTF (a distribution vmlinux has ≈5 MB). */
export const MAX_BTF_BYTES = 64 * 1024 * 1024;
const HEADER_BYTES = 24;
const TYPE_RECORD_BYTES = 12;
/** Longest typedef/modifier chain we follow (real ones have a handful of links). */
const MAX_CHAIN = 64;
/** Deepest nesting of arrays, or of anonymous structs and unions, we follow. */
const MAX_NESTING = 64;
/** Longest type or member name we decode. */
const MAX_NAME_BYTES = 4096;

export const BtfKind = {
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const;

const KIND_NAMES = [
  'void',
  'int',
  'ptr',
  'array',
  'struct',
  'union',
  'enum',
  'fwd',
  'typedef',
  'volatile',
  'const',
  'restrict',
  'func',
  'func_proto',
  'var',
  'datasec',
  'float',
  'decl_tag',
  'type_tag',
  'enum64',
];

/** Kinds whose third word is a size in bytes (the others hold a type id there). */
const SIZED = new Set<number>([
  BtfKind.INT,
  BtfKind.STRUCT,
  BtfKind.UNION,
  BtfKind.ENUM,
  BtfKind.DATASEC,
  BtfKind.FLOAT,
  BtfKind.ENUM64,
]);
/** Kinds that only qualify or rename another type. */
const TRANSPARENT = new Set<number>([
  BtfKind.TYPEDEF,
  BtfKind.VOLATILE,
  BtfKind.CONST,
  BtfKind.RESTRICT,
  BtfKind.TYPE_TAG,
]);

/** Bytes that follow the 12-byte record, per kind; undefined for a kind this reader does not know. */
function extraBytes(kind: number, vlen: number): number | undefined {
  switch (kind) {
    case BtfKind.INT:
    case BtfKind.VAR:
    case BtfKind.DECL_TAG:
      return 4;
    case BtfKind.ARRAY:
      return 12;
    case BtfKind.STRUCT:
    case BtfKind.UNION:
    case BtfKind.DATASEC:
    case BtfKind.ENUM64:
      return 12 * vlen;
    case BtfKind.ENUM:
    case BtfKind.FUNC_PROTO:
      return 8 * vlen;
    case BtfKind.PTR:
    case BtfKind.FWD:
    case BtfKind.TYPEDEF:
    case BtfKind.VOLATILE:
    case BtfKind.CONST:
    case BtfKind.RESTRICT:
    case BtfKind.FUNC:
    case BtfKind.FLOAT:
    case BtfKind.TYPE_TAG:
      return 0;
    default:
      return undefined;
  }
}

export interface BtfType {
  id: number;
  kind: number;
  /** `struct`, `typedef`, … (btf.rst's BTF_KIND_* in lower case). */
  kindName: string;
  /** Empty for anonymous types. */
  name: string;
  kindFlag: boolean;
  /** Member, enumerator or parameter count (for FUNC: the linkage). */
  vlen: number;
  /** Size in bytes, for INT, STRUCT, UNION, ENUM, ENUM64, DATASEC and FLOAT. */
  size?: number;
  /** The type referred to, for the other kinds (0 = void). */
  type?: number;
}

export interface BtfMember {
  /** Empty for an anonymous struct or union member. */
  name: string;
  type: number;
  /** Offset from the start of the containing struct, in bits. */
  bitOffset: number;
  /** Width of a bitfield in bits; 0 when the member is not a bitfield. */
  bitSize: number;
}

export interface BtfStruct {
  id: number;
  kind: 'struct' | 'union';
  name: string;
  size: number;
  members: BtfMember[];
}

export interface BtfArray {
  type: number;
  indexType: number;
  nelems: number;
}

/** A member found by name, with its offset from the start of the outermost struct. */
export interface BtfMemberLocation {
  /** Offset in bits (anonymous containers and dotted paths included). */
  bitOffset: number;
  bitSize: number;
  type: number;
}

export interface BtfOptions {
  /** Size of a pointer (BTF does not record it): 8 unless told. */
  pointerSize?: 4 | 8;
  /** Said in messages: where the blob came from. */
  name?: string;
}

export class Btf {
  readonly littleEndian: boolean;
  readonly pointerSize: 4 | 8;
  /** Where the blob came from, for messages. */
  readonly name: string;
  /** Number of types, void not counted: valid ids are 1…count. */
  readonly count: number;
  private readonly view: DataView;
  private readonly typesStart: number;
  private readonly typesEnd: number;
  private readonly stringsStart: number;
  private readonly stringsEnd: number;
  /** Byte offset of each type's record in the blob; index 0 (void) unused. */
  private readonly offsets: Uint32Array;
  private namedTypes: Map<string, number[]> | undefined;
  private enumerators: Map<string, bigint> | undefined;
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });

  constructor(
    readonly bytes: Uint8Array,
    options: BtfOptions = {},
  ) {
    this.name = options.name ?? 'BTF';
    this.pointerSize = options.pointerSize ?? 8;
    if (bytes.length > MAX_BTF_BYTES)
      throw new BtfError(`${this.name} is ${bytes.length} bytes, more than the ${MAX_BTF_BYTES}-byte limit`);
    if (bytes.length < HEADER_BYTES)
      throw new BtfError(`${this.name} is ${bytes.length} bytes: too short for the 24-byte BTF header`);
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const magicLE = this.view.getUint16(0, true);
    if (magicLE === BTF_MAGIC) this.littleEndian = true;
    else if (this.view.getUint16(0, false) === BTF_MAGIC) this.littleEndian = false;
    else
      throw new BtfError(
        `${this.name} does not start with the BTF magic 0xeb9f (it reads 0x${magicLE.toString(16).padStart(4, '0')})`,
      );
    const version = bytes[2]!;
    if (version !== 1) throw new BtfError(`${this.name} has BTF version ${version}; only version 1 exists`);
    const hdrLen = this.u32(4);
    if (hdrLen < HEADER_BYTES || hdrLen > bytes.length)
      throw new BtfError(`${this.name}: header length ${hdrLen} is not within the ${bytes.length}-byte blob`);
    const section = (offOffset: number, what: string): [number, number] => {
      const off = this.u32(offOffset);
      const len = this.u32(offOffset + 4);
      const start = hdrLen + off;
      const end = start + len;
      if (end > bytes.length)
        throw new BtfError(
          `${this.name}: the ${what} section (${len} bytes at ${off} past the header) runs past the end of the ${bytes.length}-byte blob`,
        );
      return [start, end];
    };
    [this.typesStart, this.typesEnd] = section(8, 'type');
    [this.stringsStart, this.stringsEnd] = section(16, 'string');
    if (this.stringsEnd === this.stringsStart || bytes[this.stringsStart] !== 0)
      throw new BtfError(`${this.name}: the string section must start with an empty string (a NUL byte)`);
    if ((this.typesStart & 3) !== 0)
      throw new BtfError(`${this.name}: the type section starts at ${this.typesStart}, not 4-byte aligned`);
    // One record is at least 12 bytes: the section length bounds the count before anything is read.
    const offsets = new Uint32Array(Math.floor((this.typesEnd - this.typesStart) / TYPE_RECORD_BYTES) + 1);
    let count = 0;
    let at = this.typesStart;
    while (at < this.typesEnd) {
      if (at + TYPE_RECORD_BYTES > this.typesEnd)
        throw new BtfError(
          `${this.name}: type ${count + 1} at byte ${at} is cut off by the end of the type section`,
        );
      const info = this.u32(at + 4);
      const kind = (info >>> 24) & 0x1f;
      const vlen = info & 0xffff;
      const extra = extraBytes(kind, vlen);
      if (extra === undefined)
        throw new BtfError(`${this.name}: type ${count + 1} at byte ${at} has unknown kind ${kind}`);
      const end = at + TYPE_RECORD_BYTES + extra;
      if (end > this.typesEnd)
        throw new BtfError(
          `${this.name}: type ${count + 1} (${KIND_NAMES[kind]}, ${vlen} entries) at byte ${at} runs past the end of the type section`,
        );
      offsets[++count] = at;
      at = end;
    }
    this.count = count;
    this.offsets = offsets.subarray(0, count + 1);
  }

  /** The type with this id (1…count). */
  type(id: number): BtfType {
    const at = this.recordAt(id);
    const info = this.u32(at + 4);
    const kind = (info >>> 24) & 0x1f;
    const t: BtfType = {
      id,
      kind,
      kindName: KIND_NAMES[kind]!,
      name: this.string(this.u32(at)),
      kindFlag: info >>> 31 === 1,
      vlen: info & 0xffff,
    };
    if (SIZED.has(kind)) t.size = this.u32(at + 8);
    else t.type = this.u32(at + 8);
    return t;
  }

  /** An INT's encoding: signed, char, bool, and its width in bits. */
  intEncoding(id: number): { signed: boolean; char: boolean; bool: boolean; bits: number } {
    const at = this.recordAt(id);
    if (((this.u32(at + 4) >>> 24) & 0x1f) !== BtfKind.INT)
      throw new BtfError(`${this.name}: type ${id} is not an INT`);
    const word = this.u32(at + TYPE_RECORD_BYTES);
    const encoding = (word >>> 24) & 0x0f;
    return {
      signed: (encoding & 1) !== 0,
      char: (encoding & 2) !== 0,
      bool: (encoding & 4) !== 0,
      bits: word & 0xff,
    };
  }

  /** The enumerators of one ENUM or ENUM64 type, in declaration order. */
  enumValues(id: number): { name: string; value: bigint }[] {
    const at = this.recordAt(id);
    const info = this.u32(at + 4);
    const kind = (info >>> 24) & 0x1f;
    if (kind !== BtfKind.ENUM && kind !== BtfKind.ENUM64)
      throw new BtfError(`${this.name}: type ${id} is not an enum`);
    const signed = info >>> 31 === 1;
    const stride = kind === BtfKind.ENUM ? 8 : 12;
    const out: { name: string; value: bigint }[] = [];
    for (let i = 0, e = at + TYPE_RECORD_BYTES; i < (info & 0xffff); i++, e += stride) {
      const lo = this.u32(e + 4);
      const raw =
        kind === BtfKind.ENUM
          ? signed
            ? BigInt(lo | 0)
            : BigInt(lo)
          : (BigInt(this.u32(e + 8)) << 32n) | BigInt(lo);
      out.push({
        name: this.string(this.u32(e)),
        value: kind === BtfKind.ENUM64 && signed ? BigInt.asIntN(64, raw) : raw,
      });
    }
    return out;
  }

  /**
   * The value of an enumerator (`NR_FREE_PAGES`), from whichever ENUM or ENUM64 declares it (the first
   * one, in id order); undefined when none does.
   */
  enumerator(name: string): bigint | undefined {
    if (!this.enumerators) {
      const map = new Map<string, bigint>();
      for (let id = 1; id <= this.count; id++) {
        const kind = (this.u32(this.offsets[id]! + 4) >>> 24) & 0x1f;
        if (kind !== BtfKind.ENUM && kind !== BtfKind.ENUM64) continue;
        let values: { name: string; value: bigint }[];
        try {
          values = this.enumValues(id);
        } catch {
          continue; // a damaged name: the other enums still answer
        }
        for (const v of values) if (!map.has(v.name)) map.set(v.name, v.value);
      }
      this.enumerators = map;
    }
    return this.enumerators.get(name);
  }

  /** Ids of every type with this name, in id order (kinds mixed: a struct and a typedef can share one). */
  idsByName(name: string): readonly number[] {
    if (!this.namedTypes) {
      const map = new Map<string, number[]>();
      for (let id = 1; id <= this.count; id++) {
        const nameOff = this.u32(this.offsets[id]!);
        if (nameOff === 0) continue;
        let n: string;
        try {
          n = this.string(nameOff);
        } catch {
          continue; // a damaged name cannot be looked up; the other types still can
        }
        const list = map.get(n);
        if (list) list.push(id);
        else map.set(n, [id]);
      }
      this.namedTypes = map;
    }
    return this.namedTypes.get(name) ?? [];
  }

  /** The first struct (or union, when no struct has the name) with this name; forward declarations skipped. */
  structByName(name: string): BtfStruct | undefined {
    const ids = this.idsByName(name);
    const id =
      ids.find((i) => this.kindOf(i) === BtfKind.STRUCT) ?? ids.find((i) => this.kindOf(i) === BtfKind.UNION);
    return id === undefined ? undefined : this.struct(id);
  }

  /** A struct or union with its members. */
  struct(id: number): BtfStruct {
    const t = this.type(id);
    if (t.kind !== BtfKind.STRUCT && t.kind !== BtfKind.UNION)
      throw new BtfError(`${this.name}: type ${id} is a ${t.kindName}, not a struct or union`);
    return {
      id,
      kind: t.kind === BtfKind.STRUCT ? 'struct' : 'union',
      name: t.name,
      size: t.size!,
      members: this.members(id),
    };
  }

  /** The members of a struct or union, bitfield offsets decoded (kind_flag layout included). */
  members(id: number): BtfMember[] {
    const at = this.recordAt(id);
    const info = this.u32(at + 4);
    const kind = (info >>> 24) & 0x1f;
    if (kind !== BtfKind.STRUCT && kind !== BtfKind.UNION)
      throw new BtfError(`${this.name}: type ${id} is a ${KIND_NAMES[kind]}, not a struct or union`);
    const kindFlag = info >>> 31 === 1;
    const out: BtfMember[] = [];
    for (let i = 0, m = at + TYPE_RECORD_BYTES; i < (info & 0xffff); i++, m += 12) {
      const offset = this.u32(m + 8);
      out.push({
        name: this.string(this.u32(m)),
        type: this.u32(m + 4),
        // With kind_flag the offset word is bitfield_size << 24 | bit_offset.
        bitOffset: kindFlag ? offset & 0xffffff : offset,
        bitSize: kindFlag ? offset >>> 24 : 0,
      });
    }
    return out;
  }

  /** Element type and count of an ARRAY. */
  array(id: number): BtfArray {
    const at = this.recordAt(id);
    const kind = (this.u32(at + 4) >>> 24) & 0x1f;
    if (kind !== BtfKind.ARRAY)
      throw new BtfError(`${this.name}: type ${id} is a ${KIND_NAMES[kind]}, not an array`);
    return { type: this.u32(at + 12), indexType: this.u32(at + 16), nelems: this.u32(at + 20) };
  }

  /** Follow typedefs and const/volatile/restrict/type-tag qualifiers to the underlying type id. */
  resolve(id: number): number {
    let current = id;
    for (let i = 0; i <= MAX_CHAIN; i++) {
      if (current === 0) return 0;
      const at = this.recordAt(current);
      const kind = (this.u32(at + 4) >>> 24) & 0x1f;
      if (!TRANSPARENT.has(kind)) return current;
      current = this.u32(at + 8);
    }
    throw new BtfError(
      `${this.name}: the typedef/qualifier chain from type ${id} is longer than ${MAX_CHAIN} links (a loop?)`,
    );
  }

  /** Size in bytes of a type, through typedefs and qualifiers; arrays are element size × count. */
  sizeOf(id: number): number {
    let multiplier = 1;
    let current = id;
    for (let depth = 0; depth <= MAX_NESTING; depth++) {
      const resolved = this.resolve(current);
      if (resolved === 0) throw new BtfError(`${this.name}: type ${id} is void, which has no size`);
      const t = this.type(resolved);
      if (t.kind === BtfKind.ARRAY) {
        const a = this.array(resolved);
        multiplier *= a.nelems;
        if (!Number.isSafeInteger(multiplier))
          throw new BtfError(`${this.name}: the size of type ${id} overflows`);
        current = a.type;
        continue;
      }
      let size: number;
      if (t.kind === BtfKind.PTR) size = this.pointerSize;
      else if (t.size !== undefined) size = t.size;
      else
        throw new BtfError(
          `${this.name}: type ${resolved}${t.name ? ` (${t.name})` : ''} is a ${t.kindName}, which has no size`,
        );
      const total = size * multiplier;
      if (!Number.isSafeInteger(total)) throw new BtfError(`${this.name}: the size of type ${id} overflows`);
      return total;
    }
    throw new BtfError(`${this.name}: arrays nest more than ${MAX_NESTING} deep from type ${id} (a loop?)`);
  }

  /** Size in bytes of the struct (or union) with this name. */
  structSize(name: string): number {
    return this.requireStruct(name).size;
  }

  /**
   * Where a member is: `path` is a member name or a dotted path (`thread.sp`); members of anonymous
   * structs and unions are found as the C compiler finds them. Undefined when there is no such member.
   */
  findMember(structName: string, path: string): BtfMemberLocation | undefined {
    let container = this.requireStruct(structName).id;
    let bitOffset = 0;
    let found: BtfMemberLocation | undefined;
    const parts = path.split('.');
    for (const [i, part] of parts.entries()) {
      if (i > 0) {
        const next = this.resolve(found!.type);
        const kind = next === 0 ? 0 : this.kindOf(next);
        if (kind !== BtfKind.STRUCT && kind !== BtfKind.UNION)
          throw new BtfError(
            `${this.name}: ${structName}.${parts.slice(0, i).join('.')} is not a struct or union, so it has no member ${part}`,
          );
        container = next;
      }
      const hit = this.memberIn(container, part);
      if (!hit) return undefined;
      bitOffset += hit.bitOffset;
      found = { ...hit, bitOffset };
    }
    return found;
  }

  /** Byte offset of a member (see findMember); a missing or bitfield member is a BtfError. */
  memberOffset(structName: string, path: string): number {
    const m = this.findMember(structName, path);
    if (!m) throw new BtfError(`${this.name}: struct ${structName} has no member ${path}`);
    if (m.bitSize !== 0 || m.bitOffset % 8 !== 0)
      throw new BtfError(`${this.name}: ${structName}.${path} is a bitfield, not at a byte offset`);
    return m.bitOffset / 8;
  }

  private requireStruct(name: string): BtfStruct {
    const s = this.structByName(name);
    if (!s) throw new BtfError(`${this.name} has no struct ${name}`);
    return s;
  }

  /**
   * A member of one struct or union by name, looking inside anonymous members. Each container is
   * searched at most once per lookup, so hostile self-nesting cannot make this exponential.
   */
  private memberIn(container: number, name: string): BtfMemberLocation | undefined {
    const seen = new Set<number>();
    const search = (id: number, base: number, depth: number): BtfMemberLocation | undefined => {
      if (depth > MAX_NESTING)
        throw new BtfError(
          `${this.name}: anonymous members nest more than ${MAX_NESTING} deep in type ${container}`,
        );
      if (seen.has(id)) return undefined;
      seen.add(id);
      const anonymous: BtfMember[] = [];
      for (const m of this.members(id)) {
        if (m.name === name) return { bitOffset: base + m.bitOffset, bitSize: m.bitSize, type: m.type };
        if (m.name === '') anonymous.push(m);
      }
      for (const m of anonymous) {
        const inner = this.resolve(m.type);
        const kind = inner === 0 ? 0 : this.kindOf(inner);
        if (kind !== BtfKind.STRUCT && kind !== BtfKind.UNION) continue;
        const hit = search(inner, base + m.bitOffset, depth + 1);
        if (hit) return hit;
      }
      return undefined;
    };
    return search(container, 0, 0);
  }

  private kindOf(id: number): number {
    return (this.u32(this.recordAt(id) + 4) >>> 24) & 0x1f;
  }

  private recordAt(id: number): number {
    if (!Number.isInteger(id) || id < 1 || id > this.count)
      throw new BtfError(
        `${this.name}: type id ${id} does not exist (the blob has ${this.count} types${id === 0 ? '; 0 is void' : ''})`,
      );
    return this.offsets[id]!;
  }

  /** The NUL-terminated string at an offset into the string section. */
  string(offset: number): string {
    if (offset === 0) return '';
    const start = this.stringsStart + offset;
    if (offset < 0 || start >= this.stringsEnd)
      throw new BtfError(
        `${this.name}: string offset ${offset} is outside the ${this.stringsEnd - this.stringsStart}-byte string section`,
      );
    // Searched only within the section and the name-length bound: hostile offsets cost little.
    const length = this.bytes
      .subarray(start, Math.min(this.stringsEnd, start + MAX_NAME_BYTES + 1))
      .indexOf(0);
    if (length < 0)
      throw new BtfError(
        `${this.name}: the string at offset ${offset} has no terminating NUL within ${MAX_NAME_BYTES} bytes of the string section`,
      );
    return this.decoder.decode(this.bytes.subarray(start, start + length));
  }

  private u32(offset: number): number {
    return this.view.getUint32(offset, this.littleEndian);
  }
}
