import { ByteView, latin1 } from '../util/bytes';

export const NT_PRSTATUS = 1;
export const NT_PRFPREG = 2;
export const NT_VMCOREDD = 0x700;

export interface Note {
  /** Owner name without the trailing NUL (`CORE`, `VMCOREINFO`, `QEMU`, …). */
  name: string;
  type: number;
  desc: Uint8Array;
  /** File offset of the note header (for messages). */
  fileOffset: number;
}

export interface NoteParseResult {
  notes: Note[];
  /** Set when the area ended in the middle of a note or held an impossible size. */
  error?: string;
}

/**
 * Walk the notes of one PT_NOTE area (or a kdump note block). Stops at the end of the area or at an
 * all-zero header (the kernel's terminator); never trusts a size field beyond the area, and stops
 * after `maxNotes` notes (a hostile area of tiny notes must not turn into millions of objects).
 *
 * With `align` 8 (a PT_NOTE whose p_align is 8) the descriptor starts at the next 8-byte boundary
 * after the name and the next note at the next 8-byte boundary after the descriptor, counted from
 * the start of the area (gABI, elfutils `gelf_getnote` ELF_T_NHDR8); with 4 this is the usual
 * 4-byte padding of name and descriptor.
 */
export function parseNotes(
  bytes: Uint8Array,
  littleEndian: boolean,
  fileOffset: number,
  align: 4 | 8 = 4,
  maxNotes = Number.POSITIVE_INFINITY,
): NoteParseResult {
  const v = new ByteView(bytes, littleEndian);
  const notes: Note[] = [];
  const pad = (n: number) => Math.ceil(n / align) * align;
  let off = 0;
  while (off + 12 <= bytes.length) {
    const namesz = v.u32(off);
    const descsz = v.u32(off + 4);
    const type = v.u32(off + 8);
    if (namesz === 0 && descsz === 0 && type === 0) break;
    if (namesz === 0) break; // the kernel's final_note() terminator
    const nameStart = off + 12;
    const descStart = pad(nameStart + namesz);
    const descEnd = descStart + descsz;
    if (namesz > bytes.length || descsz > bytes.length || descEnd > bytes.length) {
      return {
        notes,
        error: `note at file offset 0x${(fileOffset + off).toString(16)} claims ${namesz}+${descsz} bytes beyond the end of its note area`,
      };
    }
    if (notes.length >= maxNotes) {
      return {
        notes,
        error: `the note area at file offset 0x${fileOffset.toString(16)} holds more notes than any kernel writes; the notes from file offset 0x${(fileOffset + off).toString(16)} on are ignored`,
      };
    }
    let nameEnd = nameStart + namesz;
    while (nameEnd > nameStart && bytes[nameEnd - 1] === 0) nameEnd--;
    notes.push({
      name: latin1(bytes.subarray(nameStart, nameEnd)),
      type,
      desc: bytes.subarray(descStart, descEnd),
      fileOffset: fileOffset + off,
    });
    off = pad(descEnd);
  }
  return { notes };
}
