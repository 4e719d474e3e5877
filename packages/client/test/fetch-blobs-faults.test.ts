import { digestBytes, digestHex, type Digest } from "@dpkg/core";
import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Agent, MockAgent, type Dispatcher } from "undici";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ContentCache } from "../src/cache/content-cache.js";
import { fetchBlobs, type FetchProgress } from "../src/fetch-blobs.js";
import { RegistryClient } from "../src/registry-client.js";
import { makeTempDir, type TempDir } from "../../registry-server/test/helpers/temp-dir.js";
import { file, publish, type TestFile } from "./helpers/publish.js";
import { recordingDispatcher } from "./helpers/recording-dispatcher.js";
import { startTestRegistryServer, type TestRegistryServer } from "./helpers/registry-server.js";
import { rejection } from "./helpers/test-utils.js";

const KIB = 1024;
const MIB = 1024 * KIB;
const RANGE = 512 * KIB;
const tuning = { largeBlobBytes: 2 * MIB, rangeBytes: RANGE };
let seq = 0;

const wanted = (files: TestFile[]): { digest: Digest; size: number; path: string }[] =>
  files.map((f) => ({ digest: digestBytes(f.bytes), size: f.bytes.length, path: f.path }));

describe("fetchBlobs: damaged stores, interrupted and resumed downloads", () => {
  let registry: TestRegistryServer;
  let writer: RegistryClient;
  let dir: TempDir;
  let cache: ContentCache;
  const opened: { close(): Promise<void> }[] = [];
  /** A fresh package with these files. */
  const push = async (files: TestFile[]): Promise<{ namespace: string; name: string }> => {
    const pkg = { namespace: "lab", name: `p${++seq}` };
    await publish(writer, pkg, files, { largeBlobBytes: MIB });
    return pkg;
  };
  const reader = (dispatcher?: Dispatcher, attempts?: number): RegistryClient => {
    const c = new RegistryClient({ url: registry.url, token: registry.token, dispatcher, attempts });
    opened.push(c);
    return c;
  };

  beforeAll(async () => {
    registry = await startTestRegistryServer({ packBytes: 256 * KIB, largeBlobBytes: MIB });
    writer = new RegistryClient({ url: registry.url, token: registry.token });
  });
  afterAll(async () => {
    await writer.close();
    await registry.close();
  });
  beforeEach(async () => {
    dir = await makeTempDir("dpkg-fetch-faults");
    cache = new ContentCache(join(dir.path, "cache"));
  });
  afterEach(async () => {
    for (const c of opened.splice(0)) await c.close();
    await dir.cleanup();
  });

  /** Flips one byte of a blob where the folder store keeps it (its pack or its own object). */
  async function flipStoredByte(digest: Digest, at: number): Promise<void> {
    const hex = digestHex(digest);
    const own = join(registry.dataDir, "blobs", "blobs", hex.slice(0, 2), hex);
    let target = own;
    let offset = at;
    const found = await readFile(own).then(
      () => true,
      () => false,
    );
    if (!found) {
      const packs = join(registry.dataDir, "blobs", "packs");
      for (const shard of await readdir(packs)) {
        for (const name of (await readdir(join(packs, shard))).filter((n) => n.endsWith(".idx"))) {
          const lines = (await readFile(join(packs, shard, name), "utf8")).trim().split("\n");
          const hit = lines.map((l) => JSON.parse(l) as { digest: string; offset: number }).find((l) => l.digest === digest);
          if (hit !== undefined) {
            target = join(packs, shard, name.replace(/\.idx$/, ".pack"));
            offset = hit.offset + at;
          }
        }
      }
    }
    const handle = await open(target, "r+");
    try {
      const b = Buffer.alloc(1);
      await handle.read(b, 0, 1, offset);
      b[0] = b[0]! ^ 0xff;
      await handle.write(b, 0, 1, offset);
    } finally {
      await handle.close();
    }
  }

  it("rejects a flipped byte in a pack with E_INTEGRITY naming the entry, and caches nothing of it", async () => {
    const files = Array.from({ length: 10 }, (_, i) => file(`cells/${i}.tif`, randomBytes(5000 + i)));
    const pkg = await push(files);
    const victim = files[6]!;
    await flipStoredByte(digestBytes(victim.bytes), 100);
    const err = await rejection(fetchBlobs(reader(), cache, pkg, wanted(files)));
    expect(err.code).toBe("E_INTEGRITY");
    expect(err.message).toContain("cells/6.tif");
    expect(err.details.path).toBe("cells/6.tif");
    expect(await cache.hasBlob(digestBytes(victim.bytes))).toBe(false);
    expect(await readdir(cache.tmpDir)).toEqual([]);
  });

  it.each([
    { files: 3, victim: 0 },
    { files: 3, victim: 2 },
    { files: 12, victim: 11 },
    { files: 12, victim: 3 },
  ])("rejects a flipped byte in blob $victim of a pack read of $files, wherever its check ends among the writes in flight", async ({ files: n, victim }) => {
    const files = Array.from({ length: n }, (_, i) => file(`g/${i}.bin`, randomBytes(2500 + i)));
    const pkg = await push(files);
    await flipStoredByte(digestBytes(files[victim]!.bytes), 10);
    const err = await rejection(fetchBlobs(reader(), cache, pkg, wanted(files)));
    expect(err.code).toBe("E_INTEGRITY");
    expect(err.details.path).toBe(`g/${victim}.bin`);
    expect(await cache.hasBlob(digestBytes(files[victim]!.bytes))).toBe(false);
  });

  it("rejects a flipped byte in a large blob read in ranges, and deletes the partial download", async () => {
    const big = file("scans/big.raw", randomBytes(3 * MIB));
    const pkg = await push([big]);
    await flipStoredByte(digestBytes(big.bytes), 2 * MIB + 5);
    const err = await rejection(fetchBlobs(reader(), cache, pkg, wanted([big]), tuning));
    expect(err.code).toBe("E_INTEGRITY");
    expect(err.message).toContain("scans/big.raw");
    expect(await cache.hasBlob(digestBytes(big.bytes))).toBe(false);
    expect(await readdir(cache.partialDir)).toEqual([]);
  });

  it("resumes a partial large download: only the missing ranges are requested", async () => {
    const big = file("scans/resume.raw", randomBytes(3 * MIB + 123)); // 7 ranges, the last one 123 bytes
    const pkg = await push([big]);
    const digest = digestBytes(big.bytes);
    const done = [0, 1, 3];
    // What an interrupted run leaves: the bytes of finished ranges at their offsets, and the sidecar.
    await mkdir(cache.partialDir, { recursive: true });
    const data = Buffer.alloc(big.bytes.length);
    for (const i of done) data.set(big.bytes.subarray(i * RANGE, (i + 1) * RANGE), i * RANGE);
    await writeFile(join(cache.partialDir, digestHex(digest)), data);
    await writeFile(join(cache.partialDir, `${digestHex(digest)}.json`), JSON.stringify({ size: big.bytes.length, rangeBytes: RANGE, done }));

    const rec = recordingDispatcher();
    opened.push(rec);
    const progress: FetchProgress[] = [];
    const result = await fetchBlobs(reader(rec.dispatcher), cache, pkg, wanted([big]), { ...tuning, onProgress: (p) => progress.push(p) });
    expect(result).toEqual({ fetchedBlobs: 1, fetchedBytes: big.bytes.length - 3 * RANGE });
    const ranges = rec.objectReads().map((r) => r.range![0] / RANGE).sort((a, b) => a - b);
    expect(ranges).toEqual([2, 4, 5, 6]);
    expect(progress[0]!.bytes).toBe(3 * RANGE); // credited for what was already there
    expect(progress.at(-1)).toMatchObject({ bytes: big.bytes.length, totalBytes: big.bytes.length, blobs: 1 });
    expect(digestBytes(await readFile(cache.blobPath(digest)))).toBe(digest);
    expect(await readdir(cache.partialDir)).toEqual([]);
  });

  it("downloads a blob again when ranges resumed from an earlier run do not hold its bytes", async () => {
    const big = file("scans/crashed.raw", randomBytes(3 * MIB));
    const pkg = await push([big]);
    const digest = digestBytes(big.bytes);
    // After a crash of the machine, ranges recorded done may read back as zeros.
    await mkdir(cache.partialDir, { recursive: true });
    await writeFile(join(cache.partialDir, digestHex(digest)), Buffer.alloc(big.bytes.length));
    await writeFile(join(cache.partialDir, `${digestHex(digest)}.json`), JSON.stringify({ size: big.bytes.length, rangeBytes: RANGE, done: [0, 1] }));
    const rec = recordingDispatcher();
    opened.push(rec);
    const progress: FetchProgress[] = [];
    const result = await fetchBlobs(reader(rec.dispatcher), cache, pkg, wanted([big]), { ...tuning, onProgress: (p) => progress.push(p) });
    expect(result.fetchedBlobs).toBe(1);
    const ranges = rec.objectReads().map((r) => r.range![0] / RANGE).sort((a, b) => a - b);
    expect(ranges).toEqual([0, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
    expect(progress.at(-1)).toMatchObject({ bytes: big.bytes.length, blobs: 1 });
    expect(digestBytes(await readFile(cache.blobPath(digest)))).toBe(digest);
    expect(await readdir(cache.partialDir)).toEqual([]);
  });

  it("continues a range cut off in the middle from its first missing byte", async () => {
    const big = file("scans/halfway.raw", randomBytes(3 * MIB));
    const pkg = await push([big]);
    const cutRange = `bytes=${2 * RANGE}-${3 * RANGE - 1}`;
    const mock = new MockAgent();
    mock.enableNetConnect();
    opened.push(mock);
    mock
      .get(new URL(registry.url).origin)
      .intercept({ path: (p) => p.startsWith("/v1/objects/"), method: "GET", headers: { range: cutRange } })
      .reply(206, Buffer.from(big.bytes.subarray(2 * RANGE, 2 * RANGE + 1000)))
      .times(1);
    const { dispatcher: recording, rangeHeaders: ranges } = recordingDispatcher(mock);
    const result = await fetchBlobs(reader(recording), cache, pkg, wanted([big]), tuning);
    expect(result).toEqual({ fetchedBlobs: 1, fetchedBytes: big.bytes.length });
    expect(ranges.filter((r) => r.startsWith(`bytes=${2 * RANGE}`))).toEqual([cutRange]);
    expect(ranges).toContain(`bytes=${2 * RANGE + 1000}-${3 * RANGE - 1}`);
    expect(digestBytes(await readFile(cache.blobPath(digestBytes(big.bytes))))).toBe(digestBytes(big.bytes));
  });

  it("keeps the ranges of a download that failed and fetches only the rest next time", async () => {
    const big = file("scans/cut.raw", randomBytes(3 * MIB));
    const pkg = await push([big]);
    // The network "dies" for one range: its requests go to a port nobody listens on.
    const agent = new Agent();
    opened.push(agent);
    const failing = agent.compose((dispatch) => (opts, handler) => {
      const range = (opts.headers as Record<string, string> | undefined)?.range;
      const dead = range === `bytes=${4 * RANGE}-${5 * RANGE - 1}`;
      return dispatch(dead ? { ...opts, origin: "http://127.0.0.1:1" } : opts, handler);
    });
    const err = await rejection(fetchBlobs(reader(failing, 1), cache, pkg, wanted([big]), { ...tuning, attempts: 2, concurrency: 2 }));
    expect(err.code).toBe("E_NETWORK");
    expect(await cache.hasBlob(digestBytes(big.bytes))).toBe(false);
    const sidecar = JSON.parse(await readFile(join(cache.partialDir, `${digestHex(digestBytes(big.bytes))}.json`), "utf8")) as { done: number[] };
    expect(sidecar.done).not.toContain(4);

    const rec = recordingDispatcher();
    opened.push(rec);
    const result = await fetchBlobs(reader(rec.dispatcher), cache, pkg, wanted([big]), tuning);
    const fetched = rec.objectReads().map((r) => r.range![0] / RANGE);
    expect(fetched).toContain(4);
    expect(fetched.length).toBe(6 - sidecar.done.length);
    expect(result.fetchedBytes).toBe((6 - sidecar.done.length) * RANGE);
    expect(digestBytes(await readFile(cache.blobPath(digestBytes(big.bytes))))).toBe(digestBytes(big.bytes));
  });

  it("retries a truncated group read from the first blob it did not get", async () => {
    const files = Array.from({ length: 5 }, (_, i) => file(`t/${i}.bin`, randomBytes(20_000)));
    const pkg = await push(files);
    const { groups } = await writer.locations(pkg, wanted(files).map((w) => w.digest));
    expect(groups).toHaveLength(1);
    const group = groups[0]!;
    const firstBlob = files.find((f) => digestBytes(f.bytes) === group.blobs[0]!.digest)!;
    // The first response carries the first blob and half of the second, then ends.
    const mock = new MockAgent();
    mock.enableNetConnect();
    opened.push(mock);
    const origin = new URL(registry.url).origin;
    mock
      .get(origin)
      .intercept({ path: (p) => p.startsWith("/v1/objects/"), method: "GET" })
      .reply(206, Buffer.concat([firstBlob.bytes, randomBytes(10_000)]))
      .times(1);
    const { dispatcher: recording, rangeHeaders: ranges } = recordingDispatcher(mock);
    const result = await fetchBlobs(reader(recording), cache, pkg, wanted(files));
    expect(result.fetchedBlobs).toBe(5);
    expect(ranges).toEqual([`bytes=${group.start}-${group.end - 1}`, `bytes=${group.start + group.blobs[1]!.offset}-${group.end - 1}`]);
    for (const f of files) expect(digestBytes(await readFile(cache.blobPath(digestBytes(f.bytes))))).toBe(digestBytes(f.bytes));
  });

  it("lets two fetches of the same blobs into one cache run at once", async () => {
    const files = [file("x/big.raw", randomBytes(3 * MIB)), ...Array.from({ length: 20 }, (_, i) => file(`x/${i}`, randomBytes(3000)))];
    const pkg = await push(files);
    const [a, b] = await Promise.all([fetchBlobs(reader(), cache, pkg, wanted(files), tuning), fetchBlobs(reader(), cache, pkg, wanted(files), tuning)]);
    expect(a.fetchedBlobs + b.fetchedBlobs).toBeGreaterThanOrEqual(files.length);
    for (const f of files) expect(digestBytes(await readFile(cache.blobPath(digestBytes(f.bytes))))).toBe(digestBytes(f.bytes));
    expect(await readdir(cache.partialDir)).toEqual([]);
  });
});

describe("fetchBlobs: a truncated read from an object store's presigned URL", () => {
  let registry: TestRegistryServer;
  let dir: TempDir;
  beforeAll(async () => {
    registry = await startTestRegistryServer({ store: "s3" });
    dir = await makeTempDir("dpkg-fetch-s3-faults");
  });
  afterAll(async () => {
    await registry.close();
    await dir.cleanup();
  });

  it("reads the signed range again and skips the blobs it already stored", async () => {
    const writer = new RegistryClient({ url: registry.url, token: registry.token });
    const pkg = { namespace: "lab", name: "s3cut" };
    const files = Array.from({ length: 4 }, (_, i) => file(`s/${i}.bin`, randomBytes(30_000)));
    await publish(writer, pkg, files);
    const { groups } = await writer.locations(pkg, wanted(files).map((w) => w.digest));
    await writer.close();
    const group = groups[0]!;
    expect(groups).toHaveLength(1);
    expect(group.viaRegistry).toBe(false);
    const firstBlob = files.find((f) => digestBytes(f.bytes) === group.blobs[0]!.digest)!;

    const mock = new MockAgent();
    mock.enableNetConnect();
    mock
      .get(new URL(group.url).origin)
      .intercept({ path: (p) => p.includes("X-Amz-Signature"), method: "GET" })
      .reply(206, Buffer.concat([firstBlob.bytes, randomBytes(100)]))
      .times(1);
    const { dispatcher: recording, rangeHeaders: ranges } = recordingDispatcher(mock);
    const client = new RegistryClient({ url: registry.url, token: registry.token, dispatcher: recording });
    const cache = new ContentCache(join(dir.path, "cache"));
    try {
      const result = await fetchBlobs(client, cache, pkg, wanted(files));
      expect(result.fetchedBlobs).toBe(4);
      const whole = `bytes=${group.start}-${group.end - 1}`;
      expect(ranges).toEqual([whole, whole]);
      for (const f of files) expect(digestBytes(await readFile(cache.blobPath(digestBytes(f.bytes))))).toBe(digestBytes(f.bytes));
    } finally {
      await client.close();
      await mock.close();
    }
  });
});
