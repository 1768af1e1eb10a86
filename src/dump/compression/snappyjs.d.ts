// snappyjs ships no type declarations; this is the part of its API the dump reader uses.
declare module 'snappyjs' {
  /** Decompress a raw Snappy block; throws when it is malformed or declares more than `maxLength` bytes. */
  export function uncompress(compressed: Uint8Array, maxLength?: number): Uint8Array;
  export function compress(uncompressed: Uint8Array): Uint8Array;
}
