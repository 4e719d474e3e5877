import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareUtf8 } from "../src/canonical-json.js";
import { digestBytes } from "../src/digest.js";
import { decodeEntryLine, encodeEntryLine, type ManifestEntry } from "../src/manifest/manifest-line.js";
import { createManifestEncoder, readManifest } from "../src/manifest/manifest-stream.js";

const D = digestBytes("x");

async function* once(bytes: Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* bytes;
}

describe("createManifestEncoder", () => {
  it("gives the summary readManifest computes from the bytes it wrote", async () => {
    const entry = fc.record(
      {
        path: fc.stringMatching(/^[a-z]{1,3}(\/[a-zé]{1,3}){0,2}$/),
        size: fc.nat(),
        digest: fc.constantFrom(D, digestBytes("y")),
        meta: fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
      },
      { requiredKeys: ["path", "size", "digest"] },
    );
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(entry, { selector: (e) => e.path, maxLength: 20 }), async (list) => {
        // Sorted, and no path may be a folder of another: what a walk of real files gives.
        const entries = (list as ManifestEntry[])
          .sort((a, b) => compareUtf8(a.path, b.path))
          .filter((e, i, all) => !all.some((o) => e.path.startsWith(o.path + "/")));
        const encoder = createManifestEncoder({ meta: { t: 1 } }, entries);
        const chunks: Uint8Array[] = [];
        for await (const c of encoder.chunks) chunks.push(c);
        const reader = await readManifest(once(chunks));
        for await (const _ of reader.entries) {
          // drain
        }
        expect(encoder.summary()).toEqual(reader.summary());
      }),
      { numRuns: 200 },
    );
  });

  it("has no summary before its bytes are read", () => {
    expect(() => createManifestEncoder({}, []).summary()).toThrow(/before its bytes were consumed/);
  });

  it("refuses a line longer than a reader accepts", async () => {
    const long = { path: "a", size: 1, digest: D, meta: { text: "x".repeat(200) } };
    const encoder = createManifestEncoder({}, [long], { maxLineBytes: 100 });
    await expect(
      (async () => {
        for await (const _ of encoder.chunks) {
          // drain
        }
      })(),
    ).rejects.toMatchObject({ code: "E_BAD_MANIFEST", message: "manifest line 2: longer than 100 bytes" });
  });
});

describe("decodeEntryLine", () => {
  it("takes back what encodeEntryLine writes, and refuses near misses with their own reasons", () => {
    const entry: ManifestEntry = { path: "a/b.csv", size: 12, digest: D, meta: { z: [1, { b: 2, a: 1 }], a: "é" } };
    const line = encodeEntryLine(entry).slice(0, -1);
    expect(decodeEntryLine(line, "line 2")).toEqual(entry);
    const swapped = `{"path":"a/b.csv","digest":"${D}","size":12}`;
    expect(() => decodeEntryLine(swapped, "line 2")).toThrow(/line 2: line is not canonical JSON/);
    expect(() => decodeEntryLine(`{"digest":"${D}","meta":{},"path":"a","size":1}`, "line 3")).toThrow(
      /line 3: an empty meta must be omitted/,
    );
    expect(() => decodeEntryLine(`{"digest":"${D}","path":"a","size":1.5}`, "line 4")).toThrow(/line 4: size must be/);
    expect(() => decodeEntryLine(`{"digest":"${D}","path":"a","size":-0}`, "line 5")).toThrow(/line 5: line is not canonical/);
    expect(() => decodeEntryLine(`{"digest":"${D}","path":"../a","size":1}`, "line 6")).toThrow(/line 6: path "..\/a"/);
  });
});
