/**
 * How the machine's memory was used when it stopped, as crash's `kmem -i` (and /proc/meminfo) count
 * it: total RAM, free, used, shared, buffers, page cache, slab, huge pages, swap, and the commit limit
 * against what was committed.
 *
 * The counters are the kernel's global ones (`vm_zone_stat[]`, `vm_node_stat[]`, indexed by the
 * enumerators of its BTF), `_totalram_pages`, swap and hugetlb state, and the block-device inodes'
 * page counts for buffers. A value that cannot be read is left out with the reason, never shown as 0.
 */
import type { Btf } from '../symbols/btf';
import type { SymbolTable } from '../symbols/symbolTable';
import { readPointer, readU32, type VirtualMemory } from '../translate/types';

export interface MemoryInfo {
  /** Pages, in crash's order; undefined where the value could not be read. */
  totalRam?: number;
  free?: number;
  used?: number;
  shared?: number;
  buffers?: number;
  cached?: number;
  slab?: number;
  totalHuge?: number;
  hugeFree?: number;
  totalSwap?: number;
  swapUsed?: number;
  swapFree?: number;
  commitLimit?: number;
  committed?: number;
  pageSize: number;
  /** What could not be read, and why. */
  problems: string[];
}

/** More block-device inodes than this is a loop in a damaged list. */
const MAX_BLOCKDEV_INODES = 1 << 20;
const MAX_HSTATES = 64;

export async function readMemoryInfo(
  mem: VirtualMemory,
  symbols: SymbolTable | undefined,
  btf: Btf | undefined,
  pageSize: number,
): Promise<MemoryInfo> {
  const info: MemoryInfo = { pageSize, problems: [] };
  if (!symbols) {
    info.problems.push('no symbols: give a System.map or vmlinux');
    return info;
  }
  const word = BigInt(mem.wordSize);
  const signedWord = async (address: bigint, what: string) =>
    Number(BigInt.asIntN(mem.wordSize * 8, await readPointer(mem, address, what)));
  const symbol = (name: string) => {
    const s = symbols.lookup(name);
    if (!s) throw new Error(`the symbol ${name} is not in ${symbols.description}`);
    return s.address;
  };
  const attempt = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (err) {
      info.problems.push(`${what}: ${(err as Error).message}`);
      return undefined;
    }
  };
  /** vm_zone_stat[NAME] or vm_node_stat[NAME], the index from the kernel's enum. */
  const stat = async (array: 'vm_zone_stat' | 'vm_node_stat', name: string) => {
    if (!btf) throw new Error("the counters' indexes need the kernel's BTF");
    const index = btf.enumerator(name);
    if (index === undefined) throw new Error(`${btf.name} has no enumerator ${name}`);
    return signedWord(symbol(array) + index * word, `${array}[${name}]`);
  };

  info.totalRam = await attempt('TOTAL MEM', () => signedWord(symbol('_totalram_pages'), '_totalram_pages'));
  info.free = await attempt('FREE', () => stat('vm_zone_stat', 'NR_FREE_PAGES'));
  if (info.totalRam !== undefined && info.free !== undefined) info.used = info.totalRam - info.free;
  info.shared = await attempt('SHARED', () => stat('vm_node_stat', 'NR_SHMEM'));
  info.buffers = await attempt('BUFFERS', () => blockdevPages(mem, symbols, btf));
  const swapCache =
    btf?.enumerator('NR_SWAPCACHE') !== undefined
      ? await attempt('swap cache', () => stat('vm_node_stat', 'NR_SWAPCACHE'))
      : 0;
  const filePages = await attempt('CACHED', () => stat('vm_node_stat', 'NR_FILE_PAGES'));
  // /proc/meminfo's Cached: file pages that are neither swap cache nor block-device buffers.
  if (filePages !== undefined && info.buffers !== undefined && swapCache !== undefined)
    info.cached = Math.max(0, filePages - swapCache - info.buffers);
  const slabReclaimable = await attempt('SLAB', () => stat('vm_node_stat', 'NR_SLAB_RECLAIMABLE_B'));
  const slabUnreclaimable = await attempt('SLAB', () => stat('vm_node_stat', 'NR_SLAB_UNRECLAIMABLE_B'));
  if (slabReclaimable !== undefined && slabUnreclaimable !== undefined)
    info.slab = slabReclaimable + slabUnreclaimable;

  const huge = await attempt('HUGE', () => hugePages(mem, symbols, btf));
  info.totalHuge = huge?.total;
  info.hugeFree = huge?.free;

  info.totalSwap = await attempt('TOTAL SWAP', () =>
    signedWord(symbol('total_swap_pages'), 'total_swap_pages'),
  );
  info.swapFree = await attempt('SWAP FREE', () => signedWord(symbol('nr_swap_pages'), 'nr_swap_pages'));
  if (info.totalSwap !== undefined && info.swapFree !== undefined)
    info.swapUsed = info.totalSwap - info.swapFree;

  // mm/util.c vm_commit_limit(): overcommit_kbytes when set, else ratio% of RAM not in huge pages; plus swap.
  info.commitLimit = await attempt('COMMIT LIMIT', async () => {
    const kbytes = await signedWord(symbol('sysctl_overcommit_kbytes'), 'sysctl_overcommit_kbytes');
    const ratio = (await readU32(mem, symbol('sysctl_overcommit_ratio'), 'sysctl_overcommit_ratio')) | 0;
    if (info.totalRam === undefined || info.totalSwap === undefined || huge === undefined)
      throw new Error('it needs the total RAM, swap and huge pages');
    const allowed =
      kbytes > 0
        ? Math.floor(kbytes / (pageSize / 1024))
        : Math.floor(((info.totalRam - huge.total) * ratio) / 100);
    return allowed + info.totalSwap;
  });
  // percpu_counter_read_positive(&vm_committed_as), as /proc/meminfo's Committed_AS.
  info.committed = await attempt('COMMITTED', async () => {
    if (!btf) throw new Error("percpu_counter's layout needs the kernel's BTF");
    const count = await signedWord(
      symbol('vm_committed_as') + BigInt(btf.memberOffset('percpu_counter', 'count')),
      'vm_committed_as.count',
    );
    return Math.max(0, count);
  });
  return info;
}

