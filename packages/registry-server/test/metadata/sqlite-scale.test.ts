import Database from "better-sqlite3";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  compareUtf8,
  compilePathGlobs,
  evaluateQuery,
  formatQuery,
  parseQuery,
  type Digest,
  type JsonObject,
  type ManifestEntry,
  type QueryEntry,
} from "@dpkg/core";
import { entryArb, queryArb } from "../../../core/test/query-helpers.js";
import type { EntrySelection } from "../../src/metadata/metadata-store.js";
import { migrate, MIGRATIONS } from "../../src/metadata/sqlite/migrations.js";
import { autoPlan, selectEntries, type SelectPlan } from "../../src/metadata/sqlite/select-entries.js";
import { openSqliteMetadataStore, type SqliteMetadataStore } from "../../src/metadata/sqlite/sqlite-metadata-store.js";
import {
  blob,
  collect,
  digestWithPrefix,
  pkgA,
  rejection,
  stage,
  T0,
  upload,
} from "../contract/metadata-store/fixtures.js";
import { makeTempDir } from "../helpers/temp-dir.js";

/**
 * The index of entry values (entry_values) must select exactly what a scan selects, and what core's
 * evaluator selects: every query runs three ways (auto, forced index, forced scan) against a real
 * store and is compared with evaluateQuery over the same entries.
 */
const PLANS: SelectPlan[] = ["auto", "index", "scan"];

function byPath(a: { path: string }, b: { path: string }): number {
  return compareUtf8(a.path, b.path);
}

/**
 * Entries as a manifest holds them, sorted by path, an empty meta omitted: a manifest cannot say
 * `"meta":{}` (so `meta IS NULL` is TRUE for such an entry in the store, unlike for a `{}` in memory).
 */
function asManifest(entries: readonly QueryEntry[]): ManifestEntry[] {
  return entries
    .map((e): ManifestEntry => {
      // The store takes any digest text; the vectors and random entries are not all real digests.
      const entry = { path: e.path, size: e.size, digest: e.digest as Digest };
      return e.meta === undefined || Object.keys(e.meta).length === 0 ? entry : { ...entry, meta: e.meta };
    })
    .sort(byPath);
}

function select(store: SqliteMetadataStore, digest: Digest, selection: EntrySelection, plan: SelectPlan) {
  return collect(selectEntries(store.db, digest, selection, plan));
}

async function expectAllPlans(
  store: SqliteMetadataStore,
  digest: Digest,
  selection: EntrySelection,
  expected: readonly { path: string }[],
): Promise<void> {
  const label = `${selection.where === undefined ? "" : formatQuery(selection.where)} ${selection.paths?.join(" ") ?? ""}`;
  for (const plan of PLANS) {
    const got = await select(store, digest, selection, plan);
    expect(
      got.map((e) => e.path),
      `${plan}: ${label}`,
    ).toEqual(expected.map((e) => e.path));
  }
}

// ---- 50,000 entries of every shape the index must get right ---------------------------------------

const LONG = "x".repeat(64); // strings are indexed by their first 64 code points

