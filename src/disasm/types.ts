export interface Instruction {
  address: bigint;
  bytes: Uint8Array;
  /** Mnemonic and operands, e.g. `call 0xffffffff81000000`. */
  text: string;
  /** Address a branch goes to, or the address a RIP-relative operand refers to. */
  reference?: bigint;
  /** True for bytes that do not decode. */
  invalid?: boolean;
}

export interface Disassembler {
  readonly arch: string;
  /** Longest instruction in bytes (for choosing read windows). */
  readonly maxLength: number;
  /** Fixed instruction size, when the ISA has one. */
  readonly fixedLength?: number;
  /** Decode instructions from `code` starting at `address`, at most `max`. */
  decode(code: Uint8Array, address: bigint, max: number): Instruction[];
}
