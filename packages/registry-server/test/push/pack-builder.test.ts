import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PACKS_PREFIX } from "../../src/blob-store/layout.js";
import { createPackBuilder } from "../../src/push/pack-builder.js";
import { blobsOfSizes, digestOf, listAll, makeStores, type Stores } from "./fixtures.js";

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

  it("drains nothing when nothing was added", async () => {
    const pack = createPackBuilder({ blobs: s.blobs, meta: s.meta, namespace: "lab" });
    await pack.flush();
    expect(await pack.drain()).toBe(0);
    expect((await listAll(s.blobs)).size).toBe(0);
  });
});