/** Deterministic, varied entries: ten blocks of entry_values, values of every class under one key. */
function manyEntries(n: number): ManifestEntry[] {
  let seed = 42;
  const random = (): number => (seed = (seed * 48271) % 2147483647) / 2147483647;
  const out: ManifestEntry[] = [];
  for (let i = 0; i < n; i++) {
    const dir = i % 97 === 0 ? `ü/${i % 5}` : `d${i % 37}/s${String(i % 100).padStart(3, "0")}`;
    const meta: JsonObject = { label: `label-${i % 50}` };
    if (i % 50 === 7) meta.label = i % 2 === 0 ? "Cat" : "cat";
    const kinds = [i % 1000, (i % 100) / 8, "10", i % 2 === 0, null, undefined, 2 ** 53 + 2 * (i % 3), -i];
    const n7 = kinds[i % kinds.length];
    if (n7 !== undefined) meta.n = n7;
    if (i % 10 === 3) meta.desc = `${LONG}suffix-${i % 7}`;
    if (i % 10 === 4) meta.desc = `${LONG.slice(0, 60)}ünï-${i % 3}`;
    if (i % 3 === 0) meta.nested = { deep: { x: i % 13 }, tags: ["a", "b"] };
    if (i % 3 === 1) meta.tags = ["a", i % 5];
    if (i % 4 === 0) meta.flag = i % 8 === 0;
    if (i % 11 === 0) meta["a.b"] = i % 2;
    if (i % 13 === 0) meta.emoji = ["😀", "\uFFFF", "é", "%_*[", ""][i % 5] ?? "";
    const e: ManifestEntry = {
      path: `${dir}/f${String(i).padStart(6, "0")}.${["tif", "png", "CSV"][i % 3]}`,
      size: i % 11 === 0 ? 0 : Math.floor(random() * 1e9),
      digest: blob(String(i % 40_000)),
    };
    if (i % 17 !== 0) e.meta = i % 17 === 1 ? {} : meta;
    out.push(e);
  }
  return asManifest(out);
}

const QUERIES = [
  "meta.label = 'label-8'",
  "meta.label = 'label-7'",
  "meta.label = 'Cat'",
  "meta.label IN ('label-1', 'label-2', 'cat', 3)",
  "meta.label BETWEEN 'label-10' AND 'label-19'",
  "meta.label > 'label-45'",
  "meta.label <= 'label-1'",
  "meta.label LIKE 'LABEL-1%'",
  "meta.label GLOB 'label-1?'",
  "meta.label GLOB '*7'",
  "meta.n = 3",
  "meta.n > 990",
  "meta.n BETWEEN -5 AND 5",
  "meta.n < -49990",
  "meta.n = '10'",
  "meta.n = true",
  "meta.n < true",
  "meta.n >= 9007199254740992",
  "meta.n = 9007199254740994",
  `meta.desc = '${LONG}suffix-3'`,
  `meta.desc > '${LONG}suffix-4'`,
  `meta.desc < '${LONG}'`,
  `meta.desc LIKE '${LONG}suffix-1%'`,
  `meta.desc GLOB '${LONG.slice(0, 60)}ü*'`,
  "meta.nested.deep.x = 5",
  "meta.nested.tags = 'a'",
  "meta.tags IS NOT NULL AND meta.label = 'label-3'",
  "meta.flag = false",
  "meta.flag != true",
  'meta."a.b" = 1',
  "meta.emoji = '😀'",
  "meta.emoji >= '\uFFFF'",
  "meta.emoji = ''",
  "meta.emoji LIKE '%\\_%'",
  "size < 1000",
  "size = 0",
  "size BETWEEN 100000000 AND 101000000",
  "NOT size > 5000",
  "NOT (size < 990000000 OR meta.n = 3)",
  "5000 > size",
  "path GLOB 'd3/s01*'",
  "path LIKE 'D3/%'",
  "path > 'd9' AND meta.label = 'label-3'",
  "path IN ('d1/s001/f000001.png', 'nope') OR meta.n = 7",
  "path BETWEEN 'd1/' AND 'd2' AND size < 100000000",
  "meta.label = 'label-8' AND size < 500000000",
  "meta.label = 'label-8' OR meta.n = 3",
  "meta.label = 'label-8' OR meta.label IS NULL",
  "meta.label = 'label-3' AND meta.n = 3 AND meta.flag = true",
  "(meta.label = 'label-3' OR meta.label = 'label-4') AND meta.nested.deep.x IN (1, 2)",
  "meta.label = 'label-3' AND meta.n IN (3, 53, 103) AND size > 100000000",
  "NOT meta.label != 'label-9'",
  "NOT (meta.label != 'label-9' OR meta.n != 59)",
  "NOT (meta.label NOT IN ('label-9', 'label-8'))",
  "meta.label = 'label-3' AND meta.label = 'label-4'",
  "meta.n = 1 AND meta.n = 'a'",
  "meta.label = null",
  "meta.label IN (null, 'label-2')",
  "meta.missing = 1",
  "meta = 1",
  `digest = '${blob("123")}'`,
  "meta.label = meta.label AND meta.n = 4",
];

