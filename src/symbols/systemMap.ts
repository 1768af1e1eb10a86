/**
 * System.map: `<hex address> <nm type letter> <name>` per line, link-time addresses. Loaded with the
 * dump's KASLR slide applied to kernel-image addresses only and checked against the dump (see
 * relocate.ts): a System.map of another kernel build is refused with a message that says so.
 */
import { readFile, stat } from 'node:fs/promises';
import { type DumpSymbolContext, runtimeTable } from './relocate';
import type { KernelSymbol, SymbolTable } from './symbolTable';

/** Bigger than any real System.map (~10 MB for a distro kernel). */
const MAX_SYSTEM_MAP_BYTES = 512 * 1024 * 1024;
const LINE = /^([0-9a-fA-F]{1,16})\s+([A-Za-z?])\s+(\S+)\s*$/;

export class SystemMapError extends Error {
  override readonly name = 'SystemMapError';
}

export interface ParsedSystemMap {
  symbols: KernelSymbol[];
  /** Lines that are not `address type name`. */
  badLines: number;
}

/** Parse System.map text into link-time symbols. */
export function parseSystemMap(text: string): ParsedSystemMap {
  const symbols: KernelSymbol[] = [];
  let badLines = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end).replace(/\r$/, '');
    start = end + 1;
    if (line.trim() === '') continue;
    const m = LINE.exec(line);
    if (!m) {
      badLines++;
      continue;
    }
    symbols.push({ name: m[3]!, address: BigInt(`0x${m[1]}`), type: m[2]! });
  }
  return { symbols, badLines };
}

/** System.map text → runtime symbol table for the dump (refused if it does not match the dump). */
export async function systemMapFromText(
  text: string,
  ctx: DumpSymbolContext,
  name = 'System.map',
): Promise<SymbolTable> {
  const { symbols, badLines } = parseSystemMap(text);
  if (symbols.length === 0 || badLines > symbols.length) {
    throw new SystemMapError(
      `${name} is not a System.map: ${symbols.length} of ${symbols.length + badLines} lines have the form "<address> <type> <name>"${
        text.length < 200 ? ` (it reads ${JSON.stringify(text.trim().slice(0, 120))})` : ''
      }`,
    );
  }
  const hasAnchor = symbols.some((s) => s.name === '_stext' || s.name === '_text');
  if (!hasAnchor)
    throw new SystemMapError(`${name} has no _stext or _text symbol: it is not a kernel's System.map`);
  return runtimeTable(
    symbols,
    'System.map',
    ctx,
    name,
    badLines > 0 ? [`${badLines} unparsable lines skipped`] : [],
  );
}

/** Load a System.map file for a dump. */
export async function loadSystemMap(path: string, ctx: DumpSymbolContext): Promise<SymbolTable> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (err) {
    throw new SystemMapError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (size > MAX_SYSTEM_MAP_BYTES)
    throw new SystemMapError(`${path} is ${size} bytes: too big to be a System.map`);
  const head = await readFile(path);
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) {
    throw new SystemMapError(`${path} is zstd-compressed; decompress it first: zstd -d ${path}`);
  }
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    throw new SystemMapError(`${path} is gzip-compressed; decompress it first: gzip -dk ${path}`);
  }
  if (head.length >= 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46) {
    throw new SystemMapError(`${path} is an ELF file, not a System.map: give it as vmlinux instead`);
  }
  return systemMapFromText(head.toString('latin1'), ctx, path);
}
