import { digestBytes, type ManifestEntry } from "@dpkg/core";
import { randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ContentCache } from "../src/cache/content-cache.js";
import { ensureManifest, fetchBlobs, type FetchProgress } from "../src/fetch-blobs.js";
import { RegistryClient } from "../src/registry-client.js";
import { makeTempDir, type TempDir } from "../../registry-server/test/helpers/temp-dir.js";
import { file, publish, type Published, type TestFile } from "./helpers/publish.js";
import { recordingDispatcher } from "./helpers/recording-dispatcher.js";
import { startTestRegistryServer, type TestRegistryServer } from "./helpers/registry-server.js";
import { rejection } from "./helpers/test-utils.js";

const KIB = 1024;
const MIB = 1024 * KIB;
const pkg = { namespace: "lab", name: "cells" };
/** Small thresholds keep the test data small while exercising packs, large objects and ranges. */
const tuning = { largeBlobBytes: 2 * MIB, rangeBytes: 512 * KIB };

function dataset(): TestFile[] {
  const files: TestFile[] = [];
  for (let i = 0; i < 60; i++) files.push(file(`small/${String(i).padStart(3, "0")}.bin`, randomBytes(1 + ((i * 3001) % (40 * KIB)))));
  files.push(file("small/empty.txt", ""));
  files.push(file("copy/of-000.bin", files[0]!.bytes)); // same digest under two paths
  files.push(file("large/a.bin", randomBytes(3 * MIB + 123)));
  files.push(file("large/b.bin", randomBytes(2 * MIB)));
  files.push(file("medium/c.bin", randomBytes(1536 * KIB))); // its own object, but read as one group
  return files;
}

const wantedOf = (entries: ManifestEntry[]): { digest: ManifestEntry["digest"]; size: number; path: string }[] =>
  entries.map((e) => ({ digest: e.digest, size: e.size, path: e.path }));

async function expectCached(cache: ContentCache, files: TestFile[]): Promise<void> {
  for (const f of files) {
    const bytes = await readFile(cache.blobPath(digestBytes(f.bytes)));
    expect(digestBytes(bytes), f.path).toBe(digestBytes(f.bytes));
  }
}

describe.each(["fs", "s3"] as const)("fetchBlobs against a registry with the %s store", (store) => {
  let registry: TestRegistryServer;
  let files: TestFile[];
  let published: Published;
  let dir: TempDir;
  let cache: ContentCache;
  let rec: ReturnType<typeof recordingDispatcher>;
  let client: RegistryClient;

  beforeAll(async () => {
    registry = await startTestRegistryServer({ store, packBytes: 256 * KIB, largeBlobBytes: MIB });
    const writer = new RegistryClient({ url: registry.url, token: registry.token });
    files = dataset();
    published = await publish(writer, pkg, files, { largeBlobBytes: MIB });
    await writer.close();
  });
  afterAll(() => registry.close());
  beforeEach(async () => {
    dir = await makeTempDir("dpkg-fetch");
    cache = new ContentCache(join(dir.path, "cache"));
    rec = recordingDispatcher();
    client = new RegistryClient({ url: registry.url, token: await registry.tokenFor([{ kind: "read", pattern: "lab" }]), dispatcher: rec.dispatcher });
  });
  afterEach(async () => {
    await client.close();
    await rec.close();
    await dir.cleanup();
  });

  it("fetches every blob once, verified, in few requests, with progress up to the totals", async () => {
    const progress: FetchProgress[] = [];
    const uniqueBytes = [...new Map(files.map((f) => [digestBytes(f.bytes), f.bytes.length])).values()].reduce((a, b) => a + b, 0);
    const result = await fetchBlobs(client, cache, pkg, wantedOf(published.entries), { ...tuning, onProgress: (p) => progress.push(p) });
    expect(result).toEqual({ fetchedBlobs: files.length - 1, fetchedBytes: uniqueBytes });
    await expectCached(cache, files);
    expect(progress.at(-1)).toEqual({ bytes: uniqueBytes, blobs: files.length - 1, totalBytes: uniqueBytes, totalBlobs: files.length - 1 });
    // 61 small blobs in a few packs, 2 large blobs in 512 KiB ranges (7 + 4), 1 medium blob: far fewer reads than blobs + ranges.
    const reads = rec.objectReads();
    expect(reads.length).toBeLessThan(30);
    expect(reads.filter((r) => r.range![1] - r.range![0] === 512 * KIB).length).toBeGreaterThanOrEqual(10);
    expect(await readdir(cache.partialDir)).toEqual([]);
    expect(await readdir(cache.tmpDir)).toEqual([]);
  });

  it("fetches only the subset asked for, and nothing at all once it is cached", async () => {
    const subset = published.entries.filter((e) => e.path.startsWith("small/00") || e.path === "large/b.bin");
    const first = await fetchBlobs(client, cache, pkg, wantedOf(subset), tuning);
    expect(first.fetchedBlobs).toBe(subset.length);
    const listed = [];
    for await (const item of cache.list()) listed.push(item.digest);
    expect(listed.sort()).toEqual(subset.map((e) => e.digest).sort());

    const before = rec.requests.length;
    const again = await fetchBlobs(client, cache, pkg, wantedOf(subset), tuning);
    expect(again).toEqual({ fetchedBlobs: 0, fetchedBytes: 0 });
    expect(rec.requests.length).toBe(before);
  });
});