describe("selective queries on 50,000 entries", () => {
  const entries = manyEntries(50_000);
  let store: SqliteMetadataStore;
  let digest: Digest;
  const expected = (selection: EntrySelection): QueryEntry[] => {
    const where = selection.where;
    return entries.filter((e) => where === undefined || evaluateQuery(where, e));
  };

  beforeAll(async () => {
    store = openSqliteMetadataStore(":memory:");
    await upload(store, pkgA.namespace, entries);
    digest = await stage(store, entries, { title: "scale" });
    await store.commit({ pkg: pkgA, digest, message: "m", author: "a", createdAt: T0, tags: [], moveLatest: true });
  });
  afterAll(() => store.close());

  it("stages in blocks, with every scalar value indexed", () => {
    const blocks = store.db.prepare("SELECT count(DISTINCT block) FROM entry_values").pluck().get();
    expect(blocks).toBe(10);
    const sizes = store.db
      .prepare("SELECT count(*) FROM entry_values v JOIN value_keys k ON k.id = v.key_id WHERE k.name = 'size'")
      .pluck()
      .get();
    expect(sizes).toBe(entries.length);
  });

  it.each(QUERIES)("selects what the evaluator selects, by index and by scan: %s", async (text) => {
    const selection = { where: parseQuery(text) };
    await expectAllPlans(store, digest, selection, expected(selection));
  });

  it("combines queries with path globs", async () => {
    for (const paths of [["d3"], ["**/*.png"], ["ü", "d1/s001"], ["d2/s0*"]]) {
      for (const text of ["meta.label = 'label-8'", "size < 100000000 AND meta.flag = true", "meta.n IN (1, 2, 3)"]) {
        const selection = { where: parseQuery(text), paths };
        const matcher = compilePathGlobs(paths);
        await expectAllPlans(
          store,
          digest,
          selection,
          expected(selection).filter((e) => matcher(e.path)),
        );
      }
    }
  });

  it("pages with `after` and `limit` on every plan", async () => {
    for (const text of ["meta.label = 'label-8'", "meta.n BETWEEN 10 AND 20 OR meta.flag = true", "size < 30000000"]) {
      const where = parseQuery(text);
      const all = expected({ where });
      for (const plan of PLANS) {
        const pages: string[] = [];
        let after: string | undefined;
        for (let page = 0; page < 1_000; page++) {
          const got = await select(store, digest, { where, after, limit: 137 }, plan);
          expect(got.length).toBeLessThanOrEqual(137);
          if (got.length === 0) break;
          pages.push(...got.map((e) => e.path));
          after = got.at(-1)?.path;
        }
        expect(pages, `${plan}: ${text}`).toEqual(all.map((e) => e.path));
      }
    }
  });

  it("reads selective queries by index and common ones by scan", () => {
    const plan = (text: string, limit?: number) => autoPlan(store.db, digest, { where: parseQuery(text), limit });
    expect(plan("meta.label = 'label-8'")).toBe("index");
    expect(plan("meta.label = 'nothing'")).toBe("index");
    expect(plan("size BETWEEN 100000000 AND 101000000")).toBe("index");
    expect(plan("meta.label = 'label-3' AND meta.n = 3 AND meta.flag = true")).toBe("index");
    expect(plan("meta.label > 'label-1'")).toBe("scan");
    // One entry wanted: a scan finds it within the first hundred or so.
    expect(plan("meta.label = 'label-8'", 1)).toBe("scan");
    expect(plan("meta.label != 'label-8'")).toBe("scan");
    expect(plan("path GLOB 'd3/s01*'")).toBe("scan");
  });

  it("keeps the database consistent, and integrityCheck sees a value missing from the index", async () => {
    expect(await store.integrityCheck()).toEqual([]);
    store.db.exec("SAVEPOINT broken");
    store.db.exec(
      "DELETE FROM entry_values WHERE ord = 5 AND key_id = (SELECT id FROM value_keys WHERE name = 'size')",
    );
    store.db.exec("DELETE FROM manifest_blobs WHERE digest = (SELECT digest FROM manifest_blobs LIMIT 1)");
    const problems = await store.integrityCheck();
    store.db.exec("ROLLBACK TO broken");
    store.db.exec("RELEASE broken");
    expect(problems.some((p) => p.startsWith("manifests with entry_values whose entries lack"))).toBe(true);
    expect(problems.some((p) => p.startsWith("entries of complete manifests missing from their"))).toBe(true);
    expect(await store.integrityCheck()).toEqual([]);
  });
});

