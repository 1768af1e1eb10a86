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
 * all-zero header (the kernel's terminator); never trusts a size field beyond the area.
 */
export function parseNotes(
  bytes: Uint8Array,
  littleEndian: boolean,
  fileOffset: number,
  align: 4 | 8 = 4,
): NoteParseResult {
  const v = new ByteView(bytes, littleEndian);
  const notes: Note[] = [];
  const pad = (n: number) => (n + align - 1) & ~(align - 1);
  let off = 0;
  while (off + 12 <= bytes.length) {
    const namesz = v.u32(off);
    const descsz = v.u32(off + 4);
    const type = v.u32(off + 8);
    if (namesz === 0 && descsz === 0 && type === 0) break;
    if (namesz === 0) break; // the kernel's final_note() terminator
    const nameStart = off + 12;
    const descStart = nameStart + pad(namesz);
    const descEnd = descStart + descsz;
    if (namesz > bytes.length || descsz > bytes.length || descEnd > bytes.length) {
      return {
        notes,
        error: `note at file offset 0x${(fileOffset + off).toString(16)} claims ${namesz}+${descsz} bytes beyond the end of its note area`,
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
