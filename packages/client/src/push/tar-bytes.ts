/**
 * Tar framing for packs built in memory: members named by their digests, as the registry's pack upload
 * takes them, in plain ustar headers laid out as tar-stream writes them (the registry reads them with
 * tar-stream). Every byte of the archive is written here or by the caller, so an archive built in a
 * reused buffer carries nothing of what the buffer held before.
 */
export const BLOCK = 512;
/** Two zero blocks end an archive. */
export const END_BYTES = 2 * BLOCK;
// Members carry no meaning beyond name and bytes; a fixed time and mode keep packs of equal blobs identical.
const MODE = 0o644;
const MTIME = 0;

/** A member's data padded to whole blocks. */
export function padded(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

/** The bytes a member of this size takes in an archive: its header and padded data. */
export function memberBytes(size: number): number {
  return BLOCK + padded(size);
}

/** Every field but name, size and checksum is the same in every header: written once, copied. */
const TEMPLATE = Buffer.alloc(BLOCK);
TEMPLATE.write(octal(MODE, 6), 100, "latin1");
TEMPLATE.write(octal(0, 6), 108, "latin1"); // uid
TEMPLATE.write(octal(0, 6), 116, "latin1"); // gid
TEMPLATE.write(octal(MTIME, 11), 136, "latin1");
TEMPLATE[156] = 0x30; // "0": a regular file
TEMPLATE.write("ustar\u000000", 257, "latin1");
TEMPLATE.write(octal(0, 6), 329, "latin1"); // device major
TEMPLATE.write(octal(0, 6), 337, "latin1"); // device minor
// The checksum counts its own field as eight spaces.
const TEMPLATE_SUM = TEMPLATE.reduce((n, b) => n + b, 8 * 0x20);

/** Writes the header block of a regular file at `at`, and zeros the padding after its `size` bytes of data. */
export function writeMember(out: Buffer, at: number, name: string, size: number): void {
  TEMPLATE.copy(out, at);
  out.write(name, at, 100, "latin1"); // a digest is 71 ASCII characters
  out.write(octal(size, 11), at + 124, "latin1");
  let sum = TEMPLATE_SUM;
  for (let i = 0; i < 100; i++) sum += out[at + i]!;
  for (let i = 124; i < 136; i++) sum += out[at + i]!;
  out.write(octal(sum, 6), at + 148, "latin1");
  const data = at + BLOCK;
  out.fill(0, data + size, data + padded(size));
}

/** Writes the end-of-archive blocks at `at`; returns the archive's length. */
export function writeEnd(out: Buffer, at: number): number {
  out.fill(0, at, at + END_BYTES);
  return at + END_BYTES;
}

/** `digits` octal digits and a space, as tar-stream writes numeric fields. */
function octal(value: number, digits: number): string {
  const text = value.toString(8);
  if (text.length > digits) throw new RangeError(`${value} does not fit a tar header field of ${digits} octal digits`);
  return text.padStart(digits, "0") + " ";
}
