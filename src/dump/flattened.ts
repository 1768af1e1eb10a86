import { DumpError } from './errors';
import type { ByteSource } from './source';

/** Read a makedumpfile flattened stream (`-F`) in place, as the file it reassembles to. */
export async function openFlattened(source: ByteSource): Promise<ByteSource> {
  throw new DumpError('unsupported', `${source.name}: the flattened format is not implemented yet`);
}
