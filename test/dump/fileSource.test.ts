/**
 * FileSource in its three read modes (block cache with thread-pool reads, block cache with blocking
 * reads, exact reads) returns the same bytes as a plain read of the file, at block boundaries and at
 * the end of the file.
 */
import { closeSync, copyFileSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileSource } from '../../src/dump/source';
import { corpus } from '../support/corpus';
import { cleanTmp, tmp } from '../support/tmp';

const dump = corpus().find((d) => d.name === 'kdump-sysrq/vmcore.kdump-zlib')!;

function plainRead(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(length);
  const n = readSync(fd, buf, 0, length, offset);
  closeSync(fd);
  return buf.subarray(0, n);
}

describe('FileSource read modes', () => {
  const size = statSync(dump.path).size;
  const ranges: [number, number][] = [
    [0, 16],
    [65536 - 8, 16], // across a block boundary
    [3 * 65536 + 100, 200_000], // larger than a block
    [size - 10, 100], // past the end: short
    [size, 8], // at the end: empty
    [1234567, 4096],
  ];
  for (const options of [
    {},
    { blocking: true },
    { blockCache: false },
    { blocking: true, blockCache: false },
  ]) {
    it(`reads what the file holds with ${JSON.stringify(options)}`, async () => {
      const src = await FileSource.open(dump.path, options);
      try {
        expect(src.size).toBe(size);
        for (const [offset, length] of ranges) {
          const got = Buffer.from(await src.read(offset, length));
          expect(got.equals(plainRead(dump.path, offset, length)), `${offset}+${length}`).toBe(true);
        }
      } finally {
        await src.close();
      }
    });
  }
});

describe('FileSource uncached reads', () => {
  it('read the file itself, not a cached block (compressed page data is cached as pages above)', async () => {
    const file = join(tmp('filesource-'), 'copy');
    copyFileSync(dump.path, file);
    for (const blocking of [false, true]) {
      const src = await FileSource.open(file, { blocking });
      try {
        const before = Buffer.from(await src.read(70_000, 8)); // caches the block
        const fd = openSync(file, 'r+');
        writeSync(fd, Buffer.from('ABCDEFGH'), 0, 8, 70_000);
        closeSync(fd);
        expect(Buffer.from(await src.read(70_000, 8)).equals(before)).toBe(true);
        expect(Buffer.from(await src.read(70_000, 8, { uncached: true })).toString('latin1')).toBe(
          'ABCDEFGH',
        );
        // A read cut short by the end of the file returns only what was read.
        expect(await src.read(src.size - 3, 10, { uncached: true })).toHaveLength(3);
      } finally {
        await src.close();
      }
      copyFileSync(dump.path, file);
    }
    cleanTmp();
  });
});
