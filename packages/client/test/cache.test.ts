import { digestBytes, type Digest } from "@dpkg/core";
import { chmod, mkdir, readdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ContentCache, defaultCacheDir } from "../src/cache/content-cache.js";
import { makeTempDir, type TempDir } from "../../registry-server/test/helpers/temp-dir.js";
import { manifestOf, file } from "../../registry-server/test/helpers/push-data.js";
import { collect, rejection } from "./helpers/test-utils.js";

async function* chunks(...parts: (string | Uint8Array)[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield typeof p === "string" ? new TextEncoder().encode(p) : p;
}

describe("ContentCache", () => {
  let dir: TempDir;
  let cache: ContentCache;
  beforeEach(async () => {
    dir = await makeTempDir("dpkg-cache");
    cache = new ContentCache(join(dir.path, "cache"));
  });
  afterEach(() => dir.cleanup());

  it("stores a verified blob sharded, read-only, and finds it by digest and size", async () => {
    const digest = digestBytes("hello world");
    const hex = digest.slice(7);
    expect(cache.blobPath(digest)).toBe(join(cache.root, "blobs", hex.slice(0, 2), hex));
    expect(await cache.hasBlob(digest)).toBe(false);
    const path = await cache.putBlob(digest, 11, chunks("hello", " ", "world"));
    expect(path).toBe(cache.blobPath(digest));
    expect(await readFile(path, "utf8")).toBe("hello world");
    expect((await stat(path)).mode & 0o777).toBe(0o444);
    expect(await cache.hasBlob(digest)).toBe(true);
    expect(await cache.hasBlob(digest, 11)).toBe(true);
    expect(await cache.hasBlob(digest, 12)).toBe(false);
    expect(await readdir(cache.tmpDir)).toEqual([]);
  });

  it("is idempotent: a second put of a cached blob does not read its source", async () => {
    const digest = digestBytes("same");
    await cache.putBlob(digest, 4, chunks("same"));
    let read = false;
    const source = (async function* () {
      read = true;
      yield new TextEncoder().encode("same");
    })();
    await cache.putBlob(digest, 4, source);
    expect(read).toBe(false);
  });

  it("rejects bytes that do not hash to the digest and leaves nothing behind", async () => {
    const digest = digestBytes("expected");
    const err = await rejection(cache.putBlob(digest, 8, chunks("unexpect"), "lab/x: a.txt"));
    expect(err.code).toBe("E_INTEGRITY");
    expect(err.message).toContain("lab/x: a.txt");
    expect(await cache.hasBlob(digest)).toBe(false);
    expect(await readdir(cache.tmpDir)).toEqual([]);

    const short = await rejection(cache.putBlob(digest, 8, chunks("expect")));
    expect(short.code).toBe("E_SIZE_MISMATCH");
    expect(await readdir(cache.tmpDir)).toEqual([]);
  });

  it("replaces a damaged file (wrong size) instead of trusting it", async () => {
    const digest = digestBytes("complete content");
    const path = cache.blobPath(digest);
    await mkdir(join(path, ".."), { recursive: true });
    await writeFile(path, "compl");
    expect(await cache.hasBlob(digest, 16)).toBe(false);
    await cache.putBlob(digest, 16, chunks("complete content"));
    expect(await readFile(path, "utf8")).toBe("complete content");
  });

  it("stores a verified canonical manifest and opens it", async () => {
    const { body, digest } = await manifestOf([file("a.txt", "a"), file("b/c.txt", "bc")], { title: "t" });
    expect(await cache.openManifest(digest)).toBeNull();
    await cache.putManifest(digest, chunks(body));
    expect(await cache.hasManifest(digest)).toBe(true);
    expect(cache.manifestPath(digest)).toBe(join(cache.root, "manifests", `${digest.slice(7)}.jsonl`));
    const reader = await cache.openManifest(digest);
    expect(reader?.header.meta).toEqual({ title: "t" });
    const entries = (await collect(reader!.entries)) as { path: string }[];
    expect(entries.map((e) => e.path)).toEqual(["a.txt", "b/c.txt"]);
    expect(reader!.summary().digest).toBe(digest);
  });

  it("refuses a manifest that does not hash to its digest or is not canonical", async () => {
    const { body } = await manifestOf([file("a.txt", "a")]);
    const other = digestBytes("something else");
    expect((await rejection(cache.putManifest(other, chunks(body)))).code).toBe("E_INTEGRITY");
    const bad = new TextEncoder().encode('{"format":"dpkg.manifest/1", "meta":{}}\n');
    expect((await rejection(cache.putManifest(digestBytes(bad), chunks(bad)))).code).toBe("E_BAD_MANIFEST");
    expect(await cache.hasManifest(digestBytes(bad))).toBe(false);
    expect(await readdir(cache.tmpDir)).toEqual([]);
  });

  it("lists blobs and manifests with size and last use, and refreshes last use on a hit", async () => {
    const a = digestBytes("aaa");
    await cache.putBlob(a, 3, chunks("aaa"));
    const { body, digest: m } = await manifestOf([file("x", "aaa")]);
    await cache.putManifest(m, chunks(body));
    const old = new Date("2020-01-01T00:00:00Z");
    await utimes(cache.blobPath(a), old, old);
    let items = (await collect(cache.list())) as { kind: string; digest: Digest; size: number; lastUsed: Date }[];
    expect(items.map((i) => [i.kind, i.digest, i.size])).toEqual([
      ["blob", a, 3],
      ["manifest", m, body.length],
    ]);
    expect(items[0]!.lastUsed.getTime()).toBe(old.getTime());
    await cache.hasBlob(a);
    items = await collect(cache.list());
    expect(items[0]!.lastUsed.getTime()).toBeGreaterThan(old.getTime());
  });

  it("verify re-hashes blobs and manifests, reports the damaged ones and removes them unless asked not to", async () => {
    const good = digestBytes("good");
    const flipped = digestBytes("flipped");
    await cache.putBlob(good, 4, chunks("good"));
    await cache.putBlob(flipped, 7, chunks("flipped"));
    const { body, digest: manifest } = await manifestOf([file("a.txt", "a")]);
    await cache.putManifest(manifest, chunks(body));
    for (const path of [cache.blobPath(flipped), cache.manifestPath(manifest)]) {
      await chmod(path, 0o644);
      const bytes = await readFile(path);
      bytes[0] = bytes[0]! ^ 1;
      await writeFile(path, bytes);
    }

    const kept = await cache.verify({ keepDamaged: true });
    expect(kept).toMatchObject({ blobs: 2, manifests: 1, removed: 0 });
    expect(kept.damaged.map((d) => [d.kind, d.digest]).sort()).toEqual([["blob", flipped], ["manifest", manifest]].sort());
    expect(kept.damaged.every((d) => d.actual !== null && d.actual !== d.digest)).toBe(true);
    expect(await cache.hasBlob(flipped, 7)).toBe(true);

    const removed = await cache.verify();
    expect(removed).toMatchObject({ removed: 2 });
    expect(await cache.hasBlob(flipped)).toBe(false);
    expect(await cache.hasManifest(manifest)).toBe(false);
    expect(await cache.hasBlob(good, 4)).toBe(true);
    expect((await cache.verify()).damaged).toEqual([]);
  });

  it("prunes what was not used since a date, never what is kept, and leftovers of dead writers", async () => {
    const digests = ["one", "two", "three"].map((s) => digestBytes(s));
    await cache.putBlob(digests[0]!, 3, chunks("one"));
    await cache.putBlob(digests[1]!, 3, chunks("two"));
    await cache.putBlob(digests[2]!, 5, chunks("three"));
    const old = new Date("2020-01-01T00:00:00Z");
    await utimes(cache.blobPath(digests[0]!), old, old);
    await utimes(cache.blobPath(digests[1]!), old, old);
    await mkdir(cache.tmpDir, { recursive: true });
    await writeFile(join(cache.tmpDir, "123-dead.tmp"), "xx");
    await utimes(join(cache.tmpDir, "123-dead.tmp"), old, old);
    await writeFile(join(cache.tmpDir, "456-live.tmp"), "yy");
    // Push records (push/push-record.ts) go by their age too.
    await mkdir(join(cache.root, "pushed"));
    await writeFile(join(cache.root, "pushed", "old.jsonl"), "1234");
    await utimes(join(cache.root, "pushed", "old.jsonl"), old, old);
    await writeFile(join(cache.root, "pushed", "new.jsonl"), "56789");

    const result = await cache.prune({ olderThan: new Date("2021-01-01T00:00:00Z"), keep: new Set([digests[1]!]) });
    expect(result).toEqual({ removed: 3, bytes: 9 });
    expect(await readdir(join(cache.root, "pushed"))).toEqual(["new.jsonl"]);
    expect(await cache.hasBlob(digests[0]!)).toBe(false);
    expect(await cache.hasBlob(digests[1]!)).toBe(true);
    expect(await cache.hasBlob(digests[2]!)).toBe(true);
    expect(await readdir(cache.tmpDir)).toEqual(["456-live.tmp"]);

    const all = await cache.prune({ keep: new Set([digests[1]!]) });
    expect(all).toEqual({ removed: 2, bytes: 10 });
    expect(await readdir(join(cache.root, "pushed"))).toEqual([]);
    expect((await collect(cache.list())).length).toBe(1);
  });

  it("prunes a read-only blob in a folder it may write", async () => {
    const d = digestBytes("ro");
    await cache.putBlob(d, 2, chunks("ro"));
    await chmod(cache.blobPath(d), 0o400);
    expect(await cache.prune({})).toEqual({ removed: 1, bytes: 2 });
  });
});

describe("defaultCacheDir", () => {
  it("follows DPKG_CACHE_DIR, then XDG_CACHE_HOME, then ~/.cache", () => {
    expect(defaultCacheDir({ DPKG_CACHE_DIR: "/c", XDG_CACHE_HOME: "/x", HOME: "/h" })).toBe("/c");
    expect(defaultCacheDir({ XDG_CACHE_HOME: "/x", HOME: "/h" })).toBe("/x/dpkg");
    expect(defaultCacheDir({ XDG_CACHE_HOME: "relative", HOME: "/h" })).toBe("/h/.cache/dpkg");
    expect(defaultCacheDir({ HOME: "/h" })).toBe("/h/.cache/dpkg");
  });
});
