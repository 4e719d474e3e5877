import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { digestBytes } from "../src/digest.js";
import { DpkgError, isDpkgError } from "../src/errors.js";
import { encodeManifest, parseManifest, readManifest, summarizeManifest } from "../src/manifest/manifest-stream.js";
import type { ManifestEntry } from "../src/manifest/manifest-line.js";
import valid from "./vectors/manifests.json" with { type: "json" };
import invalid from "./vectors/manifests-invalid.json" with { type: "json" };

const text = async (chunks: AsyncIterable<Uint8Array>): Promise<string> => {
  let s = "";
  const dec = new TextDecoder();
  for await (const c of chunks) s += dec.decode(c, { stream: true });
  return s;
};

async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size);
}

const HEADER = '{"format":"dpkg.manifest/1","meta":{}}';
const D = digestBytes("x");

describe("manifest vectors", () => {
  for (const v of valid) {
    it(`encodes ${v.name} to its canonical bytes and top hash`, async () => {
      const entries = v.entries as ManifestEntry[];
      expect(await text(encodeManifest({ meta: v.meta as never }, entries))).toBe(v.canonical);
      const summary = await summarizeManifest({ meta: v.meta as never }, entries);
      expect(summary).toEqual({
        digest: v.digest,
        entryCount: v.entryCount,
        totalSize: v.totalSize,
        byteLength: new TextEncoder().encode(v.canonical).length,
      });
      // The top hash is the plain BLAKE3 digest of the canonical bytes.
      expect(digestBytes(v.canonical)).toBe(v.digest);
    });

    it(`decodes ${v.name} back, whatever the chunking`, async () => {
      const bytes = new TextEncoder().encode(v.canonical);
      for (const size of [1, 7, 64, 1 << 20]) {
        const reader = await readManifest(chunked(bytes, size));
        const entries: ManifestEntry[] = [];
        for await (const e of reader.entries) entries.push(e);
        expect(reader.header.meta).toEqual(v.meta);
        expect(entries).toEqual(v.entries);
        expect(reader.summary().digest).toBe(v.digest);
      }
    });
  }

  it("gives different top hashes for different metadata", async () => {
    const e = [{ path: "a", size: 1, digest: D }];
    const a = await summarizeManifest({ meta: {} }, e);
    const b = await summarizeManifest({ meta: {} }, [{ ...e[0]!, meta: { k: 1 } }]);
    expect(a.digest).not.toBe(b.digest);
  });

  it("treats an empty entry meta as no meta", async () => {
    const a = await summarizeManifest({}, [{ path: "a", size: 1, digest: D }]);
    const b = await summarizeManifest({}, [{ path: "a", size: 1, digest: D, meta: {} }]);
    expect(a.digest).toBe(b.digest);
  });
});

describe("manifest rejection", () => {
  for (const c of invalid.cases) {
    it(`rejects ${c.name} with ${c.code} at line ${c.line}`, async () => {
      const raw = "text" in c && c.text !== undefined ? c.text : (c.lines).map((l) => l + "\n").join("");
      const body = raw
        .replace(/^H$/m, HEADER)
        .replace(/^H\n/, HEADER + "\n")
        .replaceAll('"D"', JSON.stringify(D));
      const error = await parseManifest(body).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(DpkgError);
      const err = error as DpkgError;
      expect(err.code).toBe(c.code);
      expect(err.message).toContain(`line ${c.line}`);
    });
  }

  it("rejects lines longer than the limit without buffering them whole", async () => {
    const long = `{"digest":${JSON.stringify(D)},"meta":{"x":"${"a".repeat(5000)}"},"path":"a","size":1}\n`;
    const reader = await readManifest(chunked(new TextEncoder().encode(HEADER + "\n" + long), 100), {
      maxLineBytes: 1000,
    });
    await expect(async () => {
      for await (const _ of reader.entries) {
        // drain
      }
    }).rejects.toThrow(/line 2: longer than 1000 bytes/);
  });

  it("rejects invalid UTF-8", async () => {
    const bytes = new Uint8Array([...new TextEncoder().encode(HEADER + "\n"), 0xff, 0x0a]);
    await expect(parseManifest(bytes)).rejects.toThrow(/line 2: not valid UTF-8/);
  });

  it("refuses to encode unsorted or invalid entries", async () => {
    const unsorted = [
      { path: "b", size: 1, digest: D },
      { path: "a", size: 1, digest: D },
    ];
    await expect(text(encodeManifest({}, unsorted))).rejects.toThrow(/entry 2: path "a" is out of order/);
    await expect(text(encodeManifest({}, [{ path: "../x", size: 1, digest: D }]))).rejects.toMatchObject({
      code: "E_BAD_PATH",
    });
    await expect(text(encodeManifest({}, [{ path: "a", size: -1, digest: D }]))).rejects.toMatchObject({
      code: "E_BAD_MANIFEST",
    });
    await expect(
      text(encodeManifest({}, [{ path: "a", size: 1, digest: "blake3:00" }])),
    ).rejects.toMatchObject({ code: "E_BAD_MANIFEST" });
  });
});

describe("manifest streaming", () => {
  it("encodes, decodes and hashes 200,000 entries as a stream", async () => {
    const n = 200_000;
    function* entries(): Generator<ManifestEntry> {
      for (let i = 0; i < n; i++) {
        yield {
          path: `d${String(Math.floor(i / 1000)).padStart(4, "0")}/f${String(i).padStart(7, "0")}`,
          size: i,
          digest: D,
        };
      }
    }
    const reader = await readManifest(encodeManifest({ meta: { title: "big" } }, entries()));
    let count = 0;
    let last = "";
    for await (const e of reader.entries) {
      count += 1;
      last = e.path;
    }
    expect(count).toBe(n);
    expect(last).toBe("d0199/f0199999");
    expect(reader.summary().entryCount).toBe(n);
    expect(reader.summary().digest).toBe((await summarizeManifest({ meta: { title: "big" } }, entries())).digest);
  });

  it("throws on summary() before the entries were read", async () => {
    const reader = await readManifest(chunked(new TextEncoder().encode(HEADER + "\n"), 10));
    expect(() => reader.summary()).toThrow();
  });
});

describe("manifest decoder fuzzing", () => {
  it("answers random bytes only with DpkgErrors", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        try {
          await parseManifest(new Uint8Array([...new TextEncoder().encode(HEADER + "\n"), ...bytes]));
        } catch (e) {
          expect(isDpkgError(e)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("answers random line soups only with DpkgErrors, and accepts only what re-encodes identically", async () => {
    const line = fc.oneof(
      fc.constant(HEADER),
      fc
        .record({
          digest: fc.oneof(fc.constant(D as string), fc.string()),
          path: fc.oneof(fc.constantFrom("a", "b", "a/b", "../x", "é", "e\u0301"), fc.string({ maxLength: 8 })),
          size: fc.oneof(fc.nat(), fc.integer(), fc.double()),
          meta: fc.option(fc.dictionary(fc.string({ maxLength: 3 }), fc.jsonValue({ maxDepth: 2 })), {
            nil: undefined,
          }),
        })
        .map((o) => JSON.stringify(o)),
      fc.string(),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 6 }), async (lines) => {
        const body = [HEADER, ...lines].map((l) => l + "\n").join("");
        try {
          const parsed = await parseManifest(body);
          const again = await text(encodeManifest({ meta: parsed.header.meta }, parsed.entries));
          expect(again).toBe(body);
        } catch (e) {
          expect(isDpkgError(e)).toBe(true);
        }
      }),
      { numRuns: 400 },
    );
  });
});
