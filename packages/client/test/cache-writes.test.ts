import { digestBytes, type ManifestEntry } from "@dpkg/core";
import { open, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ContentCache } from "../src/cache/content-cache.js";
import { makeTempDir, type TempDir } from "../../registry-server/test/helpers/temp-dir.js";
import { manifestOf, file } from "../../registry-server/test/helpers/push-data.js";
import { rejection } from "./helpers/test-utils.js";

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("ContentCache writes", () => {
  let dir: TempDir;
  let cache: ContentCache;
  beforeEach(async () => {
    dir = await makeTempDir("dpkg-cache-writes");
    cache = new ContentCache(join(dir.path, "cache"));
  });
  afterEach(() => dir.cleanup());

  it("checks bytes held in memory before writing them, and writes them read-only", async () => {
    const digest = digestBytes("in memory");
    const wrong = await rejection(cache.putBlob(digest, 9, [bytes("in mem0ry")], "lab/x: m.txt", { fresh: true }));
    expect(wrong.code).toBe("E_INTEGRITY");
    expect(wrong.message).toContain("lab/x: m.txt");
    const short = await rejection(cache.putBlob(digest, 9, [bytes("in "), bytes("memor")]));
    expect(short.code).toBe("E_SIZE_MISMATCH");
    expect(await readdir(cache.tmpDir)).toEqual([]);
    expect(await cache.hasBlob(digest)).toBe(false);

    const path = await cache.putBlob(digest, 9, [bytes("in "), bytes("memory")], "m.txt", { fresh: true });
    expect(await readFile(path, "utf8")).toBe("in memory");
    expect((await stat(path)).mode & 0o777).toBe(0o444);
  });

  it("a fresh put over a copy another writer published meanwhile swaps in the same bytes at once, and replaces a damaged one", async () => {
    const digest = digestBytes("same bytes");
    const path = await cache.putBlob(digest, 10, [bytes("same bytes")]);
    // A reader that opened the earlier copy keeps reading it whole.
    const reader = await open(path);
    await cache.putBlob(digest, 10, [bytes("same bytes")], digest, { fresh: true });
    expect(await readFile(path, "utf8")).toBe("same bytes");
    expect((await reader.readFile()).toString()).toBe("same bytes");
    await reader.close();

    await rm(path);
    await writeFile(path, "short");
    await cache.putBlob(digest, 10, [bytes("same bytes")], digest, { fresh: true });
    expect(await readFile(path, "utf8")).toBe("same bytes");
    expect(await readdir(cache.tmpDir)).toEqual([]);
  });

  it("makes its folders again when another process removed the cache meanwhile", async () => {
    const a = digestBytes("first");
    await cache.putBlob(a, 5, [bytes("first")]);
    await rm(cache.root, { recursive: true });
    // Same shard and tmp folder as before: this process made them once and must notice they are gone.
    const b = digestBytes("second");
    await cache.putBlob(b, 6, (async function* () {
      yield bytes("second");
    })());
    await cache.putBlob(a, 5, [bytes("first")], a, { fresh: true });
    expect(await readFile(cache.blobPath(a), "utf8")).toBe("first");
    expect(await readFile(cache.blobPath(b), "utf8")).toBe("second");
  });

  it("missingBlobs: absent and wrong-size blobs, from a cold cache or a warm one", async () => {
    const blobs = ["one", "two", "three"].map((s) => ({ digest: digestBytes(s), size: s.length, text: s }));
    expect(await cache.missingBlobs(blobs)).toEqual(blobs);
    await cache.putBlob(blobs[0]!.digest, 3, [bytes("one")]);
    await cache.putBlob(blobs[2]!.digest, 5, [bytes("three")]);
    expect(await cache.missingBlobs(blobs)).toEqual([blobs[1]]);
    expect(await cache.missingBlobs([{ ...blobs[2]!, size: 4 }])).toHaveLength(1);
  });

  it("putManifest decodes while it writes, hands out the entries, and keeps nothing of a bad manifest", async () => {
    const { body, digest } = await manifestOf([file("a.txt", "a"), file("b/c.txt", "bc")], { title: "t" });
    const seen: ManifestEntry[] = [];
    await cache.putManifest(digest, [body.subarray(0, 7), body.subarray(7)], (e) => seen.push(e));
    expect(seen.map((e) => e.path)).toEqual(["a.txt", "b/c.txt"]);
    expect(await readFile(cache.manifestPath(digest))).toEqual(Buffer.from(body));

    // A byte flipped on the way breaks the JSON of line 1 before the digest is known: still E_INTEGRITY.
    const other = await manifestOf([file("x", "x")]);
    const flipped = Buffer.from(other.body);
    flipped[0] = "z".charCodeAt(0);
    const err = await rejection(cache.putManifest(other.digest, [flipped.subarray(0, 10), flipped.subarray(10)], () => undefined));
    expect(err.code).toBe("E_INTEGRITY");
    expect(await cache.hasManifest(other.digest)).toBe(false);
    expect(await readdir(cache.tmpDir)).toEqual([]);
  });
});