/** nr_blockdev_pages(): the page-cache pages of every block device's inode. */
async function blockdevPages(
  mem: VirtualMemory,
  symbols: SymbolTable,
  btf: Btf | undefined,
): Promise<number> {
  if (!btf) throw new Error("it needs the kernel's BTF");
  const sbPointer = symbols.lookup('blockdev_superblock');
  if (!sbPointer) throw new Error(`the symbol blockdev_superblock is not in ${symbols.description}`);
  const sb = await readPointer(mem, sbPointer.address, 'blockdev_superblock');
  const head = sb + BigInt(btf.memberOffset('super_block', 's_inodes'));
  const link = btf.memberOffset('inode', 'i_sb_list');
  const mapping = btf.memberOffset('inode', 'i_mapping');
  const nrpages = btf.memberOffset('address_space', 'nrpages');
  let pages = 0;
  const seen = new Set<bigint>();
  for (let next = await readPointer(mem, head, 's_inodes.next'); next !== head; ) {
    if (seen.has(next) || seen.size >= MAX_BLOCKDEV_INODES)
      throw new Error('the block-device inode list loops');
    seen.add(next);
    const inode = next - BigInt(link);
    const space = await readPointer(mem, inode + BigInt(mapping), 'inode->i_mapping');
    if (space !== 0n) pages += Number(await readPointer(mem, space + BigInt(nrpages), 'i_mapping->nrpages'));
    next = await readPointer(mem, next, 'i_sb_list.next');
  }
  return pages;
}

/** Huge pages of every hstate, in base pages: Σ nr_huge_pages << order, and the free ones. */
async function hugePages(
  mem: VirtualMemory,
  symbols: SymbolTable,
  btf: Btf | undefined,
): Promise<{ total: number; free: number }> {
  const count = symbols.lookup('hugetlb_max_hstate');
  const hstates = symbols.lookup('hstates');
  // A kernel without CONFIG_HUGETLB_PAGE has neither symbol, and no huge pages.
  if (!count && !hstates) return { total: 0, free: 0 };
  if (!count || !hstates || !btf) throw new Error('hugetlb_max_hstate, hstates and the BTF are needed');
  const u32 = (a: bigint, what: string) => readU32(mem, a, what);
  const n = await u32(count.address, 'hugetlb_max_hstate');
  if (n > MAX_HSTATES) throw new Error(`${n} huge page sizes`);
  const size = btf.structSize('hstate');
  const order = btf.memberOffset('hstate', 'order');
  const total = btf.memberOffset('hstate', 'nr_huge_pages');
  const free = btf.memberOffset('hstate', 'free_huge_pages');
  const out = { total: 0, free: 0 };
  for (let i = 0; i < n; i++) {
    const h = hstates.address + BigInt(i * size);
    const o = await u32(h + BigInt(order), 'hstate.order');
    if (o > 30) throw new Error(`a huge page of order ${o}`);
    out.total += Number(await readPointer(mem, h + BigInt(total), 'hstate.nr_huge_pages')) * 2 ** o;
    out.free += Number(await readPointer(mem, h + BigInt(free), 'hstate.free_huge_pages')) * 2 ** o;
  }
  return out;
}
