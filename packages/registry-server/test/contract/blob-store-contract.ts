import { randomBytes } from "node:crypto";
import { setImmediate as nextTick } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DpkgError, digestBytes, verifyStream } from "@dpkg/core";
import type { BlobStore } from "../../src/blob-store/blob-store.js";
import { blobKey, tagKey } from "../../src/blob-store/layout.js";

export interface StoreUnderTest {
  store: BlobStore;
  cleanup: () => Promise<void>;
}

const KIB = 1024;
const MIB = 1024 * KIB;
/** Above three 5 MiB parts (the part size the S3 tests use), and not a multiple of anything. */
const LARGE = 12 * MIB + 123;
const BAD_KEYS = ["", "/abs", "a//b", "a/", "../escape", "a/../../b", "a/./b", "..", "a\\b", ".tmp/x", "a/\u0000b"];

/**
 * The behaviour every BlobStore promises, run against each implementation with a fresh, empty store per
 * test. Nothing here knows which backend it talks to.
 */
export function blobStoreContract(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let store: BlobStore;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
    });
    afterEach(async () => {
      await cleanup();
    });

    it.each([0, 1, 100 * KIB])("round-trips %i bytes, from a buffer and from a stream", async (size) => {
      const data = randomBytes(size);
      expect(await store.put("a/buffer", data)).toEqual({ created: true, size });
      expect(await store.put("a/stream", chunked(data, 7 * KIB))).toEqual({ created: true, size });
      for (const key of ["a/buffer", "a/stream"]) {
        expectBytes(await readAll(await store.get(key)), data);
        const info = await store.stat(key);
        expect(info?.size).toBe(size);
        expect(info?.modified).toBeInstanceOf(Date);
        expect(Number.isNaN(info?.modified.getTime())).toBe(false);
      }
    });

    it("streams an object of several parts and reads ranges of it, across part boundaries too", async () => {
      const data = randomBytes(LARGE);
      expect(await store.put("big", chunked(data, 64 * KIB - 7))).toEqual({ created: true, size: LARGE });
      expectBytes(await readAll(await store.get("big")), data);
      expect((await store.stat("big"))?.size).toBe(LARGE);
      for (const [start, end] of [
        [0, 1],
        [5 * MIB - 10, 5 * MIB + 10],
        [LARGE - 3, LARGE],
        [0, LARGE],
      ] as const) {
        expectBytes(await readAll(await store.get("big", { start, end })), data.subarray(start, end));
      }
    });

    it("reads byte ranges, including empty ones, and rejects ranges outside the object", async () => {
      const data = randomBytes(1000);
      await store.put("obj", data);
      for (const [start, end] of [
        [0, 1],
        [10, 20],
        [990, 1000],
        [0, 1000],
        [500, 500],
        [1000, 1000],
      ] as const) {
        expectBytes(await readAll(await store.get("obj", { start, end })), data.subarray(start, end));
      }
      for (const [start, end] of [
        [990, 1001],
        [1000, 1001],
        [1001, 1001],
        [5, 4],
        [-1, 2],
        [0.5, 2],
      ] as const) {
        await expect(store.get("obj", { start, end })).rejects.toMatchObject({ code: "E_BAD_REQUEST" });
      }
    });

    it("reports a missing key as E_NOT_FOUND from get and null from stat; deleting it is fine", async () => {
      await expectCode(store.get("no/such/key"), "E_NOT_FOUND");
      await expectCode(store.get("no/such/key", { start: 0, end: 1 }), "E_NOT_FOUND");
      await expectCode(store.get("no/such/key", { start: 0, end: 0 }), "E_NOT_FOUND");
      expect(await store.stat("no/such/key")).toBeNull();
      await store.delete("no/such/key");
    });

    it("is write-once: a second put is a no-op that keeps the original bytes", async () => {
      const original = randomBytes(300);
      await store.put("once", original);
      expect(await store.put("once", randomBytes(500))).toEqual({ created: false, size: 300 });
      expect(await store.put("once", chunked(randomBytes(700), 100))).toEqual({ created: false, size: 300 });
      expectBytes(await readAll(await store.get("once")), original);
    });

    it("replaces an object when asked to overwrite (tag pointer files)", async () => {
      const key = tagKey({ namespace: "ns", name: "pkg" }, "latest");
      expect(await store.put(key, bytes('{"v":1}'), { overwrite: true })).toEqual({ created: true, size: 7 });
      expect(await store.put(key, bytes('{"v":22}'), { overwrite: true })).toEqual({ created: true, size: 8 });
      expect((await readAll(await store.get(key))).toString()).toBe('{"v":22}');
    });

    it.each([
      ["within the first part", 100 * KIB],
      ["after several parts", 11 * MIB],
    ])("leaves nothing visible and rethrows the same error when the source throws %s", async (_, failAfter) => {
      const boom = new Error("source broke");
      await expect(store.put("broken", failing(randomBytes(failAfter), boom))).rejects.toBe(boom);
      await expectNothingAt(store, "broken");

      const original = bytes("kept");
      await store.put("kept", original);
      await expect(store.put("kept", failing(randomBytes(failAfter), boom), { overwrite: true })).rejects.toBe(boom);
      expectBytes(await readAll(await store.get("kept")), original);
    });

    it.each([
      ["one part", 64 * KIB],
      ["several parts", LARGE],
    ])("never shows bytes that fail verifyStream (%s)", async (_, size) => {
      const data = randomBytes(size);
      const key = blobKey(digestBytes(data));
      const wrong = verifyStream(chunked(data, 256 * KIB), { digest: digestBytes("something else") });
      await expect(store.put(key, wrong)).rejects.toMatchObject({ code: "E_INTEGRITY" });
      await expectNothingAt(store, key);

      const right = verifyStream(chunked(data, 256 * KIB), { digest: digestBytes(data), size });
      expect(await store.put(key, right)).toEqual({ created: true, size });
    });

    it("lets concurrent puts of one key race safely: one wins whole, the others are no-ops", async () => {
      const contents = Array.from({ length: 6 }, () => randomBytes(200 * KIB));
      const results = await Promise.all(contents.map((data) => store.put("raced", chunked(data, 16 * KIB, true))));
      const winners = results.flatMap((r, i) => (r.created ? [i] : []));
      expect(winners).toHaveLength(1);
      expect(results.every((r) => r.size === 200 * KIB)).toBe(true);
      expectBytes(await readAll(await store.get("raced")), contents[winners[0] ?? 0] ?? Buffer.alloc(0));
    });

    it("lists every key under a prefix, deep ones included, with sizes", async () => {
      const pkg = { namespace: "ns", name: "pkg" };
      const keys = [
        tagKey(pkg, "latest"),
        tagKey(pkg, "v1"),
        tagKey(pkg, "v2"),
        tagKey({ ...pkg, name: "pkg2" }, "v1"),
      ];
      const blob = blobKey(digestBytes("x"));
      await Promise.all([...keys, blob].map((key, i) => store.put(key, randomBytes(i + 1))));

      expect(await listed(store, "")).toEqual(new Map([...keys, blob].map((key, i) => [key, i + 1])));
      expect([...(await listed(store, "refs/ns/pkg/")).keys()].sort()).toEqual(keys.slice(0, 3).sort());
      expect([...(await listed(store, "refs/ns/pkg/tags/v")).keys()].sort()).toEqual(keys.slice(1, 3).sort());
      expect([...(await listed(store, "refs/ns/pkg")).keys()].sort()).toEqual([...keys].sort());
      expect((await listed(store, "nothing/here/")).size).toBe(0);
      for await (const entry of store.list("blobs/")) expect(entry.modified).toBeInstanceOf(Date);
    });

    // Listing is what this test is about: overwrite skips the HEAD before each write, halving the requests.
    it("lists more than 1,000 keys (paginated)", { timeout: 60_000 }, async () => {
      const keys = Array.from({ length: 1050 }, (_, i) => `many/${String(i).padStart(4, "0")}`);
      await mapLimit(keys, 16, (key) => store.put(key, bytes(key), { overwrite: true }));
      const all = await listed(store, "many/");
      expect(all.size).toBe(1050);
      expect([...all.keys()].sort()).toEqual(keys);
      expect((await listed(store, "many/10")).size).toBe(50);
    });

    it("deletes, after which the key is gone and can be written again", async () => {
      await store.put("doomed", bytes("first"));
      await store.delete("doomed");
      await expectNothingAt(store, "doomed");
      await store.delete("doomed");
      expect(await store.put("doomed", bytes("second"))).toEqual({ created: true, size: 6 });
      expect((await readAll(await store.get("doomed"))).toString()).toBe("second");
    });

    it("rejects keys that are not relative, clean paths", async () => {
      for (const key of BAD_KEYS) {
        await expectCode(store.put(key, bytes("x")), "E_BAD_REQUEST");
        await expectCode(store.get(key), "E_BAD_REQUEST");
        await expectCode(store.stat(key), "E_BAD_REQUEST");
        await expectCode(store.delete(key), "E_BAD_REQUEST");
        await expectCode(store.presignGet(key, 60), "E_BAD_REQUEST");
      }
      await expectCode(listed(store, "../"), "E_BAD_REQUEST");
      expect((await listed(store, "")).size).toBe(0);
    });

    it("describes itself", () => {
      expect(store.describe()).toMatch(/\S/);
    });
  });
}

