/** Physical memory built by a test: a few pages placed at chosen addresses, everything else absent. */
import { archByName } from '../../src/arch';
import type { ArchName } from '../../src/arch/types';
import { GapList } from '../../src/dump/physicalIndex';
import type { Dump, PhysicalMemory, PhysicalRange, ReadResult, VirtualSegment } from '../../src/dump/types';
import { VmcoreInfo } from '../../src/dump/vmcoreinfo';

export class SparseMemory implements PhysicalMemory {
  private readonly pages = new Map<bigint, Uint8Array>();
  constructor(
    readonly pageSize = 4096,
    readonly littleEndian = true,
  ) {}

  page(addr: bigint): Uint8Array {
    const base = addr & ~BigInt(this.pageSize - 1);
    let p = this.pages.get(base);
    if (!p) {
      p = new Uint8Array(this.pageSize);
      this.pages.set(base, p);
    }
    return p;
  }

  writeU64(addr: bigint, value: bigint): void {
    const p = this.page(addr);
    new DataView(p.buffer).setBigUint64(Number(addr & BigInt(this.pageSize - 1)), value, this.littleEndian);
  }

  ranges(): readonly PhysicalRange[] {
    return [...this.pages.keys()]
      .sort((a, b) => (a < b ? -1 : 1))
      .map((start) => ({ start, end: start + BigInt(this.pageSize) }));
  }

  async read(paddr: bigint, length: number): Promise<ReadResult> {
    const bytes = new Uint8Array(length);
    const gaps = new GapList();
    let done = 0;
    while (done < length) {
      const a = paddr + BigInt(done);
      const off = Number(a & BigInt(this.pageSize - 1));
      const n = Math.min(length - done, this.pageSize - off);
      const p = this.pages.get(a - BigInt(off));
      if (p) bytes.set(p.subarray(off, off + n), done);
      else gaps.add(done, n, 'not-in-dump');
      done += n;
    }
    return gaps.result(bytes);
  }
}

/** A Dump around test-built memory and VMCOREINFO text: for unit tests of the layers above. */
export function syntheticDump(
  arch: ArchName,
  memory: SparseMemory,
  vmcoreinfo: string,
  virtualSegments: VirtualSegment[] = [],
): Dump {
  return {
    path: '<synthetic>',
    format: 'elf',
    container: 'plain',
    compression: ['none'],
    details: {},
    arch: archByName(arch),
    littleEndian: memory.littleEndian,
    notes: [],
    vmcoreinfo: new VmcoreInfo(vmcoreinfo),
    prstatus: [],
    qemuCpuStates: [],
    memory,
    virtualSegments,
    problems: [],
    source: {
      name: '<synthetic>',
      size: 0,
      read: async () => new Uint8Array(0),
      close: async () => undefined,
    },
    close: async () => undefined,
  };
}
