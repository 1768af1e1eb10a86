/**
 * A kernel object printed from its BTF type, as crash's `struct NAME ADDRESS` shows it: members by
 * name, nested structs and unions in braces, integers in decimal, pointers in hex, enums by name,
 * char arrays as strings, bitfields extracted. Bytes the dump does not have are said to be missing,
 * never printed as zeros. Output is bounded (depth, array elements, lines).
 */

import type { Gap } from '../dump/types';
import { type Btf, BtfKind } from '../symbols/btf';
import type { VirtualMemory } from '../translate/types';

/** The largest object read at once. */
const MAX_OBJECT_BYTES = 1 << 20;
const MAX_DEPTH = 12;
const MAX_ARRAY_ELEMENTS = 64;
const MAX_LINES = 20_000;

/** Print `struct NAME ADDRESS` (every member) or `struct NAME.member.path ADDRESS` (one) as crash does. */
export async function formatStruct(
  mem: VirtualMemory,
  btf: Btf,
  spec: string,
  address: bigint,
): Promise<string> {
  const [name, ...path] = spec.split('.');
  const s = btf.structByName(name!);
  if (!s) throw new Error(`${btf.name} has no struct or union named ${name}`);
  if (path.length === 0) {
    if (s.size > MAX_OBJECT_BYTES)
      throw new Error(`${s.kind} ${name} is ${s.size} bytes; at most ${MAX_OBJECT_BYTES} are printed`);
    const r = await mem.read(address, s.size);
    const p = new Printer(btf, r.bytes, r.gaps, mem.littleEndian, mem.wordSize);
    return `${s.kind} ${name} {\n${p.members(s.id, 0, 1)}\n}${p.truncatedNote()}`;
  }
  const m = btf.findMember(name!, path.join('.'));
  if (!m) throw new Error(`${s.kind} ${name} has no member ${path.join('.')}`);
  const first = Math.floor(m.bitOffset / 8);
  const size = m.bitSize !== 0 ? Math.ceil(((m.bitOffset % 8) + m.bitSize) / 8) : btf.sizeOf(m.type);
  if (size > MAX_OBJECT_BYTES)
    throw new Error(`${spec} is ${size} bytes; at most ${MAX_OBJECT_BYTES} are printed`);
  const r = await mem.read(address + BigInt(first), size);
  const p = new Printer(btf, r.bytes, r.gaps, mem.littleEndian, mem.wordSize);
  const value = m.bitSize !== 0 ? p.bitfield(m.type, m.bitOffset % 8, m.bitSize, 0) : p.value(m.type, 0, 2);
  return `  ${path.join('.')} = ${value},${p.truncatedNote()}`;
}

class Printer {
  private lines = 0;
  private truncated = false;

  constructor(
    private readonly btf: Btf,
    private readonly bytes: Uint8Array,
    private readonly gaps: readonly Gap[],
    private readonly le: boolean,
    private readonly wordSize: number,
  ) {}

  truncatedNote(): string {
    return this.truncated ? `\n(output cut at ${MAX_LINES} lines)` : '';
  }

  private missing(offset: number, length: number): Gap | undefined {
    return this.gaps.find((g) => offset < g.offset + g.length && g.offset < offset + length);
  }

  private unsigned(offset: number, size: number): bigint {
    let v = 0n;
    for (let i = 0; i < size; i++) {
      const b = BigInt(this.bytes[offset + (this.le ? size - 1 - i : i)] ?? 0);
      v = (v << 8n) | b;
    }
    return v;
  }

  members(type: number, offset: number, depth: number): string {
    const indent = '  '.repeat(depth);
    const out: string[] = [];
    for (const m of this.btf.members(this.btf.resolve(type))) {
      if (++this.lines > MAX_LINES) {
        this.truncated = true;
        break;
      }
      const value =
        m.bitSize !== 0
          ? this.bitfield(m.type, offset * 8 + m.bitOffset, m.bitSize, 0)
          : this.value(m.type, offset + m.bitOffset / 8, depth + 1);
      // an anonymous struct or union member is printed as its members' block
      out.push(m.name ? `${indent}${m.name} = ${value}` : `${indent}${value}`);
    }
    return out.join(',\n');
  }

