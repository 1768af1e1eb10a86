import { toU64 } from '../util/bytes';

/**
 * The kernel's VMCOREINFO note: `KEY=VALUE` lines. All raw keys are kept; typed accessors parse the
 * value per key family (SYMBOL: hex without 0x; SIZE/OFFSET/LENGTH: decimal; NUMBER: signed decimal
 * or 0x-hex; KERNELOFFSET: hex without 0x).
 */
export class VmcoreInfo {
  readonly raw: ReadonlyMap<string, string>;

  constructor(readonly text: string) {
    const raw = new Map<string, string>();
    for (const line of text.split('\n')) {
      const trimmed = line.replace(/\0+$/, '').replace(/\r$/, '');
      const eq = trimmed.indexOf('=');
      if (eq <= 0) continue;
      raw.set(trimmed.slice(0, eq), trimmed.slice(eq + 1));
    }
    this.raw = raw;
  }

  static fromBytes(desc: Uint8Array): VmcoreInfo {
    let end = desc.indexOf(0);
    if (end < 0) end = desc.length;
    return new VmcoreInfo(Buffer.from(desc.subarray(0, end)).toString('latin1'));
  }

  get(key: string): string | undefined {
    return this.raw.get(key);
  }

  get osRelease(): string | undefined {
    return this.raw.get('OSRELEASE');
  }
  get buildId(): string | undefined {
    return this.raw.get('BUILD-ID');
  }
  get pageSize(): number | undefined {
    const v = parseDecimal(this.raw.get('PAGESIZE'));
    return v !== undefined && v > 0n && v <= 1n << 30n && (v & (v - 1n)) === 0n ? Number(v) : undefined;
  }
  /** Seconds since the epoch when the kernel crashed; absent in live/hypervisor snapshots. */
  get crashTime(): number | undefined {
    const v = parseDecimal(this.raw.get('CRASHTIME'));
    return v === undefined ? undefined : Number(v);
  }
  get kernelOffset(): bigint | undefined {
    return parseHex(this.raw.get('KERNELOFFSET'));
  }

  /** `SYMBOL(name)`: runtime address (KASLR applied). */
  symbol(name: string): bigint | undefined {
    return parseHex(this.raw.get(`SYMBOL(${name})`));
  }
  /** `OFFSET(type.member)`. */
  offset(member: string): number | undefined {
    return toNumber(parseDecimal(this.raw.get(`OFFSET(${member})`)));
  }
  size(type: string): number | undefined {
    return toNumber(parseDecimal(this.raw.get(`SIZE(${type})`)));
  }
  length(name: string): number | undefined {
    return toNumber(parseDecimal(this.raw.get(`LENGTH(${name})`)));
  }
  /** `NUMBER(name)` as a signed value (decimal, or 0x-hex read as 64-bit two's complement). */
  number(name: string): bigint | undefined {
    return parseNumber(this.raw.get(`NUMBER(${name})`));
  }
  /** `NUMBER(name)` as unsigned 64-bit. */
  numberU64(name: string): bigint | undefined {
    const v = this.number(name);
    return v === undefined ? undefined : toU64(v);
  }
}

function parseHex(v: string | undefined): bigint | undefined {
  if (v === undefined) return undefined;
  const s = v.trim().replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]{1,16}$/.test(s)) return undefined;
  return BigInt('0x' + s);
}

function parseDecimal(v: string | undefined): bigint | undefined {
  if (v === undefined) return undefined;
  const s = v.trim();
  if (!/^-?[0-9]{1,20}$/.test(s)) return undefined;
  return BigInt(s);
}

/** NUMBER values: optional `-`, then 0x-hex or decimal; never C octal. Result is signed 64-bit. */
export function parseNumber(v: string | undefined): bigint | undefined {
  if (v === undefined) return undefined;
  const m = /^\s*(-?)(0x[0-9a-fA-F]{1,16}|[0-9]{1,20})\s*$/.exec(v);
  if (!m) return undefined;
  let n = BigInt(m[2]!);
  if (m[1]) n = -n;
  return BigInt.asIntN(64, n);
}

function toNumber(v: bigint | undefined): number | undefined {
  return v === undefined || v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(v);
}
