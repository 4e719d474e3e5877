import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DpkgError } from "@dpkg/core";
import { blobKey } from "../../src/blob-store/layout.js";
import { receiveBlob } from "../../src/push/receive-blob.js";
import { receivePack } from "../../src/push/receive-pack.js";
import { tarOf } from "../helpers/push-data.js";
import { blobsOfSizes, chunked, digestOf, listAll, makeStores, readObject, type Stores } from "./fixtures.js";

describe("receiveBlob", () => {
  let s: Stores;
  beforeEach(async () => {
    s = await makeStores();
  });
  afterEach(() => s.cleanup());
  const ctx = (namespace = "lab", size?: number) => ({ blobs: s.blobs, meta: s.meta, namespace, size });

  it("streams a blob into its own object and records it for the namespace", async () => {
    const [big] = blobsOfSizes(300_000);
    const d = digestOf(big!);
    const result = await receiveBlob(chunked(big!, 64 * 1024 + 3), d, ctx("lab", big!.length));
    expect(result).toEqual({ digest: d, size: big!.length, created: true, bytesWritten: big!.length });
    expect((await readObject(s.blobs, blobKey(d))).equals(big!)).toBe(true);
    expect(await s.meta.missingBlobs("lab", [d])).toEqual([]);
  });

  it("verifies but does not write again a blob that is stored, and grants it to another namespace", async () => {
    const [big] = blobsOfSizes(10_000);
    const d = digestOf(big!);
    await receiveBlob(chunked(big!), d, ctx());
    expect(await receiveBlob(chunked(big!), d, ctx())).toMatchObject({ created: false, bytesWritten: 0 });
    expect(await s.meta.missingBlobs("other", [d])).toEqual([d]);
    expect(await receiveBlob(chunked(big!), d, ctx("other"))).toMatchObject({ created: false, bytesWritten: 0 });
    expect(await s.meta.missingBlobs("other", [d])).toEqual([]);
    expect([...(await listAll(s.blobs)).keys()]).toEqual([blobKey(d)]);
  });

  it("verifies a blob the namespace holds inside a pack without storing a second copy", async () => {
    const [small, wrong] = blobsOfSizes(100, 100);
    const d = digestOf(small!);
    await receivePack(chunked(await tarOf([small!])), ctx());
    expect(await receiveBlob(chunked(small!), d, ctx())).toMatchObject({ created: false, size: 100 });
    await expect(receiveBlob(chunked(wrong!), d, ctx())).rejects.toMatchObject({ code: "E_INTEGRITY" });
    expect(await s.blobs.stat(blobKey(d))).toBeNull();
  });

  it("refuses bytes that do not hash to the digest: nothing is stored or recorded", async () => {
    const [claimed, sent] = blobsOfSizes(50_000, 50_000);
    const d = digestOf(claimed!);
    const err = await receiveBlob(chunked(sent!), d, ctx()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DpkgError);
    expect(err).toMatchObject({ code: "E_INTEGRITY", details: { expected: d, actual: digestOf(sent!) } });
    expect(await s.blobs.stat(blobKey(d))).toBeNull();
    expect(await s.meta.missingBlobs("lab", [d])).toEqual([d]);
    expect((await listAll(s.blobs)).size).toBe(0);
  });

  it("refuses more or fewer bytes than declared", async () => {
    const [big] = blobsOfSizes(5000);
    const d = digestOf(big!);
    await expect(receiveBlob(chunked(big!), d, ctx("lab", 4999))).rejects.toMatchObject({ code: "E_SIZE_MISMATCH" });
    await expect(receiveBlob(chunked(big!), d, ctx("lab", 5001))).rejects.toMatchObject({ code: "E_SIZE_MISMATCH" });
    expect(await s.blobs.stat(blobKey(d))).toBeNull();
  });

  it("refuses a malformed digest before reading anything", async () => {
    await expect(receiveBlob(chunked(Buffer.from("x")), "blake3:XYZ", ctx())).rejects.toMatchObject({
      code: "E_BAD_DIGEST",
    });
  });
});