// ---- the shared query vectors and random queries, against the real store ---------------------------

interface QueryVectors {
  entries: QueryEntry[];
  cases: Array<{ query: string; selects?: string[] }>;
}

const vectors = JSON.parse(
  readFileSync(new URL("../../../core/test/vectors/queries.json", import.meta.url), "utf8"),
) as QueryVectors;

describe("the shared query vectors on a real store", () => {
  let store: SqliteMetadataStore;
  let digest: Digest;
  const entries = asManifest(vectors.entries);
  beforeAll(async () => {
    store = openSqliteMetadataStore(":memory:");
    digest = await stage(store, entries);
  });
  afterAll(() => store.close());

  const selecting = vectors.cases.filter((c) => c.selects !== undefined);
  it.each(selecting)("$query", async ({ query, selects }) => {
    const where = parseQuery(query);
    await expectAllPlans(
      store,
      digest,
      { where },
      entries.filter((e) => evaluateQuery(where, e)),
    );
    // The vectors' one entry with `"meta": {}` is the only way the selections can differ.
    const withoutEmptyMeta = (paths: readonly string[]) => paths.filter((p) => p !== "dir/d.CSV");
    const selected = await collect(store.selectEntries(digest, { where }));
    expect(withoutEmptyMeta(selected.map((e) => e.path)).sort()).toEqual(withoutEmptyMeta(selects ?? []).sort());
  });
});

describe("random queries on random entries", () => {
  it("select the same entries by index, by scan and in memory", async () => {
    const store = openSqliteMetadataStore(":memory:");
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(entryArb, { minLength: 1, maxLength: 10, selector: (e) => e.path }),
          fc.array(queryArb, { minLength: 1, maxLength: 4 }),
          async (drawn, queries) => {
            const entries = asManifest(drawn);
            const digest = await stage(store, entries, {}, digestWithPrefix("", `random-${run++}`));
            for (const where of queries) {
              await expectAllPlans(
                store,
                digest,
                { where },
                entries.filter((e) => evaluateQuery(where, e)),
              );
            }
          },
        ),
        { numRuns: 300 },
      );
    } finally {
      await store.close();
    }
  });
});

// ---- staging rules and the migration that added the index ------------------------------------------