  bitfield(type: number, bitOffset: number, bits: number, base: number): string {
    const first = base + Math.floor(bitOffset / 8);
    const span = Math.ceil(((bitOffset % 8) + bits) / 8);
    const gap = this.missing(first, span);
    if (gap) return `<${gap.reason}>`;
    let raw = 0n;
    for (let i = 0; i < span; i++) raw |= BigInt(this.bytes[first + i] ?? 0) << BigInt(8 * i);
    let v = (raw >> BigInt(bitOffset % 8)) & ((1n << BigInt(bits)) - 1n);
    const resolved = this.btf.resolve(type);
    const t = this.btf.type(resolved);
    if (t.kind === BtfKind.INT && this.btf.intEncoding(resolved).signed && v >> BigInt(bits - 1) === 1n)
      v -= 1n << BigInt(bits);
    return this.enumName(resolved, v) ?? v.toString();
  }

  private enumName(type: number, v: bigint): string | undefined {
    const t = this.btf.type(type);
    if (t.kind !== BtfKind.ENUM && t.kind !== BtfKind.ENUM64) return undefined;
    return this.btf.enumValues(type).find((e) => e.value === v)?.name ?? v.toString();
  }

  value(type: number, offset: number, depth: number): string {
    const resolved = this.btf.resolve(type);
    if (resolved === 0) return 'void';
    const t = this.btf.type(resolved);
    const size = t.kind === BtfKind.ARRAY || t.kind === BtfKind.PTR ? undefined : t.size;
    if (t.kind === BtfKind.STRUCT || t.kind === BtfKind.UNION) {
      if (depth > MAX_DEPTH) return '{...}';
      const gap = this.missing(offset, t.size ?? 0);
      if (gap && gap.offset <= offset && gap.offset + gap.length >= offset + (t.size ?? 0))
        return `<${gap.reason}>`;
      const inner = this.members(resolved, offset, depth);
      return inner ? `{\n${inner}\n${'  '.repeat(depth - 1)}}` : '{}';
    }
    if (t.kind === BtfKind.ARRAY) return this.array(resolved, offset, depth);
    if (t.kind === BtfKind.PTR) {
      const gap = this.missing(offset, this.wordSize);
      return gap ? `<${gap.reason}>` : `0x${this.unsigned(offset, this.wordSize).toString(16)}`;
    }
    if (size === undefined || size === 0) return `<${t.kindName}>`;
    const gap = this.missing(offset, size);
    if (gap) return `<${gap.reason}>`;
    let v = this.unsigned(offset, size);
    if (t.kind === BtfKind.INT) {
      const enc = this.btf.intEncoding(resolved);
      if (enc.bool) return v === 0n ? 'false' : 'true';
      if (enc.signed) v = BigInt.asIntN(size * 8, v);
      return v.toString();
    }
    if (t.kind === BtfKind.ENUM || t.kind === BtfKind.ENUM64) return this.enumName(resolved, v)!;
    if (t.kind === BtfKind.FLOAT) return `<float of ${size} bytes>`;
    return `0x${v.toString(16)}`;
  }

  private array(type: number, offset: number, depth: number): string {
    const a = this.btf.array(type);
    const element = this.btf.resolve(a.type);
    const elementSize = this.btf.sizeOf(a.type);
    const et = element === 0 ? undefined : this.btf.type(element);
    // char arrays as strings (pahole does not always set BTF's CHAR encoding: the name says it)
    if (
      et?.kind === BtfKind.INT &&
      elementSize === 1 &&
      (this.btf.intEncoding(element).char || /^(signed |unsigned )?char$/.test(et.name))
    ) {
      const gap = this.missing(offset, a.nelems);
      if (gap) return `<${gap.reason}>`;
      let s = '"';
      for (let i = 0; i < a.nelems; i++) {
        const c = this.bytes[offset + i]!;
        s +=
          c === 0x22 || c === 0x5c
            ? `\\${String.fromCharCode(c)}`
            : c >= 0x20 && c < 0x7f
              ? String.fromCharCode(c)
              : `\\${c.toString(8).padStart(3, '0')}`;
      }
      return `${s}"`;
    }
    const shown = Math.min(a.nelems, MAX_ARRAY_ELEMENTS);
    const items: string[] = [];
    for (let i = 0; i < shown; i++) items.push(this.value(a.type, offset + i * elementSize, depth + 1));
    const more = a.nelems > shown ? `, ... (${a.nelems - shown} more)` : '';
    const nested = items.some((x) => x.includes('\n'));
    return nested
      ? `{\n${items.map((x) => `${'  '.repeat(depth)}${x}`).join(',\n')}${more}\n${'  '.repeat(depth - 1)}}`
      : `{${items.join(', ')}${more}}`;
  }
}
