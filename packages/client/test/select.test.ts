import { isDpkgError, parseManifest, type Digest, type ManifestEntry, type PackageName } from "@dpkg/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../src/registry-client.js";
import { createEntryFilter, hasSelection, selectEntries, type Selection } from "../src/select.js";
import { file, publish } from "./helpers/publish.js";
import { startTestRegistryServer, type TestRegistryServer } from "./helpers/registry-server.js";

const PKG: PackageName = { namespace: "lab", name: "select" };
const FILES = [
  file("README.md", "readme"),
  file("Images/upper.png", "U", { channel: "dna" }),
  file("images/a.png", "AAAA", { channel: "dna", label: "cat", n: 1, flag: true, "cell line": "AICS-12" }),
  file("images/b.png", "BBBBBB", { channel: "membrane", label: "dog", n: 2.5, flag: false }),
  file("images/c.png", "CC", { channel: "dna", label: "dog", n: "3", nested: { depth: { x: 7 } } }),
  file("images/sub/d.png", "DDDDDDDDDD", { channel: null, label: ["cat"] }),
  file("tables/t.csv", "x,y\n1,2\n", { rows: 1 }),
  file("tables/u.csv", "x\n", { rows: 10, label: "cat" }),
  file("ünïcödé/é.txt", "accents", { label: "é" }),
];

const SELECTIONS: Selection[] = [
  { where: "meta.channel = 'dna'" },
  { where: "size BETWEEN 2 AND 6" },
  { where: "meta.label IN ('cat', 'dog') AND NOT path GLOB '*c.png'" },
  { where: "path LIKE 'IMAGES/%'" },
  { where: "path GLOB 'images/*'" },
  { where: "meta.rows IS NULL" },
  { where: "meta.channel IS NOT NULL OR meta.rows >= 10" },
  { where: `meta."cell line" = 'AICS-12'` },
  { where: "meta.n > 1" },
  { where: "meta.n != 2.5" },
  { where: "meta.flag = true OR meta.flag = false" },
  { where: "meta.nested.depth.x = 7" },
  { where: "meta.label = 'é' OR digest LIKE 'blake3:%'" },
  { paths: ["images"] },
  { paths: ["**/*.csv", "README.md"] },
  { paths: ["images/{a,b}.png"] },
  { paths: ["images/*"] },
  { paths: ["nothing-here"] },
  { paths: ["ünïcödé"] },
  { paths: ["images", "tables"], where: "meta.label = 'cat'" },
  { paths: ["images/**"], where: "size < 5 AND meta.channel = 'dna'" },
];

describe("in-memory selection agrees with the registry's", () => {
  let reg: TestRegistryServer;
  let client: RegistryClient;
  let digest: Digest;
  let entries: ManifestEntry[];

  beforeAll(async () => {
    reg = await startTestRegistryServer();
    client = new RegistryClient({ url: reg.url, token: reg.token });
    const published = await publish(client, PKG, FILES);
    digest = published.digest;
    entries = (await parseManifest(published.manifest)).entries;
  });
  afterAll(async () => {
    await client.close();
    await reg.close();
  });

  it.each(SELECTIONS.map((s) => [JSON.stringify(s), s] as const))("%s", async (_label, selection) => {
    const server: string[] = [];
    for await (const e of client.entries(PKG, digest, { where: selection.where, paths: selection.paths ? [...selection.paths] : undefined })) {
      server.push(e.path);
    }
    const local: string[] = [];
    for await (const e of selectEntries(entries, selection)) local.push(e.path);
    expect(local).toEqual(server);
  });

  it("selects something for most of these selections (the comparison is not vacuous)", async () => {
    let nonEmpty = 0;
    for (const s of SELECTIONS) {
      const keep = createEntryFilter(s);
      if (entries.some(keep)) nonEmpty += 1;
    }
    expect(nonEmpty).toBeGreaterThanOrEqual(SELECTIONS.length - 2);
  });
});

describe("createEntryFilter", () => {
  const e = { path: "images/a.png", size: 4, digest: "blake3:00", meta: { label: "cat" } };

  it("ANDs the globs with the query; no selection selects everything", () => {
    expect(createEntryFilter({})(e)).toBe(true);
    expect(createEntryFilter({ paths: ["images"], where: "meta.label = 'cat'" })(e)).toBe(true);
    expect(createEntryFilter({ paths: ["tables"], where: "meta.label = 'cat'" })(e)).toBe(false);
    expect(createEntryFilter({ paths: ["images"], where: "meta.label = 'dog'" })(e)).toBe(false);
    expect(hasSelection({ paths: [], where: "  " })).toBe(false);
    expect(hasSelection({ where: "size > 1" })).toBe(true);
  });

  it("rejects a bad query or glob up front, with the catalog's codes", () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return isDpkgError(err) ? err.code : "not a DpkgError";
      }
      return "no error";
    };
    expect(code(() => createEntryFilter({ where: "size >" }))).toBe("E_QUERY_SYNTAX");
    expect(code(() => createEntryFilter({ paths: ["/abs"] }))).toBe("E_BAD_PATH");
  });
});
