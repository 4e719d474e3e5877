import { describe, expect, it } from "vitest";
import { canonicalJson, digestBytes } from "@dpkg/core";
import { decodePackIndex, encodePackIndex, type PackIndexEntry } from "../../src/push/pack-index.js";

const a = digestBytes("a");
const b = digestBytes("b");
const entries: PackIndexEntry[] = [
  { digest: a, offset: 0, size: 10 },
  { digest: b, offset: 10, size: 0 },
  { digest: b, offset: 10, size: 5 },
];

describe("pack index", () => {
  it("encodes one canonical JSON line per blob and decodes it back", () => {
    const bytes = encodePackIndex(entries);
    expect(new TextDecoder().decode(bytes)).toBe(
      `{"digest":"${a}","offset":0,"size":10}\n{"digest":"${b}","offset":10,"size":0}\n{"digest":"${b}","offset":10,"size":5}\n`,
    );
    expect(decodePackIndex(bytes, "x.idx", 15)).toEqual(entries);
  });

  it("writes exactly what canonicalJson writes, for large offsets too", () => {
    const big = [{ digest: a, offset: 0, size: 2 ** 40 }, { digest: b, offset: 2 ** 40, size: Number.MAX_SAFE_INTEGER - 2 ** 40 }];
    const expected = big.map((e) => canonicalJson({ digest: e.digest, offset: e.offset, size: e.size }) + "\n").join("");
    expect(new TextDecoder().decode(encodePackIndex(big))).toBe(expected);
  });

  const line = (o: object): string => JSON.stringify(o) + "\n";
  it.each([
    ["empty", ""],
    ["no final newline", line({ digest: a, offset: 0, size: 1 }).trimEnd()],
    ["keys out of order", `{"offset":0,"digest":"${a}","size":1}\n`],
    ["whitespace", `{"digest": "${a}","offset":0,"size":1}\n`],
    ["an extra field", line({ digest: a, extra: 1, offset: 0, size: 1 })],
    ["a missing field", line({ digest: a, offset: 0 })],
    ["a bad digest", line({ digest: "blake3:00", offset: 0, size: 1 })],
    ["a negative size", line({ digest: a, offset: 0, size: -1 })],
    ["a fractional offset", line({ digest: a, offset: 0.5, size: 1 })],
    ["a gap", line({ digest: a, offset: 0, size: 1 }) + line({ digest: b, offset: 2, size: 1 })],
    ["an overlap", line({ digest: a, offset: 0, size: 2 }) + line({ digest: b, offset: 1, size: 1 })],
    ["not starting at 0", line({ digest: a, offset: 1, size: 1 })],
    ["an array", "[]\n"],
    ["a blank line", line({ digest: a, offset: 0, size: 1 }) + "\n"],
  ])("refuses %s", (_, text) => {
    expect(() => decodePackIndex(text, "x.idx")).toThrow(expect.objectContaining({ code: "E_BAD_REQUEST" }));
  });

  it("refuses an index whose blobs do not end where the pack does, naming it", () => {
    const text = encodePackIndex(entries);
    expect(() => decodePackIndex(text, "packs/ab/x.idx", 16)).toThrow(/packs\/ab\/x\.idx: .* 15 .* 16 bytes/);
  });

  it("refuses bytes that are not UTF-8", () => {
    expect(() => decodePackIndex(new Uint8Array([0xff, 0x0a]), "x.idx")).toThrow(/UTF-8/);
  });
});
