/** "Open as Crash Dump" decides by content: every real dump passes, real non-dumps get a clear reason. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkDumpFile } from '../../src/extension/pure/dumpCheck';
import { corpus, VMCORES } from '../support/corpus';

describe('checkDumpFile', () => {
  const dumps = corpus();
  it('the corpus is there', () => expect(dumps.length).toBeGreaterThanOrEqual(8));

  for (const d of dumps) {
    it(`accepts ${d.name} (${d.truth.format})`, async () => {
      const res = await checkDumpFile(d.path);
      expect(res).toEqual({ ok: true, kind: d.name.includes('flat') ? 'flattened' : d.truth.format });
    });
  }

  const scratch = mkdtempSync(join(tmpdir(), 'kdump-check-'));

  it('refuses a text file named like a dump, saying what it starts with', async () => {
    const p = join(scratch, 'vmcore');
    writeFileSync(p, 'this is not a crash dump\n');
    const res = await checkDumpFile(p);
    expect(res).toEqual({
      ok: false,
      message:
        'vmcore is not a crash dump: it starts with neither an ELF header, "KDUMP", "DISKDUMP" nor a makedumpfile flattened header',
    });
  });

  it('refuses the zstd-compressed dump with the command that decompresses it', async () => {
    const zst = join(VMCORES, 'kdump-sysrq/vmcore.elf-d31.zst');
    const res = await checkDumpFile(zst);
    expect(res.ok).toBe(false);
    expect(!res.ok && res.message).toBe(
      'vmcore.elf-d31.zst is a zstd-compressed file, not a dump; decompress it first: zstd -d --long=31 vmcore.elf-d31.zst',
    );
  });

  it('refuses an ELF executable (a real one: this node binary) as not a core file', async () => {
    const res = await checkDumpFile(process.execPath);
    expect(res.ok).toBe(false);
    expect(!res.ok && res.message).toMatch(
      /^node is not a crash dump: it is (an executable|a shared object), not an ELF core file/,
    );
  });

  it('refuses System.map, an empty file, a folder and a missing file', async () => {
    const map = join(VMCORES, 'kernel/System.map-6.1.0-56-amd64');
    expect(await checkDumpFile(map)).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^System.map-6.1.0-56-amd64 is not a crash dump/),
    });
    const empty = join(scratch, 'empty');
    writeFileSync(empty, '');
    expect(await checkDumpFile(empty)).toEqual({ ok: false, message: 'empty is empty' });
    expect(await checkDumpFile(scratch)).toMatchObject({
      ok: false,
      message: expect.stringContaining('is a directory'),
    });
    expect(await checkDumpFile(join(scratch, 'nope'))).toMatchObject({
      ok: false,
      message: expect.stringContaining('ENOENT'),
    });
  });
});
