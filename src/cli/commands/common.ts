import { openDump } from '../../dump/open';
import type { Dump } from '../../dump/types';
import type { OptionSpec, PositionalSpec } from '../args';

export const FILE: PositionalSpec = {
  name: 'FILE',
  description: 'the dump (ELF, kdump-compressed or flattened)',
};
export const JSON_OPTION: OptionSpec = {
  name: 'json',
  type: 'flag',
  description: 'print JSON instead of text',
};

/** Open the dump, run `fn`, close the dump whatever happens. Open errors propagate as DumpError. */
export async function withDump<T>(path: string, fn: (dump: Dump) => Promise<T>): Promise<T> {
  const dump = await openDump(path);
  try {
    return await fn(dump);
  } finally {
    await dump.close().catch(() => undefined);
  }
}
