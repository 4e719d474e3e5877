import { readFile, writeFile } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { digestHex, parseQuery, type Digest, type PackageName, type RefSelector } from "@dpkg/core";
import { blobKey, manifestKey, revisionKey } from "../../src/blob-store/layout.js";
import { reindex } from "../../src/lifecycle/reindex.js";
import type { EntrySelection, MetadataStore } from "../../src/metadata/metadata-store.js";
import { openSqliteMetadataStore } from "../../src/metadata/sqlite/sqlite-metadata-store.js";
import { receivePack } from "../../src/push/receive-pack.js";
import { file, tarOf, type TestFile } from "../helpers/push-data.js";
import { blobsOfSizes, chunked, digestOf, listAll, makeStores, pathOf, type Stores } from "../push/fixtures.js";
import { publish, PUSH_LIMITS, setTag } from "./publish.js";

const images: PackageName = { namespace: "lab", name: "images" };
const tables: PackageName = { namespace: "lab", name: "tables" };
const shared: PackageName = { namespace: "other", name: "shared" };
const at = (minute: number): Date => new Date(Date.UTC(2026, 0, 1, 12, minute, 0, 123));

interface Built {
  files: TestFile[];
  revisions: Digest[];
  /** Uploaded to "lab" but never committed. */
  uncommitted: Digest[];
}

