/**
 * Decoding of tar header blocks and pax records, as tar-stream reads them (the reader tar-reader.ts
 * replaced on the upload path): ustar and GNU magic, octal or base-256 numbers, ustar name prefixes.
 */
export const BLOCK = 512;

export interface TarHeader {
  name: string;
  size: number;
  /** tar-stream's names: "file", "directory", "symlink", … */
  type: string;
}

const USTAR = [0x75, 0x73, 0x74, 0x61, 0x72];

const TYPES: Record<number, string> = {
  0: "file",
  1: "link",
  2: "symlink",
  3: "character-device",
  4: "block-device",
  5: "directory",
  6: "fifo",
  7: "contiguous-file",
  27: "gnu-long-link-path",
  28: "gnu-long-path",
  30: "gnu-long-path",
  55: "pax-global-header",
  72: "pax-header",
};

/** The header in `block`, or what is wrong with it. */
export function decodeHeader(block: Uint8Array): TarHeader | string {
  // The checksum counts its own 8 bytes as spaces. Thousands of headers per upload: no branch per byte.
  let sum = 8 * 0x20;
  for (let i = 0; i < 148; i++) sum += block[i]!;
  for (let i = 156; i < BLOCK; i++) sum += block[i]!;
  if (sum !== decodeNumber(block, 148, 8)) return "a header's checksum does not match (is this a tar archive?)";
  // "ustar\0" (POSIX) or "ustar  \0" (GNU), compared as bytes rather than decoded.
  let magic = true;
  for (let i = 0; i < USTAR.length; i++) if (block[257 + i] !== USTAR[i]) magic = false;
  const ustar = magic && block[262] === 0;
  if (!ustar && !(magic && block[262] === 0x20 && block[263] === 0x20 && block[264] === 0)) return "a header is in no tar format this registry reads";
  let name = decodeString(block, 0, 100);
  if (ustar && block[345] !== 0) name = `${decodeString(block, 345, 155)}/${name}`;
  const flag = block[156] === 0 ? 0 : block[156]! - 0x30;
  let type = TYPES[flag] ?? `type ${JSON.stringify(String.fromCharCode(block[156]!))}`;
  if (flag === 0 && name.endsWith("/")) type = "directory"; // old tars mark folders so
  return { name, size: decodeNumber(block, 124, 12), type };
}

/** Octal digits (space or NUL ended, maybe space led), or base-256 when the first byte's high bit is set. */
function decodeNumber(block: Uint8Array, offset: number, length: number): number {
  if ((block[offset]! & 0x80) !== 0) {
    if (block[offset] !== 0x80) return -1; // negative
    let value = 0;
    for (let i = offset + 1; i < offset + length; i++) value = value * 256 + block[i]!;
    return value;
  }
  let i = offset;
  const end = offset + length;
  while (i < end && block[i] === 0x20) i++;
  let value = 0;
  let digits = 0;
  for (; i < end && block[i] !== 0x20 && block[i] !== 0; i++) {
    const d = block[i]! - 0x30;
    if (d < 0 || d > 7) return Number.NaN;
    value = value * 8 + d;
    digits += 1;
  }
  return digits === 0 ? 0 : value;
}

export function decodeString(bytes: Uint8Array, offset: number, length: number, stopAtNul = true): string {
  let end = offset + length;
  if (stopAtNul) for (let i = offset; i < end; i++) if (bytes[i] === 0) end = i;
  // Header blocks are usually views of a request's Buffer: decoded in place, without a view per string.
  const buffer = bytes instanceof Buffer ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return buffer.toString(stopAtNul ? "utf8" : "latin1", offset, end);
}

/** Pax records: `<length> <key>=<value>\n`, the length in bytes and counting the whole record. */
export function decodePax(bytes: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  while (at < bytes.byteLength) {
    let space = at;
    while (space < bytes.byteLength && bytes[space] !== 0x20) space++;
    const length = parseInt(decodeString(bytes, at, space - at, false), 10);
    if (!(length > space - at + 1) || at + length > bytes.byteLength) break;
    const record = decodeString(bytes, space + 1, at + length - 1 - (space + 1));
    const eq = record.indexOf("=");
    if (eq !== -1) out[record.slice(0, eq)] = record.slice(eq + 1);
    at += length;
  }
  return out;
}

