import { expect, it } from "vitest";
import { compilePathGlobs, evaluateQuery, parseQuery, type Digest, type ManifestEntry } from "@dpkg/core";
import type { EntrySelection, MetadataStore } from "../../../src/metadata/metadata-store.js";
import { collect, digestWithPrefix, entry, rejection, sorted, stage } from "./fixtures.js";

/**
 * Paths chosen to catch ordering bugs: '-' and '.' sort before '/', so "images-raw" and "images.txt"
 * fall between "images" and "images/..."; U+FF21 sorts before U+1F600 in UTF-8 but after it in UTF-16.
 */
const ENTRIES: ManifestEntry[] = sorted([
  entry("README.md", 100),
  entry("images/cat/001.png", 5000, { label: "cat", w: 64 }),
  entry("images/cat/002.png", 7000, { label: "cat", w: 128 }),
  entry("images/dog/001.png", 6000, { label: "dog", w: 64, extra: { deep: true } }),
  entry("images-raw/x.tif", 90000, { label: "cat" }),
  entry("images.txt", 10),
  entry("images", 11),
  entry("images/é.png", 1, { label: "accent" }),
  entry("images/日本.png", 2, { label: "cjk" }),
  entry("images/\u{1F600}.png", 3),
  entry("images/\uFF21.png", 4),
  entry("docs/a.txt", 10, { label: null }),
  entry("docs/b.txt", 20, { "cell line": "AICS-12", tags: ["x", "y"] }),
]);

const QUERIES = [
  "meta.label = 'cat'",
  "meta.label != 'cat'",
  "size < 100 AND path GLOB 'images/*'",
  "meta.\"cell line\" = 'AICS-12'",
  "meta.extra.deep = true",
  "meta.w IN (64, 128) OR path LIKE '%.MD'",
  "meta.label IS NULL",
  "NOT (size BETWEEN 10 AND 6000)",
  "digest = '" + ENTRIES[3]?.digest + "'",
];

const GLOBS = [
  ["images"],
  ["images/cat/*.png", "docs"],
  ["**/001.png"],
  ["images", "images-raw", "images.txt"],
  ["images/*.png"],
  ["docs/", "README.md"],
  ["nothing/here"],
];

export function entriesContract(store: () => MetadataStore): void {
  const staged = (): Promise<Digest> => stage(store(), ENTRIES, { title: "fixture" });
  const select = (digest: Digest, selection: EntrySelection): Promise<ManifestEntry[]> =>
    collect(store().selectEntries(digest, selection));

  it("returns every entry in UTF-8 byte order, meta intact, absent meta absent", async () => {
    const got = await select(await staged(), {});
    expect(got).toEqual(ENTRIES);
    expect(got.find((e) => e.path === "README.md")).not.toHaveProperty("meta");
  });

  it.each(QUERIES)("filters in the database like the in-memory evaluator: %s", async (text) => {
    const digest = await staged();
    const where = parseQuery(text);
    const expected = ENTRIES.filter((e) => evaluateQuery(where, e));
    expect(await select(digest, { where })).toEqual(expected);
  });

  it("selects the entries of a glob's directories in order, however their ranges interleave", async () => {
    const digest = await staged();
    for (const globs of GLOBS) {
      const matcher = compilePathGlobs(globs);
      expect(await select(digest, { paths: globs }), globs.join(" ")).toEqual(ENTRIES.filter((e) => matcher(e.path)));
    }
    expect(await select(digest, { paths: [] })).toEqual(ENTRIES);
  });

  it("combines globs and a query", async () => {
    const digest = await staged();
    const where = parseQuery("meta.w >= 64");
    const got = await select(digest, { paths: ["images/cat", "images/dog/*"], where });
    expect(got.map((e) => e.path)).toEqual(["images/cat/001.png", "images/cat/002.png", "images/dog/001.png"]);
  });

  it("pages with `after` and `limit`, alone and with filters", async () => {
    const digest = await staged();
    const selections: EntrySelection[] = [{}, { paths: ["images", "docs"] }, { where: parseQuery("size > 5") }];
    for (const base of selections) {
      const all = await select(digest, base);
      for (const limit of [1, 2, 5]) {
        const pages: ManifestEntry[] = [];
        let after: string | undefined;
        for (;;) {
          const page = await select(digest, { ...base, after, limit });
          expect(page.length).toBeLessThanOrEqual(limit);
          if (page.length === 0) break;
          pages.push(...page);
          after = page.at(-1)?.path;
        }
        expect(pages).toEqual(all);
      }
    }
    expect(await select(digest, { limit: 0 })).toEqual([]);
    expect(await select(digest, { after: "images.txt", limit: 2 })).toEqual(
      ENTRIES.slice(ENTRIES.findIndex((e) => e.path === "images.txt") + 1).slice(0, 2),
    );
    // `after` need not be a path of the manifest.
    expect(await select(digest, { after: "images/d" })).toEqual(
      ENTRIES.filter((e) => Buffer.compare(Buffer.from(e.path), Buffer.from("images/d")) > 0),
    );
  });

  it("refuses unknown manifests and invalid globs", async () => {
    await rejection(collect(store().selectEntries(digestWithPrefix("", "unknown"), {})), "E_NOT_FOUND");
    const digest = await staged();
    await rejection(select(digest, { paths: ["/abs"] }), "E_BAD_PATH");
  });
}
