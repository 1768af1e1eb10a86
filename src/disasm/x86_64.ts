import { createRequire } from 'node:module';
import type { Disassembler, Instruction } from './types';

type Iced = typeof import('iced-x86');
let iced: Iced | undefined;

/** iced-x86 is WebAssembly, instantiated on first use only (it is not needed to open a dump). */
function load(): Iced {
  if (!iced) {
    const req = createRequire(__filename);
    iced = req('iced-x86') as Iced;
  }
  return iced;
}

/** x86_64 disassembly with iced-x86, in AT&T syntax as the kernel and crash print it. */
export class X86_64Disassembler implements Disassembler {
  readonly arch = 'x86_64';
  readonly maxLength = 15;

  decode(code: Uint8Array, address: bigint, max: number): Instruction[] {
    const { Decoder, DecoderOptions, Formatter, FormatterSyntax, Instruction: IcedInstruction } = load();
    const decoder = new Decoder(64, code, DecoderOptions.None);
    const formatter = new Formatter(FormatterSyntax.Gas);
    formatter.hexPrefix = '0x';
    formatter.hexSuffix = '';
    formatter.uppercaseHex = false;
    decoder.ip = address;
    const instr = new IcedInstruction();
    const out: Instruction[] = [];
    try {
      let pos = 0;
      while (out.length < max && decoder.canDecode) {
        decoder.decodeOut(instr);
        const len = instr.length;
        const bytes = code.slice(pos, pos + len);
        pos += len;
        if (instr.isInvalid) {
          out.push({ address: instr.ip, bytes, text: '(bad)', invalid: true });
          continue;
        }
        const item: Instruction = { address: instr.ip, bytes, text: formatter.format(instr) };
        const target = instr.nearBranchTarget;
        if (target !== 0n) item.reference = target;
        else if (instr.isIpRelMemoryOperand) item.reference = instr.ipRelMemoryAddress;
        out.push(item);
      }
    } finally {
      instr.free();
      formatter.free();
      decoder.free();
    }
    return out;
  }
}