describe("fetchBlobs and ensureManifest: offline and unknown blobs", () => {
  let registry: TestRegistryServer;
  let published: Published;
  let dir: TempDir;
  let cache: ContentCache;
  let client: RegistryClient;

  beforeAll(async () => {
    registry = await startTestRegistryServer();
    client = new RegistryClient({ url: registry.url, token: registry.token });
    published = await publish(client, pkg, [file("a.txt", "alpha"), file("dir/b.txt", "beta"), file("dir/c.txt", "gamma")]);
  });
  afterAll(async () => {
    await client.close();
    await registry.close();
  });
  beforeEach(async () => {
    dir = await makeTempDir("dpkg-fetch-offline");
    cache = new ContentCache(join(dir.path, "cache"));
  });
  afterEach(() => dir.cleanup());

  it("offline, fails with E_OFFLINE naming how much is missing and an example, without a request", async () => {
    const rec = recordingDispatcher();
    const counted = new RegistryClient({ url: registry.url, token: registry.token, dispatcher: rec.dispatcher });
    try {
      const err = await rejection(fetchBlobs(counted, cache, pkg, wantedOf(published.entries), { offline: true }));
      expect(err.code).toBe("E_OFFLINE");
      expect(err.message).toContain("3 blob(s)");
      expect(err.message).toContain("a.txt");
      expect(rec.requests).toEqual([]);
      expect((await rejection(fetchBlobs(null, cache, pkg, wantedOf(published.entries)))).code).toBe("E_OFFLINE");

      await fetchBlobs(client, cache, pkg, wantedOf(published.entries));
      expect(await fetchBlobs(counted, cache, pkg, wantedOf(published.entries), { offline: true })).toEqual({ fetchedBlobs: 0, fetchedBytes: 0 });
      expect(await fetchBlobs(null, cache, pkg, wantedOf(published.entries))).toEqual({ fetchedBlobs: 0, fetchedBytes: 0 });
      expect(rec.requests).toEqual([]);
    } finally {
      await counted.close();
      await rec.close();
    }
  });

  it("names the entries whose bytes the registry does not hold (E_NOT_FOUND)", async () => {
    const ghost = { digest: digestBytes("never pushed"), size: 12, path: "ghost/file.txt" };
    const err = await rejection(fetchBlobs(client, cache, pkg, [...wantedOf(published.entries), ghost]));
    expect(err.code).toBe("E_NOT_FOUND");
    expect(err.message).toContain("ghost/file.txt");
  });

  it("reads a blob of 16 MiB or more in parallel 8 MiB ranges by default", async () => {
    const big = file("big/volume.raw", randomBytes(17 * MIB));
    const pkgBig = { namespace: "lab", name: "big" };
    await publish(client, pkgBig, [big]);
    const rec = recordingDispatcher();
    const counted = new RegistryClient({ url: registry.url, token: registry.token, dispatcher: rec.dispatcher });
    try {
      const result = await fetchBlobs(counted, cache, pkgBig, [{ digest: digestBytes(big.bytes), size: big.bytes.length, path: big.path }]);
      expect(result).toEqual({ fetchedBlobs: 1, fetchedBytes: 17 * MIB });
      expect(rec.objectReads().map((r) => r.range).sort((a, b) => a![0] - b![0])).toEqual([
        [0, 8 * MIB],
        [8 * MIB, 16 * MIB],
        [16 * MIB, 17 * MIB],
      ]);
      expect(digestBytes(await readFile(cache.blobPath(digestBytes(big.bytes))))).toBe(digestBytes(big.bytes));
    } finally {
      await counted.close();
      await rec.close();
    }
  });

  it("ensureManifest fetches a verified manifest into the cache, then serves it offline", async () => {
    await expect(ensureManifest(null, cache, pkg, published.digest)).rejects.toMatchObject({ code: "E_OFFLINE" });
    const reader = await ensureManifest(client, cache, pkg, published.digest);
    const paths: string[] = [];
    for await (const e of reader.entries) paths.push(e.path);
    expect(paths).toEqual(["a.txt", "dir/b.txt", "dir/c.txt"]);
    expect(await readFile(cache.manifestPath(published.digest))).toEqual(published.manifest);
    const offline = await ensureManifest(null, cache, pkg, published.digest);
    expect(offline.header).toEqual(reader.header);
  });
});
