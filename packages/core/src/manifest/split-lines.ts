import { DpkgError } from "../errors.js";

const NEWLINE = 0x0a;

export interface Line {
  /** 1-based line number. */
  number: number;
  /** The line's text without its `\n`. */
  text: string;
}

/**
 * Splits a byte stream into `\n`-terminated UTF-8 lines, holding at most one line in memory.
 * Strict, because manifests are canonical: bad UTF-8, a line longer than `maxLineBytes`, or a
 * final line without `\n` is an error naming the line.
 */
export async function* splitLines(
  source: AsyncIterable<Uint8Array>,
  maxLineBytes: number,
): AsyncGenerator<Line, void, undefined> {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  let parts: Uint8Array[] = [];
  let partBytes = 0;
  let number = 0;

  const decode = (bytes: Uint8Array): Line => {
    number += 1;
    try {
      return { number, text: decoder.decode(bytes) };
    } catch {
      throw new DpkgError("E_BAD_MANIFEST", `manifest line ${number}: not valid UTF-8`, {
        where: `manifest line ${number}`,
      });
    }
  };
  const tooLong = (): never => {
    throw new DpkgError("E_BAD_MANIFEST", `manifest line ${number + 1}: longer than ${maxLineBytes} bytes`, {
      where: `manifest line ${number + 1}`,
      maxLineBytes,
    });
  };

  for await (const chunk of source) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl === -1) break;
      const piece = chunk.subarray(start, nl);
      if (partBytes + piece.byteLength > maxLineBytes) tooLong();
      if (parts.length === 0) {
        yield decode(piece);
      } else {
        parts.push(piece);
        yield decode(concat(parts, partBytes + piece.byteLength));
        parts = [];
        partBytes = 0;
      }
      start = nl + 1;
    }
    if (start < chunk.byteLength) {
      const rest = chunk.subarray(start);
      partBytes += rest.byteLength;
      if (partBytes > maxLineBytes) tooLong();
      // Copy: the producer may reuse its buffer after we return control.
      parts.push(rest.slice());
    }
  }
  if (partBytes > 0) {
    throw new DpkgError("E_BAD_MANIFEST", `manifest line ${number + 1}: the last line does not end in a newline`, {
      where: `manifest line ${number + 1}`,
    });
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}
