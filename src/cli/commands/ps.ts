/** `vmcore ps FILE [--vmlinux P] [--system-map P] [--json]`: every task, like crash's `ps`. */
import { formatPs } from '../../kernel/crashFormat';
import { UsageError } from '../args';
import { toJson } from '../output';
import { FILE, JSON_OPTION, SYMBOL_OPTIONS, withKernel } from './common';
import { type Command, EXIT } from './types';

export const ps: Command = {
  name: 'ps',
  summary: 'every task: pid, parent, CPU, task_struct, state, memory, name (crash: ps)',
  positionals: [FILE],
  options: [...SYMBOL_OPTIONS, JSON_OPTION],
  help: `The idle task of each CPU (init_task, rq->idle), then every thread of every process from
init_task's task list and each process's thread list, with task_struct offsets from the kernel's BTF.
The symbol init_task is in kallsyms where the kernel was built with CONFIG_KALLSYMS_ALL; else give
--system-map or --vmlinux. ">" marks the task each CPU was running; kernel threads are in brackets.
ST is crash's (RU IN UN ST TR DE ZO PA ID for /proc's R S D T t X Z P I). VSZ and RSS are in KiB; RSS
counts file, anonymous and shmem pages as the kernel's get_mm_rss does (crash's leaves out shmem).
JSON: {tasks: [{pid, tgid, ppid, cpu, task, state, comm, kernelThread, active, vszKiB, rssKiB,
rssPages: {file, anon, shmem}}], totalRamPages, note}.
Exit status 1 when the list could not be read (the note says why).`,
  async run(args, io) {
    return withKernel(args, async (view) => {
      const { dump, kernel } = view;
      if (!kernel) throw new UsageError(`${dump.path}: ${view.kernelProblem}`, 'ps');
      const list = await kernel.tasks();
      const active = new Set(kernel.cpus.flatMap((c) => (c.task ? [c.task.address] : [])));
      if (args.flags.json) {
        io.out(
          toJson({
            tasks: list.tasks.map((t) => ({
              pid: t.pid,
              tgid: t.tgid,
              ppid: t.ppid ?? null,
              cpu: t.cpu ?? null,
              task: `0x${t.address.toString(16)}`,
              state: t.state,
              comm: t.comm,
              kernelThread: t.kernelThread,
              active: active.has(t.address),
              vszKiB: t.vszKiB,
              rssKiB: t.rssKiB,
              rssPages: t.rssPages,
            })),
            totalRamPages: list.totalRamPages ?? null,
            note: list.note,
          }),
        );
      } else if (list.tasks.length > 0) io.out(`${formatPs(list, active, dump.arch.wordSize)}\n`);
      else io.err(`vmcore: ${dump.path}: ${list.note}\n`);
      return list.tasks.length > 0 ? EXIT.OK : EXIT.PARTIAL;
    });
  },
};
