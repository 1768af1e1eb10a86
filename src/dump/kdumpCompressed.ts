import { DumpError } from './errors';
import type { ByteSource } from './source';
import type { Dump } from './types';

/** makedumpfile's compressed format (`KDUMP   `) and legacy `DISKDUMP`. */
export async function openKdumpCompressed(
  source: ByteSource,
  _container: 'plain' | 'flattened' = 'plain',
): Promise<Dump> {
  throw new DumpError('unsupported', `${source.name}: the kdump-compressed format is not implemented yet`);
}
