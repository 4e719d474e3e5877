import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PACKS_PREFIX, packKey } from "../../src/blob-store/layout.js";
import { PartPool } from "../../src/blob-store/part-pool.js";
import { createPackBuilder } from "../../src/push/pack-builder.js";
import { blobsOfSizes, digestOf, listAll, makeStores, readObject, type Stores } from "./fixtures.js";

describe("createPackBuilder", () => {
  let s: Stores;
  beforeEach(async () => {
    s = await makeStores();
  });
  afterEach(() => s.cleanup());

  it("stores packs in the background while the next one fills, and records them all by drain", async () => {
    const stored: number[] = [];
    const pack = createPackBuilder({ blobs: s.blobs, meta: s.meta, namespace: "lab", maxStoring: 2, onStored: (l) => stored.push(l.length) });
    const blobs = blobsOfSizes(100, 200, 300, 400, 500);
    const digests = blobs.map(digestOf);

    pack.add(digests[0]!, blobs[0]!);
    pack.add(digests[1]!, blobs[1]!);
    await pack.flush();
    // The flush returned once the store started: the pack is out of the buffer, still known, not yet recorded.
    expect(pack.bytes).toBe(0);
    expect(pack.has(digests[0]!)).toBe(true);
    expect(await s.meta.missingBlobs("lab", digests.slice(0, 2))).toEqual(digests.slice(0, 2));

    pack.add(digests[2]!, blobs[2]!);
    await pack.flush();
    pack.add(digests[3]!, blobs[3]!);
    pack.add(digests[4]!, blobs[4]!);
    pack.add(digests[4]!, blobs[4]!); // a blob added twice is packed once
    expect(pack.bytes).toBe(900);

    const written = await pack.drain();
    expect(stored.sort()).toEqual([1, 2, 2]);
    expect(await s.meta.missingBlobs("lab", digests)).toEqual([]);
    const objects = await listAll(s.blobs, PACKS_PREFIX);
    expect(objects.size).toBe(6); // three packs and their indexes
    expect(written).toBe([...objects.values()].reduce((n, o) => n + o.size, 0));
    expect(pack.has(digests[0]!)).toBe(false);
  });

  it("builds packs across its buffers, names them by their bytes and takes the buffers back once stored", async () => {
    const pool = new PartPool(64, 8);
    const taken: Buffer[] = [];
    const take = pool.take.bind(pool);
    pool.take = () => {
      const buffer = take();
      taken.push(buffer);
      return buffer;
    };
    const pack = createPackBuilder({ blobs: s.blobs, meta: s.meta, namespace: "lab", buffers: pool });
    // Blobs that fill a buffer exactly, straddle buffers, span a whole buffer, and are empty.
    const blobs = blobsOfSizes(64, 10, 100, 0, 30, 200);
    for (const blob of blobs) pack.add(digestOf(blob), blob);
    await pack.drain();

    const packs = [...(await listAll(s.blobs, PACKS_PREFIX)).keys()].filter((k) => k.endsWith(".pack"));
    expect(packs).toHaveLength(1);
    const bytes = await readObject(s.blobs, packs[0]!);
    expect(bytes).toEqual(Buffer.concat(blobs));
    expect(packs[0]).toBe(packKey(digestOf(bytes)));
    expect(taken).toHaveLength(Math.ceil(bytes.length / 64));
    // Every buffer went back to the pool: the next ones taken are the same memory.
    const again = new Set(Array.from({ length: taken.length }, () => take().buffer));
    expect(again).toEqual(new Set(taken.map((b) => b.buffer)));
  });

  it("drains nothing when nothing was added", async () => {
    const pack = createPackBuilder({ blobs: s.blobs, meta: s.meta, namespace: "lab" });
    await pack.flush();
    expect(await pack.drain()).toBe(0);
    expect((await listAll(s.blobs)).size).toBe(0);
  });
});
