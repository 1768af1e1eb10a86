import type { Disassembler, Instruction } from './types';

/** The slice of capstone.js this file uses (the package ships no type declarations). */
interface CapstoneInstruction {
  address: bigint | number;
  size: number;
  mnemonic: string;
  op_str: string;
}
interface CapstoneHandle {
  disasm(code: Uint8Array | number[], address: bigint, max?: number): CapstoneInstruction[];
  close(): void;
}
interface CapstoneModule {
  Capstone: new (arch: number, mode: number) => CapstoneHandle;
  ARCH_ARM64: number;
  MODE_ARM: number;
  MODE_BIG_ENDIAN: number;
}

let loading: Promise<CapstoneModule> | undefined;

/**
 * Capstone (WebAssembly) is instantiated on first use only, and only asynchronously (its Emscripten
 * factory returns a promise). A plain require() so esbuild bundles the JS; the module then reads
 * capstone.wasm beside the bundle, where the build copies it.
 */
function loadCapstone(): Promise<CapstoneModule> {
  loading ??= (require('@alexaltea/capstone-js') as () => Promise<CapstoneModule>)();
  return loading;
}

/** Mnemonics whose last `#imm` operand is an absolute, PC-relative-resolved target address. */
const TARGET_MNEMONICS = /^(b|bl|b\.\w+|bc\.\w+|cbz|cbnz|tbz|tbnz|adr|adrp)$/;
/** Literal loads (`ldr x0, #0x…`, no brackets) also name an address. */
const LITERAL_LOADS = /^(ldr|ldrsw|prfm)$/;

/**
 * AArch64 disassembly with Capstone (the LLVM-derived tables, so aliases such as `mov`, `cmp`, `ret`
 * print as objdump and gdb print them). Branch and adr/adrp targets become `reference`s and are printed
 * as plain `0x…` addresses, as objdump and crash's `dis` print them.
 */
export class Aarch64Disassembler implements Disassembler {
  readonly arch = 'aarch64';
  readonly maxLength = 4;
  readonly fixedLength = 4;

  private constructor(private readonly handle: CapstoneHandle) {}

  static async create(bigEndian = false): Promise<Aarch64Disassembler> {
    const cs = await loadCapstone();
    const mode = cs.MODE_ARM | (bigEndian ? cs.MODE_BIG_ENDIAN : 0);
    return new Aarch64Disassembler(new cs.Capstone(cs.ARCH_ARM64, mode));
  }

  decode(code: Uint8Array, address: bigint, max: number): Instruction[] {
    const out: Instruction[] = [];
    let pos = 0;
    while (out.length < max && pos + 4 <= code.length) {
      const want = Math.min(max - out.length, (code.length - pos) >> 2);
      const at = BigInt.asUintN(64, address + BigInt(pos));
      let decoded: CapstoneInstruction[] = [];
      try {
        decoded = this.handle.disasm(code.subarray(pos, pos + want * 4), at, want);
      } catch {
        // capstone throws when the very first word does not decode; handled as an invalid word below.
      }
      for (const insn of decoded) {
        out.push(toInstruction(insn, code.subarray(pos, pos + insn.size)));
        pos += insn.size;
      }
      // capstone stops at the first word it cannot decode: mark it and go on after it.
      if (out.length < max && pos + 4 <= code.length && decoded.length < want) {
        const bytes = code.slice(pos, pos + 4);
        out.push({ address: BigInt.asUintN(64, address + BigInt(pos)), bytes, text: '(bad)', invalid: true });
        pos += 4;
      }
    }
    return out;
  }
}

function toInstruction(insn: CapstoneInstruction, bytes: Uint8Array): Instruction {
  // capstone.js hands 64-bit addresses back as signed values.
  const address = BigInt.asUintN(64, BigInt(insn.address));
  let operands = insn.op_str.trim();
  let reference: bigint | undefined;
  const mnemonic = insn.mnemonic.trim();
  if (TARGET_MNEMONICS.test(mnemonic) || (LITERAL_LOADS.test(mnemonic) && !operands.includes('['))) {
    const m = /#(0x[0-9a-f]+)$/i.exec(operands);
    if (m) {
      reference = BigInt.asUintN(64, BigInt(m[1]!));
      operands = `${operands.slice(0, m.index)}0x${reference.toString(16)}`;
    }
  }
  const item: Instruction = {
    address,
    bytes: bytes.slice(),
    text: operands ? `${mnemonic} ${operands}` : mnemonic,
  };
  if (reference !== undefined) item.reference = reference;
  return item;
}