/** Three packages in two namespaces, shared blobs, large blobs, tags on old revisions, entry metadata. */
async function build(s: Stores): Promise<Built> {
  const [small1, small2, small3, big1, big2] = blobsOfSizes(700, 1300, 1, 2500, 6000);
  const v1 = [
    file("cells/a.tif", small1!, { cell_line: "AICS-12", channel: "dna" }),
    file("cells/b.tif", small2!, { cell_line: "AICS-13", channel: "membrane" }),
    file("raw/big.bin", big1!),
    file("README.md", "# images\n"),
  ];
  const v2 = [...v1.slice(1), file("cells/c.tif", small3!, { cell_line: "AICS-12" }), file("raw/huge.bin", big2!)];
  const r1 = await publish(s, images, v1, { at: at(1), meta: { title: "Images", description: "cells" } });
  const r2 = await publish(s, images, v2, { at: at(2), meta: { title: "Images v2" }, tags: ["prod"] });
  await setTag(s, images, "v1", r1.revision.digest, at(3));
  const r3 = await publish(s, tables, [file("t.csv", "a,b\n1,2\n"), file("copy.tif", small1!)], { at: at(4) });
  const r4 = await publish(s, shared, [file("x.bin", big1!), file("y.tif", small2!)], { at: at(5), tags: ["v1"] });
  // Unchanged content: no new revision, but the extra tag moves.
  await publish(s, tables, [file("t.csv", "a,b\n1,2\n"), file("copy.tif", small1!)], { at: at(6), tags: ["stable"] });

  const [loose1, loose2] = blobsOfSizes(100, 3000);
  await receivePack(chunked(await tarOf([loose1!, loose2!])), {
    blobs: s.blobs,
    meta: s.meta,
    namespace: "lab",
    ...PUSH_LIMITS,
  });
  const files = [...v1, ...v2, file("t.csv", "a,b\n1,2\n")];
  const revisions = [r1, r2, r3, r4].map((r) => r.revision.digest);
  return { files, revisions, uncommitted: [digestOf(loose1!), digestOf(loose2!)] };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function settled<T>(p: Promise<T>): Promise<{ ok: T } | { code: unknown }> {
  return p.then(
    (ok) => ({ ok }),
    (err: unknown) => ({ code: (err as { code?: unknown }).code }),
  );
}

/** Every read the registry answers from the index, for these packages. */
async function answers(meta: MetadataStore, built: Built): Promise<unknown> {
  const digests = [...new Set(built.files.map((f) => digestOf(f.bytes)))];
  const out: Record<string, unknown> = {};
  for (const pkg of [images, tables, shared]) {
    const name = `${pkg.namespace}/${pkg.name}`;
    const selectors: RefSelector[] = [
      ...["latest", "prod", "v1", "stable", "nope"].map((tag) => ({ kind: "tag" as const, tag })),
      ...built.revisions.map((d) => ({ kind: "digest" as const, prefix: digestHex(d).slice(0, 8), full: false })),
      ...built.revisions.map((d) => ({ kind: "digest" as const, prefix: digestHex(d), full: true })),
    ];
    out[name] = {
      info: await meta.getPackage(pkg),
      revisions: await meta.listRevisions(pkg, { limit: 100 }),
      resolved: await Promise.all(selectors.map((sel) => settled(meta.resolve(pkg, sel)))),
      locations: sortLocations(await meta.blobLocations(pkg, digests)),
    };
  }
  const selections: EntrySelection[] = [
    {},
    { where: parseQuery("meta.cell_line = 'AICS-12' AND size < 5000") },
    { paths: ["cells/*"], limit: 1, after: "cells/a.tif" },
  ];
  for (const d of built.revisions) {
    out[d] = await Promise.all(selections.map((sel) => collect(meta.selectEntries(d, sel))));
  }
  for (const ns of ["lab", "other", "nobody"]) out[`missing ${ns}`] = await meta.missingBlobs(ns, digests);
  return out;
}

function sortLocations<T extends { digest: string; key: string; start: number }>(locations: T[]): T[] {
  return [...locations].sort((a, b) => (a.digest + a.key + a.start < b.digest + b.key + b.start ? -1 : 1));
}

describe("reindex", () => {
  let s: Stores;
  let fresh: MetadataStore;
  beforeEach(async () => {
    s = await makeStores();
    fresh = openSqliteMetadataStore(":memory:");
  });
  afterEach(async () => {
    await fresh.close();
    await s.cleanup();
  });

  it("rebuilds an empty index from the bucket alone, answering every read as before", async () => {
    const built = await build(s);
    const before = await answers(s.meta, built);
    // The comparison below is only as good as what it compares: make sure the answers are substantial.
    expect(before).toMatchObject({
      "lab/images": {
        info: {
          meta: { title: "Images v2" },
          tags: { latest: built.revisions[1], prod: built.revisions[1], v1: built.revisions[0] },
        },
        revisions: [{ digest: built.revisions[1] }, { digest: built.revisions[0] }],
      },
      "lab/tables": { info: { tags: { stable: built.revisions[2] } } },
      "missing nobody": built.files
        .filter((f, i, all) => all.findIndex((g) => digestOf(g.bytes) === digestOf(f.bytes)) === i)
        .map((f) => digestOf(f.bytes)),
    });
    expect(JSON.stringify(before).match(/"ok"/g)?.length).toBeGreaterThan(12);
    expect(JSON.stringify(before).match(/"code":"E_NOT_FOUND"/g)?.length).toBeGreaterThan(6);
    expect(JSON.stringify(before).match(/"cell_line"/g)?.length).toBeGreaterThan(6);
    const log: string[] = [];
    const report = await reindex({ blobs: s.blobs, meta: fresh, log: (l) => log.push(l) });

    expect(report.problems).toEqual([]);
    expect(report).toMatchObject({ revisions: 4, manifests: 4, unreferencedManifests: 0, tags: 7, blobs: 3 });
    expect(report.packs).toBeGreaterThan(3);
    expect(log.length).toBeGreaterThan(0);
    expect(await answers(fresh, built)).toEqual(before);
    // Objects and their byte ranges are the same, so gc sees the same live set.
    expect(await fresh.liveObjectKeys()).toEqual(await s.meta.liveObjectKeys());
  });

  it("is idempotent", async () => {
    const built = await build(s);
    await reindex({ blobs: s.blobs, meta: fresh });
    const once = await answers(fresh, built);
    expect((await reindex({ blobs: s.blobs, meta: fresh })).problems).toEqual([]);
    expect(await answers(fresh, built)).toEqual(once);
  });

  it("does not restore grants of uploads no revision used: those blobs are uploaded again", async () => {
    const built = await build(s);
    expect(await s.meta.missingBlobs("lab", built.uncommitted)).toEqual([]);
    await reindex({ blobs: s.blobs, meta: fresh });
    expect(await fresh.missingBlobs("lab", built.uncommitted)).toEqual(built.uncommitted);
  });

  it("reports damaged and stray objects, one by one, and indexes everything else", async () => {
    const built = await build(s);
    const [r1, r2, , r4] = built.revisions;
    // A manifest that no longer hashes to its key: its revision cannot be imported.
    const m2 = pathOf(s, manifestKey(r2!));
    await writeFile(m2, (await readFile(m2, "utf8")).replace("Images v2", "Images v3"));
    // A pack index that no longer matches its pack.
    const packs = [...(await listAll(s.blobs, "packs/")).keys()].filter((k) => k.endsWith(".idx"));
    await writeFile(pathOf(s, packs[0]!), "garbage\n");
    // A revision record filed under the wrong digest, a tag record that is not JSON, a stray key.
    const stray = revisionKey(shared, at(9), r1!);
    await s.blobs.put(stray, await readFile(pathOf(s, revisionKey(shared, at(5), r4!))));
    await s.blobs.put("refs/other/shared/tags/broken.json", Buffer.from("{"));
    await s.blobs.put("blobs/zz/not-a-digest", Buffer.from("?"));
    await s.blobs.put(manifestKey(digestOf(Buffer.from("orphan"))), Buffer.from("not even a manifest"));

    const report = await reindex({ blobs: s.blobs, meta: fresh });
    const keys = report.problems.map((p) => p.key).sort();
    expect(keys).toEqual(
      [
        manifestKey(r2!),
        packs[0]!,
        revisionKey(images, at(2), r2!),
        stray,
        "refs/other/shared/tags/broken.json",
        "blobs/zz/not-a-digest",
        // latest and prod of lab/images pointed at the revision that could not be imported
        "refs/lab/images/tags/latest.json",
        "refs/lab/images/tags/prod.json",
      ].sort(),
    );
    expect(report.unreferencedManifests).toBe(1);
    expect(report.revisions).toBe(3);
    expect((await fresh.resolve(images, { kind: "tag", tag: "v1" })).digest).toBe(r1);
    expect((await fresh.resolve(shared, { kind: "tag", tag: "latest" })).digest).toBe(r4);
    expect(await fresh.blobLocations(shared, [digestOf(built.files[2]!.bytes)])).toEqual([
      {
        digest: digestOf(built.files[2]!.bytes),
        size: 2500,
        key: blobKey(digestOf(built.files[2]!.bytes)),
        start: 0,
        end: 2500,
      },
    ]);
  });

  it("reports a pack without its index and an index without its pack", async () => {
    await build(s);
    const idx = [...(await listAll(s.blobs, "packs/")).keys()].filter((k) => k.endsWith(".idx"));
    await s.blobs.delete(idx[0]!);
    await s.blobs.delete(idx[1]!.replace(/\.idx$/, ".pack"));
    const report = await reindex({ blobs: s.blobs, meta: fresh });
    expect(report.problems.map((p) => p.key).sort()).toEqual([idx[0]!.replace(/\.idx$/, ".pack"), idx[1]!].sort());
  });
});
