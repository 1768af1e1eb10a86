/** `vmcore dmesg FILE`: the kernel log, as `makedumpfile --dump-dmesg` prints it. */
import { DumpError } from '../../dump/errors';
import { formatKernelLog, KernelLogError, readKernelLog } from '../../kernel/dmesg';
import { KernelAddressSpace } from '../../translate/addressSpace';
import { FILE, withDump } from './common';
import { type Command, EXIT } from './types';

export const dmesg: Command = {
  name: 'dmesg',
  summary: 'the kernel log saved in the dump, as makedumpfile --dump-dmesg prints it',
  positionals: [FILE],
  options: [
    {
      name: 'plain',
      type: 'flag',
      description: "drgn's style: text as UTF-8, continuation lines not indented",
    },
  ],
  help: `Needs no vmlinux or System.map: the log is found through VMCOREINFO (the lockless ring of 5.10+,
the structured log_buf of 3.5–5.9 and the legacy log_buf). Records that could not be read are
reported on stderr and the exit status is 1.`,
  async run(args, io) {
    const path = args.positionals.FILE!;
    return withDump(path, async (dump) => {
      const space = await KernelAddressSpace.create(dump);
      let log: Awaited<ReturnType<typeof readKernelLog>>;
      try {
        log = await readKernelLog(space, dump.vmcoreinfo);
      } catch (err) {
        if (err instanceof KernelLogError) throw new DumpError('corrupt', `${path}: ${err.message}`);
        throw err;
      }
      const lines = formatKernelLog(log, { style: args.flags.plain ? 'plain' : 'makedumpfile' });
      io.out(lines.length > 0 ? `${lines.join('\n')}\n` : '');
      for (const p of log.problems) io.err(`vmcore: ${path}: ${p}\n`);
      return log.problems.length > 0 ? EXIT.PARTIAL : EXIT.OK;
    });
  },
};
