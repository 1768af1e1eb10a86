import { isElf, openElfDump } from './elf';
import { DumpError } from './errors';
import { openFlattened } from './flattened';
import { openKdumpCompressed } from './kdumpCompressed';
import { type ByteSource, FileSource, type FileSourceOptions } from './source';
import type { Dump } from './types';

const KDUMP_SIGNATURE = 'KDUMP   ';
const DISKDUMP_SIGNATURE = 'DISKDUMP';
const FLATTENED_SIGNATURE = 'makedumpfile';

/** Compressed-file magic numbers: these are archives of a dump, not dumps. */
const ARCHIVES: { magic: number[]; what: string; how: string }[] = [
  { magic: [0x28, 0xb5, 0x2f, 0xfd], what: 'zstd', how: 'zstd -d --long=31 FILE' },
  { magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], what: 'xz', how: 'xz -dk FILE' },
  { magic: [0x1f, 0x8b], what: 'gzip', how: 'gzip -dk FILE' },
  { magic: [0x42, 0x5a, 0x68], what: 'bzip2', how: 'bzip2 -dk FILE' },
  { magic: [0x04, 0x22, 0x4d, 0x18], what: 'lz4', how: 'lz4 -d FILE' },
];

export type DumpKind = 'elf' | 'kdump' | 'diskdump' | 'flattened';

/** Identify a dump by its first bytes (never by its name), or say plainly what the file is instead. */
export function identify(head: Uint8Array, name: string): DumpKind {
  const ascii = Buffer.from(head.subarray(0, 16)).toString('latin1');
  if (isElf(head)) return 'elf';
  if (ascii.startsWith(KDUMP_SIGNATURE)) return 'kdump';
  if (ascii.startsWith(DISKDUMP_SIGNATURE)) return 'diskdump';
  if (
    ascii.startsWith(FLATTENED_SIGNATURE) &&
    head.length >= 16 &&
    head.subarray(12, 16).every((b) => b === 0)
  )
    return 'flattened';
  for (const a of ARCHIVES) {
    if (a.magic.every((b, i) => head[i] === b)) {
      throw new DumpError(
        'compressed-file',
        `${name} is a ${a.what}-compressed file, not a dump; decompress it first: ${a.how.replace('FILE', name)}`,
      );
    }
  }
  if (head.length === 0) throw new DumpError('not-a-dump', `${name} is empty`);
  throw new DumpError(
    'not-a-dump',
    `${name} is not a crash dump: it starts with neither an ELF header, "KDUMP", "DISKDUMP" nor a makedumpfile flattened header`,
  );
}

/** Open any supported dump format from a byte source. The source is closed with the dump. */
export async function openDumpSource(source: ByteSource): Promise<Dump> {
  try {
    const head = await source.read(0, 16);
    const kind = identify(head, source.name);
    if (kind === 'flattened') {
      const inner = await openFlattened(source);
      const innerHead = await inner.read(0, 16);
      const innerKind = identify(innerHead, source.name);
      if (innerKind === 'flattened')
        throw new DumpError(
          'corrupt',
          `${source.name}: a flattened stream that contains another flattened stream`,
        );
      const dump =
        innerKind === 'elf'
          ? await openElfDump(inner, 'flattened')
          : await openKdumpCompressed(inner, 'flattened');
      // What is wrong with the stream itself (cut short, a partial record) belongs to the dump.
      return {
        ...dump,
        details: { ...dump.details, ...inner.details },
        problems: [...inner.problems, ...dump.problems],
      };
    }
    return kind === 'elf' ? await openElfDump(source) : await openKdumpCompressed(source);
  } catch (err) {
    await source.close().catch(() => undefined);
    throw err;
  }
}

/** Open a dump file by path. */
export async function openDump(path: string, options: FileSourceOptions = {}): Promise<Dump> {
  return openDumpSource(await FileSource.open(path, options));
}
