import type { ArchInfo } from '../arch/types';
import { decodeFlags } from '../arch/types';
import type { SymbolLocation } from '../symbols/symbolTable';
import { formatLocation } from '../symbols/symbolTable';

/** Register names as users type them: `$rip`, `%rip`, `RIP`, `pc`, `rflags` all mean the same register. */
export function resolveRegisterName(
  arch: ArchInfo,
  expression: string,
  available: ReadonlyMap<string, bigint>,
): string | undefined {
  const name = expression.trim().replace(/^[$%]/, '').toLowerCase();
  if (available.has(name)) return name;
  const alias = arch.aliases[name];
  if (alias && available.has(alias)) return alias;
  return undefined;
}

export function hexWord(value: bigint, wordSize: number): string {
  return '0x' + value.toString(16).padStart(wordSize * 2, '0');
}

/** A register value as shown: hex, plus the symbol when it points into the kernel's symbols. */
export function formatRegisterValue(
  arch: ArchInfo,
  name: string,
  value: bigint,
  symbolize: (address: bigint) => SymbolLocation | undefined,
): string {
  const hex = hexWord(value, arch.wordSize);
  const flags = arch.flagRegisters?.[name];
  if (flags) {
    const set = decodeFlags(value, flags).map((f) =>
      (f.field.width ?? 1) > 1 ? `${f.field.name}=${f.value}` : f.field.name,
    );
    return `${hex} [ ${set.join(' ')} ]`;
  }
  if (!isPointerRegister(arch, name)) return hex;
  const loc = symbolize(value);
  return loc ? `${hex} <${formatLocation(loc, value)}>` : hex;
}

export function isPointerRegister(arch: ArchInfo, name: string): boolean {
  return !(arch.nonPointerRegisters ?? []).includes(name) && !arch.flagRegisters?.[name];
}
