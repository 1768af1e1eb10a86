/** `vmcore kmem FILE [--vmlinux P] [--system-map P] [--json]`: memory usage, like crash's `kmem -i`. */
import { formatMemoryInfo } from '../../kernel/crashFormat';
import { UsageError } from '../args';
import { toJson } from '../output';
import { FILE, JSON_OPTION, SYMBOL_OPTIONS, withKernel } from './common';
import { type Command, EXIT } from './types';

export const kmem: Command = {
  name: 'kmem',
  summary:
    'memory usage: total, free, used, shmem, buffers, cache, slab, huge pages, swap, commit (crash: kmem -i)',
  positionals: [FILE],
  options: [...SYMBOL_OPTIONS, JSON_OPTION],
  help: `The kernel's own counters when it stopped: _totalram_pages, vm_zone_stat[] and vm_node_stat[]
(indexes from the kernel's BTF enums), the block-device inodes' pages (buffers), hstates, swap, and
vm_commit_limit() against vm_committed_as. Rows as crash's kmem -i prints them; SHMEM and SLAB are
/proc/meminfo's (crash's SHARED and SLAB come from walks of every page and of the slab caches).
JSON: {pageSize, totalRam, free, used, shared, buffers, cached, slab, totalHuge, hugeFree, totalSwap,
swapUsed, swapFree, commitLimit, committed (pages; null where unreadable), problems: [...]}.
Exit status 1 when a value could not be read (problems says why).`,
  async run(args, io) {
    return withKernel(args, async (view) => {
      const { dump, kernel } = view;
      if (!kernel) throw new UsageError(`${dump.path}: ${view.kernelProblem}`, 'kmem');
      const m = await kernel.memoryInfo();
      if (args.flags.json) {
        const keys = [
          'totalRam',
          'free',
          'used',
          'shared',
          'buffers',
          'cached',
          'slab',
          'totalHuge',
          'hugeFree',
          'totalSwap',
          'swapUsed',
          'swapFree',
          'commitLimit',
          'committed',
        ] as const;
        io.out(
          toJson({
            pageSize: m.pageSize,
            ...Object.fromEntries(keys.map((key) => [key, m[key] ?? null])),
            problems: m.problems,
          }),
        );
      } else io.out(`${formatMemoryInfo(m)}\n`);
      return m.problems.length === 0 ? EXIT.OK : EXIT.PARTIAL;
    });
  },
};
