/**
 * Is this file a crash dump? Decided by its first bytes through the engine's identify() (never by the
 * file name), plus the ELF type: any ELF file starts like an ELF vmcore, but only ET_CORE is a dump.
 */
import { basename } from 'node:path';
import { readElfHeader } from '../../dump/elf';
import { DumpError } from '../../dump/errors';
import { type DumpKind, identify } from '../../dump/open';
import { FileSource } from '../../dump/source';

const ET_CORE = 4;
const ELF_TYPES: Record<number, string> = {
  1: 'a relocatable object (.o/.ko)',
  2: 'an executable',
  3: 'a shared object',
};

export type DumpCheck = { ok: true; kind: DumpKind } | { ok: false; message: string };

/** Check the content of `path`; never throws, the message says what the file is instead. */
export async function checkDumpFile(path: string): Promise<DumpCheck> {
  const name = basename(path);
  let source: FileSource | undefined;
  try {
    source = await FileSource.open(path);
    const head = await source.read(0, 16);
    const kind = identify(head, name);
    if (kind === 'elf') {
      const header = await readElfHeader(source);
      if (header.type !== ET_CORE) {
        const what = ELF_TYPES[header.type] ?? `an ELF file of type ${header.type}`;
        const hint = header.type === 2 ? ' (a vmlinux goes in "vmlinux", as the symbol file)' : '';
        return {
          ok: false,
          message: `${name} is not a crash dump: it is ${what}, not an ELF core file${hint}`,
        };
      }
    }
    return { ok: true, kind };
  } catch (err) {
    if (err instanceof DumpError) return { ok: false, message: err.message };
    return { ok: false, message: `${name} cannot be read: ${String((err as Error).message ?? err)}` };
  } finally {
    await source?.close().catch(() => undefined);
  }
}
