import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { S3BlobStore } from "../../src/blob-store/s3-blob-store.js";
import { blobKey } from "../../src/blob-store/layout.js";
import { gc } from "../../src/lifecycle/gc.js";
import { reindex } from "../../src/lifecycle/reindex.js";
import { verify } from "../../src/lifecycle/verify.js";
import type { MetadataStore } from "../../src/metadata/metadata-store.js";
import { openSqliteMetadataStore } from "../../src/metadata/sqlite/sqlite-metadata-store.js";
import { receiveBlob } from "../../src/push/receive-blob.js";
import { receivePack } from "../../src/push/receive-pack.js";
import { createTestBucket, S3RVER_CREDENTIALS, S3RVER_REGION } from "../helpers/s3rver.js";
import { tarOf } from "../helpers/push-data.js";
import { blobsOfSizes, chunked, digestOf, readObject } from "./fixtures.js";

const MIB = 1024 * 1024;

/** The same upload and lifecycle paths against S3 (s3rver), where large blobs take multipart uploads. */
describe("push and lifecycle on S3", () => {
  let blobs: S3BlobStore;
  let meta: MetadataStore;
  beforeAll(async () => {
    const endpoint = inject("s3Endpoint");
    const bucket = await createTestBucket(endpoint);
    blobs = new S3BlobStore({
      endpoint,
      bucket,
      region: S3RVER_REGION,
      credentials: S3RVER_CREDENTIALS,
      forcePathStyle: true,
      partSize: 5 * MIB,
    });
    meta = openSqliteMetadataStore(":memory:");
  });
  afterAll(async () => {
    await meta.close();
    blobs.close();
  });

  it("packs small blobs, streams a multipart large one, refuses a lie, and verifies and reindexes from S3", async () => {
    const [a, b, big, claimed, sent] = blobsOfSizes(1000, 2000, 11 * MIB + 5, 6 * MIB, 6 * MIB);
    const ctx = { blobs, meta, namespace: "lab", packBytes: 64 * 1024, largeBlobBytes: 4 * MIB };
    const result = await receivePack(chunked(await tarOf([a!, b!, big!]), 256 * 1024), ctx);
    expect(result.stored.map((x) => x.digest)).toEqual([a, b, big].map((x) => digestOf(x!)));
    // Buffer.equals, not toEqual: a deep comparison of 11 MiB element by element takes minutes.
    expect((await readObject(blobs, blobKey(digestOf(big!)))).equals(big!)).toBe(true);

    const lie = digestOf(claimed!);
    await expect(receiveBlob(chunked(sent!, 256 * 1024), lie, ctx)).rejects.toMatchObject({ code: "E_INTEGRITY" });
    expect(await blobs.stat(blobKey(lie))).toBeNull();
    expect(await meta.missingBlobs("lab", [lie])).toEqual([lie]);

    const scrub = await verify({ blobs, meta });
    expect(scrub).toMatchObject({ blobs: 1, packs: 1, packedBlobs: 2, problems: [] });
    const fresh = openSqliteMetadataStore(":memory:");
    try {
      expect(await reindex({ blobs, meta: fresh })).toMatchObject({ packs: 1, packedBlobs: 2, blobs: 1, problems: [] });
    } finally {
      await fresh.close();
    }
    // Nothing references the uploads: past the grace period they are garbage.
    const later = new Date(Date.now() + 25 * 3600 * 1000);
    expect((await gc({ blobs, meta, now: later })).garbage).toHaveLength(3);
  });

  it("stores a pack built across several part-sized buffers as a multipart upload of those buffers", async () => {
    // 3 MiB blobs in 5 MiB buffers: blobs straddle buffers, and the pack ends inside its third buffer.
    const small = blobsOfSizes(3 * MIB, 3 * MIB, 3 * MIB, 3 * MIB - 7);
    const ctx = { blobs, meta, namespace: "parts", packBytes: 64 * MIB, largeBlobBytes: 4 * MIB };
    const result = await receivePack(chunked(await tarOf(small), 256 * 1024), ctx);
    expect(result.stored).toHaveLength(4);
    expect(await meta.missingBlobs("parts", small.map(digestOf))).toEqual([]);
    const scrub = await verify({ blobs, meta });
    expect(scrub.problems).toEqual([]);
    const listed = [];
    for await (const o of blobs.list("packs/")) if (o.key.endsWith(".pack") && o.size === 12 * MIB - 7) listed.push(o.key);
    expect(listed).toHaveLength(1);
    expect((await readObject(blobs, listed[0]!)).equals(Buffer.concat(small))).toBe(true);
  });
});