describe("staging and migrating", () => {
  it("refuses entries out of path order, and leaves the manifest unstaged", async () => {
    const store = openSqliteMetadataStore(":memory:");
    const header = { format: "dpkg.manifest/1" as const, meta: {} };
    async function* of(paths: string[]) {
      for (const path of paths) yield await Promise.resolve({ path, size: 1, digest: blob(path) });
    }
    const digest = digestWithPrefix("", "unordered");
    const err = await rejection(store.stageManifest(digest, header, of(["b", "a"])), "E_BAD_MANIFEST");
    expect(err.message).toContain("out of path order");
    await rejection(store.stageManifest(digest, header, of(["a", "b", "b"])), "E_BAD_MANIFEST");
    expect(await store.hasManifest(digest)).toBe(false);
    await store.stageManifest(digest, header, of(["a", "b"]));
    expect((await collect(store.selectEntries(digest, {}))).map((e) => e.path)).toEqual(["a", "b"]);
    await store.close();
  });

  it("names the blobs of complete and of interrupted stagings for gc", async () => {
    const store = openSqliteMetadataStore(":memory:");
    const entry = (path: string): ManifestEntry => ({ path, size: 1, digest: blob(path) });
    const done = ["done/1", "done/2"].map(entry);
    // Enough entries that the interrupted attempt stored a batch before failing.
    const cut = Array.from({ length: 5_001 }, (_, i) => entry(`cut/${String(i).padStart(5, "0")}`));
    await upload(store, pkgA.namespace, [...done, cut[0]!, cut[1]!, entry("loose")]);
    await stage(store, done);
    async function* interrupted() {
      for (const e of cut) yield await Promise.resolve(e);
      throw new Error("connection reset");
    }
    const header = { format: "dpkg.manifest/1" as const, meta: {} };
    await expect(store.stageManifest(digestWithPrefix("", "cut"), header, interrupted())).rejects.toThrow();
    const live = await store.liveObjectKeys();
    expect([...live].sort()).toEqual([...done, cut[0]!, cut[1]!].map((e) => `blobs/${e.digest.slice(7)}`).sort());
    await store.close();
  });

  it("migrates a database indexed before entry_values: old manifests are scanned, blobs still found", async () => {
    const dir = await makeTempDir("dpkg-sqlite-migrate");
    try {
      const file = join(dir.path, "index.sqlite");
      const before = MIGRATIONS.findIndex((m) => m.includes("CREATE TABLE entry_values"));
      const old = new Database(file);
      migrate(old, file, MIGRATIONS.slice(0, before));
      const entries: ManifestEntry[] = [
        { path: "a.csv", size: 3, digest: blob("a"), meta: { k: 1 } },
        { path: "b/c.txt", size: 4, digest: blob("c"), meta: { k: 2, s: "x" } },
        { path: "b/d.txt", size: 5, digest: blob("c") },
      ];
      old.exec(`INSERT INTO namespaces (id, name) VALUES (1, 'lab');
        INSERT INTO packages (id, namespace_id, name, created_at) VALUES (1, 1, 'cells', 0);
        INSERT INTO manifests (id, digest, meta, entry_count, total_size, complete, staged_at)
          VALUES (1, '${blob("manifest")}', '{}', 3, 12, 1, 0);
        INSERT INTO revisions (id, package_id, manifest_id, parent, message, author, created_at)
          VALUES (1, 1, 1, NULL, 'm', 'a', 0);
        INSERT INTO tags (package_id, name, manifest_id) VALUES (1, 'latest', 1);`);
      const insert = old.prepare("INSERT INTO entries (manifest_id, path, size, digest, meta) VALUES (1, ?, ?, ?, ?)");
      for (const e of entries)
        insert.run(e.path, e.size, e.digest, e.meta === undefined ? null : JSON.stringify(e.meta));
      old.close();

      const store = openSqliteMetadataStore(file);
      await upload(store, "lab", entries);
      const where = parseQuery("meta.k = 2 OR size = 5");
      expect(autoPlan(store.db, blob("manifest"), { where })).toBe("scan");
      expect((await collect(store.selectEntries(blob("manifest"), { where }))).map((e) => e.path)).toEqual([
        "b/c.txt",
        "b/d.txt",
      ]);
      const found = await store.blobLocations(pkgA, [blob("a"), blob("c"), blob("elsewhere")]);
      expect(found.map((l) => l.digest).sort()).toEqual([blob("a"), blob("c")].sort());
      expect(await store.integrityCheck()).toEqual([]);
      await store.close();
    } finally {
      await dir.cleanup();
    }
  });
});