function bytes(text: string): Buffer {
  return Buffer.from(text);
}

/** Compares by length and digest: a diff of megabytes helps nobody, and toEqual on them is slow. */
export function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  const summary = (b: Uint8Array): { length: number; digest: string } => ({
    length: b.byteLength,
    digest: digestBytes(b),
  });
  expect(summary(actual)).toEqual(summary(expected));
}

/** Yields `data` in `size`-byte chunks; `interleave` yields to the event loop between them. */
export async function* chunked(data: Uint8Array, size: number, interleave = false): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < data.byteLength; at += size) {
    if (interleave) await nextTick();
    yield data.subarray(at, at + size);
  }
}

async function* failing(data: Uint8Array, error: Error): AsyncGenerator<Uint8Array> {
  yield* chunked(data, 256 * KIB);
  throw error;
}

export async function readAll(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function listed(store: BlobStore, prefix: string): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for await (const { key, size } of store.list(prefix)) found.set(key, size);
  return found;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(DpkgError);
  expect(error).toMatchObject({ code });
}

async function expectNothingAt(store: BlobStore, key: string): Promise<void> {
  expect(await store.stat(key)).toBeNull();
  await expectCode(store.get(key), "E_NOT_FOUND");
  expect((await listed(store, "")).has(key)).toBe(false);
}

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}
