import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseCanonicalJson } from "../src/canonical-json.js";
import { digestBytes } from "../src/digest.js";
import { isDpkgError } from "../src/errors.js";
import { encodeManifest, parseManifest, readManifest } from "../src/manifest/manifest-stream.js";
import { pathProblem, validatePath } from "../src/paths.js";
import { MAX_QUERY_DEPTH, MAX_QUERY_LENGTH } from "../src/query/ast.js";
import { evaluateQueryTruth } from "../src/query/evaluate.js";
import { parseQuery } from "../src/query/parser.js";
import { entryArb, queryArb } from "./query-helpers.js";

/**
 * The decoders that read what users and registries send, fed hostile input: inputs at and past
 * every size limit, bit flips in valid data, random chunking. They must answer with a DpkgError of
 * the documented code, never another exception; "no hang" is the test timeout, with every input
 * bounded in size so that each property finishes in well under a second of work.
 */

/** Runs `f`; returns the DpkgError code it threw, or null when it returned. Anything else fails the test. */
function codeOf(f: () => unknown): string | null {
  try {
    f();
    return null;
  } catch (e) {
    if (!isDpkgError(e)) throw e;
    return e.code;
  }
}

async function asyncCodeOf(f: () => Promise<unknown>): Promise<string | null> {
  try {
    await f();
    return null;
  } catch (e) {
    if (!isDpkgError(e)) throw e;
    return e.code;
  }
}

async function* chunks(bytes: Uint8Array, cuts: number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (const c of [...cuts.map((n) => n % (bytes.length + 1))].sort((a, b) => a - b)) {
    yield bytes.slice(at, Math.max(at, c));
    at = Math.max(at, c);
  }
  yield bytes.slice(at);
}

const D = digestBytes("x");
const VALID = new TextEncoder().encode(
  '{"format":"dpkg.manifest/1","meta":{"title":"t"}}\n' +
    `{"digest":"${D}","meta":{"a":[1,"x",null]},"path":"a/b.txt","size":3}\n` +
    `{"digest":"${D}","path":"c","size":0}\n`,
);

describe("paths", () => {
  it("validatePath throws only E_BAD_PATH, exactly when pathProblem names a problem", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary", maxLength: 64 }), fc.string({ unit: "grapheme", maxLength: 64 })), (s) => {
        const code = codeOf(() => validatePath(s));
        expect(code).toBe(pathProblem(s) === null ? null : "E_BAD_PATH");
      }),
      { numRuns: 2000 },
    );
  });

  it("answers paths at and past the 4096-byte limit, and megabyte ones, without trouble", () => {
    expect(codeOf(() => validatePath("x".repeat(4096)))).toBeNull();
    expect(codeOf(() => validatePath("é".repeat(2048)))).toBeNull(); // 4096 bytes of UTF-8
    expect(codeOf(() => validatePath("é".repeat(2048) + "x"))).toBe("E_BAD_PATH");
    expect(codeOf(() => validatePath("x".repeat(1 << 20)))).toBe("E_BAD_PATH");
    expect(codeOf(() => validatePath("a/".repeat(1 << 19) + "b"))).toBe("E_BAD_PATH");
  });
});

describe("queries", () => {
  it("parses or refuses (E_QUERY_SYNTAX) inputs at the length and depth limits", () => {
    const nested = (depth: number): string => `${"(".repeat(depth)}size = 1${")".repeat(depth)}`;
    expect(codeOf(() => parseQuery(nested(MAX_QUERY_DEPTH - 1)))).toBeNull();
    for (const text of [
      nested(MAX_QUERY_DEPTH + 1),
      nested(100_000),
      "NOT ".repeat(100_000) + "size = 1",
      `path = '${"x".repeat(MAX_QUERY_LENGTH)}'`,
      "(".repeat(MAX_QUERY_LENGTH * 4),
      `'${"x".repeat(1 << 20)}`,
    ]) {
      expect(codeOf(() => parseQuery(text))).toBe("E_QUERY_SYNTAX");
    }
    // Long but legal: wide, not deep.
    expect(codeOf(() => parseQuery(Array.from({ length: 2000 }, (_, i) => `size = ${i}`).join(" OR ")))).toBeNull();
  });

  it("evaluates random queries over random entries without throwing", () => {
    fc.assert(
      fc.property(queryArb, entryArb, (node, entry) => {
        expect(["boolean", "object"]).toContain(typeof evaluateQueryTruth(node, entry));
      }),
      { numRuns: 2000 },
    );
  });
});

describe("manifests", () => {
  it("decodes a valid manifest whatever the chunking", async () => {
    const expected = await parseManifest(VALID);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 20 }), async (cuts) => {
        const reader = await readManifest(chunks(VALID, cuts));
        const entries = [];
        for await (const e of reader.entries) entries.push(e);
        expect(entries).toEqual(expected.entries);
        expect(reader.summary()).toEqual(expected.summary);
      }),
      { numRuns: 300 },
    );
  });

  it("answers a valid manifest with flipped bits only with DpkgErrors, or with one that re-encodes to those very bytes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(VALID.length - 1), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 4 }), async (flips) => {
        const bytes = VALID.slice();
        for (const [at, bit] of flips) bytes[at] = bytes[at]! ^ (1 << bit);
        let accepted: Awaited<ReturnType<typeof parseManifest>> | undefined;
        const code = await asyncCodeOf(async () => (accepted = await parseManifest(bytes)));
        if (code !== null) {
          expect(["E_BAD_MANIFEST", "E_BAD_PATH", "E_BAD_JSON"]).toContain(code);
          return;
        }
        // A flip that still yields a canonical manifest is a different, equally valid manifest.
        const again: Uint8Array[] = [];
        for await (const c of encodeManifest({ meta: accepted!.header.meta }, accepted!.entries)) again.push(c);
        expect(Buffer.concat(again).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it("refuses a line over the line limit after reading at most that much of it", async () => {
    let pulled = 0;
    async function* endless(): AsyncGenerator<Uint8Array> {
      yield VALID.slice(0, VALID.indexOf(0x0a) + 1);
      // A line that never ends: the decoder must stop, not buffer it all.
      for (let i = 0; i < 10_000; i++) {
        pulled += 1024;
        yield new Uint8Array(1024).fill(0x61);
      }
    }
    const code = await asyncCodeOf(async () => {
      const reader = await readManifest(endless(), { maxLineBytes: 64 * 1024 });
      for await (const _ of reader.entries) {
        // drain
      }
    });
    expect(code).toBe("E_BAD_MANIFEST");
    expect(pulled).toBeLessThanOrEqual(64 * 1024 + 1024);
  });
});

describe("canonical JSON", () => {
  it("parseCanonicalJson answers random text only with its own error code", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary", maxLength: 60 }), fc.json({ maxDepth: 3 })), (text) => {
        const code = codeOf(() => parseCanonicalJson(text, "fuzz"));
        expect(code === null || code === "E_BAD_JSON" || code === "E_BAD_MANIFEST").toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
