/**
 * A tiny C struct layout calculator (natural alignment: every scalar aligned to its size, a struct
 * to its largest member, sizes rounded up to the alignment), so tests can compute where the kernel
 * puts each field of `struct elf_prstatus` from the struct definitions themselves, independently of
 * the offset tables in src/arch and in the format documentation.
 */

export interface CType {
  size: number;
  align: number;
  /** Struct members with their offsets. */
  members?: { name: string; type: CType; offset: number }[];
  /** Array element type and count. */
  element?: CType;
  count?: number;
}

export function scalar(size: number): CType {
  return { size, align: size };
}

export function array(element: CType, count: number): CType {
  return { size: element.size * count, align: element.align, element, count };
}

export function struct(fields: [string, CType][]): CType {
  let offset = 0;
  let align = 1;
  const members: { name: string; type: CType; offset: number }[] = [];
  for (const [name, type] of fields) {
    offset = Math.ceil(offset / type.align) * type.align;
    members.push({ name, type, offset });
    offset += type.size;
    align = Math.max(align, type.align);
  }
  return { size: Math.ceil(offset / align) * align, align, members };
}

/** Byte offset of a member path like `pr_reg`, `pr_reg.psw.addr` or `pr_reg.gprs[15]`. */
export function offsetOf(type: CType, path: string): { offset: number; size: number } {
  let offset = 0;
  let cur = type;
  for (const part of path.split('.')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?$/.exec(part);
    if (!m) throw new Error(`bad member path ${path}`);
    const member = cur.members?.find((x) => x.name === m[1]);
    if (!member) throw new Error(`no member ${m[1]} in ${path}`);
    offset += member.offset;
    cur = member.type;
    if (m[2] !== undefined) {
      const i = Number(m[2]);
      if (!cur.element || i >= cur.count!) throw new Error(`${part} is not an index into an array`);
      offset += i * cur.element.size;
      cur = cur.element;
    }
  }
  return { offset, size: cur.size };
}

/** C types of a Linux ABI: `long` is the word size. */
export function abi(wordSize: 4 | 8) {
  const int = scalar(4);
  const short = scalar(2);
  const long = scalar(wordSize);
  const u64 = scalar(8);
  const u32 = scalar(4);
  /** struct __kernel_old_timeval { __kernel_long_t tv_sec, tv_usec; } */
  const timeval = struct([
    ['tv_sec', long],
    ['tv_usec', long],
  ]);
  /** include/linux/elfcore.h: struct elf_prstatus (elf_prstatus_common inlined as `common`). */
  const elfPrstatus = (gregset: CType) =>
    struct([
      [
        'common',
        struct([
          [
            'pr_info',
            struct([
              ['si_signo', int],
              ['si_code', int],
              ['si_errno', int],
            ]),
          ],
          ['pr_cursig', short],
          ['pr_sigpend', long],
          ['pr_sighold', long],
          ['pr_pid', int],
          ['pr_ppid', int],
          ['pr_pgrp', int],
          ['pr_sid', int],
          ['pr_utime', timeval],
          ['pr_stime', timeval],
          ['pr_cutime', timeval],
          ['pr_cstime', timeval],
        ]),
      ],
      ['pr_reg', gregset],
      ['pr_fpvalid', int],
    ]);
  /** A struct of `long`s in the given order. */
  const longs = (names: string[]) => struct(names.map((n) => [n, long] as [string, CType]));
  return { int, short, long, u64, u32, timeval, elfPrstatus, longs };
}
