import { DpkgError, readManifest, type ManifestReader } from "@dpkg/core";
import { chmod, writeFile } from "node:fs/promises";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir, type TempDir } from "../../registry-server/test/helpers/temp-dir.js";
import { ContentCache } from "../src/cache/content-cache.js";
import { diffManifests, diffRevisions, type EntryChange } from "../src/ops/diff.js";
import { listEntries } from "../src/ops/ls.js";
import { openEntry } from "../src/ops/cat.js";
import { packageLog } from "../src/ops/log.js";
import { searchPackages } from "../src/ops/search.js";
import { deleteTag, tagRevision } from "../src/ops/tag.js";
import { RegistryClient } from "../src/registry-client.js";
import { file, publish, type Published } from "./helpers/publish.js";
import { startTestRegistryServer, type TestRegistryServer } from "./helpers/registry-server.js";

const pkg = { namespace: "lab", name: "cells" };

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function readAll(items: AsyncIterable<Uint8Array>): Promise<string> {
  return Buffer.concat(await collect(items)).toString("utf8");
}

describe("read operations against a real registry", () => {
  let registry: TestRegistryServer;
  let client: RegistryClient;
  let tmp: TempDir;
  let cache: ContentCache;
  let v1: Published;
  let v2: Published;
  beforeAll(async () => {
    registry = await startTestRegistryServer();
    client = new RegistryClient({ url: registry.url, token: registry.token });
    tmp = await makeTempDir("dpkg-ops");
    cache = new ContentCache(tmp.path);
    v1 = await publish(
      client,
      pkg,
      [file("a/1.txt", "one", { label: "x" }), file("a/2.txt", "two"), file("b.txt", "bee"), file("it's.txt", "quote")],
      { meta: { title: "Cells", readme: "old" }, message: "first", tags: ["v1"] },
    );
    v2 = await publish(
      client,
      pkg,
      [file("a/1.txt", "one", { label: "y" }), file("a/2.txt", "TWO"), file("c.txt", "sea"), file("it's.txt", "quote")],
      {
        meta: { title: "Cells", description: "new" },
        message: "second",
      },
    );
  });
  afterAll(async () => {
    await client.close();
    await registry.close();
    await tmp.cleanup();
  });

  it("lists entries of a ref, selected by --where and --path, with totals", async () => {
    const all = await listEntries(client, "lab/cells@v1");
    expect(all.digest).toBe(v1.digest);
    expect((await collect(all.entries)).map((e) => e.path)).toEqual(["a/1.txt", "a/2.txt", "b.txt", "it's.txt"]);
    expect(all.totals()).toEqual({ entries: 4, bytes: 14 });
    const some = await listEntries(client, "lab/cells", { where: "meta.label = 'y'", paths: ["a"] });
    expect((await collect(some.entries)).map((e) => e.path)).toEqual(["a/1.txt"]);
    await expect(listEntries(client, "lab/cells", { where: "size >" })).rejects.toMatchObject({
      code: "E_QUERY_SYNTAX",
    });
    await expect(listEntries(client, "lab/nope")).rejects.toMatchObject({ code: "E_NOT_FOUND" });
  });

  it("logs revisions newest first with their tags, and moves and deletes tags", async () => {
    const log = await packageLog(client, "lab/cells");
    expect(log.revisions.map((r) => [r.digest, r.message, r.tags])).toEqual([
      [v2.digest, "second", ["latest"]],
      [v1.digest, "first", ["v1"]],
    ]);
    const moved = await tagRevision(client, `lab/cells@blake3:${v1.digest.slice(7, 19)}`, "prod");
    expect(moved).toMatchObject({ name: "lab/cells", tag: "prod", from: null, to: v1.digest });
    expect((await packageLog(client, "lab/cells")).revisions[1]?.tags).toEqual(["prod", "v1"]);
    expect(await deleteTag(client, "lab/cells", "prod")).toMatchObject({ tag: "prod", from: v1.digest, to: null });
    await expect(tagRevision(client, "lab/cells", "bad tag")).rejects.toMatchObject({ code: "E_BAD_TAG" });
    await expect(deleteTag(client, "lab/cells", "latest")).rejects.toMatchObject({ code: "E_BAD_TAG" });
  });

  it("diffs two revisions by streaming both manifests in path order", async () => {
    const diff = await diffRevisions(client, cache, "lab/cells@v1", "latest");
    expect(diff.from.digest).toBe(v1.digest);
    expect(diff.to.digest).toBe(v2.digest);
    expect(diff.meta).toEqual([
      { key: "description", to: "new" },
      { key: "readme", from: "old" },
    ]);
    const changes = await collect(diff.entries);
    expect(
      changes.map((c: EntryChange) => [c.change, c.path, c.change === "modified" ? [c.content, c.metaKeys] : null]),
    ).toEqual([
      ["modified", "a/1.txt", [false, ["label"]]],
      ["modified", "a/2.txt", [true, []]],
      ["removed", "b.txt", null],
      ["added", "c.txt", null],
    ]);
    expect(diff.totals()).toEqual({ added: 1, removed: 1, modified: 2, unchanged: 1 });
    // The manifests are cached now: the same diff works from them alone.
    expect(await cache.hasManifest(v1.digest)).toBe(true);

    const same = diffManifests(await reader(v2.manifest), await reader(v2.manifest), { from: diff.to, to: diff.to });
    expect(await collect(same.entries)).toEqual([]);
    expect(same.totals().unchanged).toBe(4);
  });

  it("opens one entry's verified bytes, by exact path even with quotes, and online or from the cache", async () => {
    const opened = await openEntry(client, cache, "lab/cells@v1", "it's.txt");
    expect(await readAll(opened.bytes)).toBe("quote");
    expect(await readAll((await openEntry(client, cache, "lab/cells", "a/2.txt")).bytes)).toBe("TWO");
    await expect(openEntry(client, cache, "lab/cells", "a")).rejects.toMatchObject({ code: "E_NOT_FOUND" });
    await expect(openEntry(client, cache, "lab/cells", "../x")).rejects.toMatchObject({ code: "E_BAD_PATH" });

    const offline = await openEntry(null, cache, `lab/cells@${v1.digest}`, "it's.txt");
    expect(await readAll(offline.bytes)).toBe("quote");
    await expect(openEntry(null, cache, "lab/cells@v1", "b.txt")).rejects.toMatchObject({ code: "E_OFFLINE" });
    await expect(openEntry(null, cache, `lab/cells@${v1.digest}`, "b.txt")).rejects.toMatchObject({
      code: "E_OFFLINE",
    });

    // A cached file damaged on disk is caught as it is read, not passed on as the entry.
    const blob = cache.blobPath(opened.entry.digest);
    await chmod(blob, 0o644);
    await writeFile(blob, "QUOTE");
    const damaged = await openEntry(null, cache, `lab/cells@${v1.digest}`, "it's.txt");
    await expect(readAll(damaged.bytes)).rejects.toMatchObject({ code: "E_INTEGRITY" });
  });

  it("searches by metadata among readable packages", async () => {
    const hits = await searchPackages(client, "cells");
    expect(hits.map((h) => h.package)).toContain("lab/cells");
    await expect(searchPackages(client, "  ")).rejects.toBeInstanceOf(DpkgError);
  });
});

function reader(manifest: Buffer): Promise<ManifestReader> {
  return readManifest(Readable.from([manifest]));
}
