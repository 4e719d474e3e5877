import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DpkgError, digestHex, type Digest } from "@dpkg/core";
import { blobKey, PACKS_PREFIX, parseKey } from "../../src/blob-store/layout.js";
import { readPackIndex } from "../../src/push/pack-index.js";
import { receivePack, type ReceivePackContext } from "../../src/push/receive-pack.js";
import { tarOf } from "../helpers/push-data.js";
import {
  blobsOfSizes,
  chunked,
  digestOf,
  listAll,
  makeStores,
  readObject,
  tarOfMembers,
  type Stores,
} from "./fixtures.js";

describe("receivePack", () => {
  let s: Stores;
  let ctx: ReceivePackContext;
  beforeEach(async () => {
    s = await makeStores();
    ctx = { blobs: s.blobs, meta: s.meta, namespace: "lab", packBytes: 3000, largeBlobBytes: 2000 };
  });
  afterEach(() => s.cleanup());

  /** Every blob each pack's index lists, read back from the pack through its range. */
  async function packedBlobs(): Promise<Map<Digest, Buffer>> {
    const out = new Map<Digest, Buffer>();
    for (const [key, object] of await listAll(s.blobs, PACKS_PREFIX)) {
      const parsed = parseKey(key);
      if (parsed.kind !== "pack") continue;
      const entries = await readPackIndex(s.blobs, parsed.digest, object.size);
      expect(object.size).toBeLessThanOrEqual(3000);
      for (const e of entries)
        out.set(e.digest, await readObject(s.blobs, key, { start: e.offset, end: e.offset + e.size }));
    }
    return out;
  }

  it("cuts verified small blobs into packs, streams large ones whole, and records them all", async () => {
    const data = blobsOfSizes(0, 10, 900, 1200, 1999, 2000, 5000, 700, 1);
    const tar = await tarOf(data, (b) => (b.length % 2 === 0 ? digestOf(b) : digestHex(digestOf(b))));
    const result = await receivePack(chunked(tar), ctx);

    expect(result.stored).toEqual(data.map((b) => ({ digest: digestOf(b), size: b.length })));
    const packed = await packedBlobs();
    for (const b of data) {
      if (b.length < 2000) expect(packed.get(digestOf(b))).toEqual(b);
      else expect(await readObject(s.blobs, blobKey(digestOf(b)))).toEqual(b);
    }
    expect(packed.size).toBe(7);
    const objects = await listAll(s.blobs);
    expect(result.bytesWritten).toBe([...objects.values()].reduce((n, o) => n + o.size, 0));
    expect(await s.meta.missingBlobs("lab", data.map(digestOf))).toEqual([]);
    expect(await s.meta.missingBlobs("other", data.map(digestOf))).toHaveLength(data.length);
  });

  it("stores a blob sent twice once, and writes nothing for blobs the namespace already holds", async () => {
    const [a, b, big] = blobsOfSizes(100, 200, 4000);
    const first = await receivePack(chunked(await tarOf([a!, b!, a!, big!, big!])), ctx);
    expect(first.stored.map((x) => x.digest)).toEqual([a, b, big].map((x) => digestOf(x!)));
    expect([...(await packedBlobs()).keys()]).toEqual([digestOf(a!), digestOf(b!)]);
    const before = await listAll(s.blobs);

    const again = await receivePack(chunked(await tarOf([b!, big!, a!])), ctx);
    expect(again).toEqual({
      stored: [b, big, a].map((x) => ({ digest: digestOf(x!), size: x!.length })),
      bytesWritten: 0,
    });
    expect([...(await listAll(s.blobs)).keys()]).toEqual([...before.keys()]);
  });

  it("grants a namespace a blob another namespace stored, once it has sent the bytes", async () => {
    const [small, big] = blobsOfSizes(100, 4000);
    await receivePack(chunked(await tarOf([small!, big!])), ctx);
    const other = await receivePack(chunked(await tarOf([small!, big!])), { ...ctx, namespace: "other" });
    expect(other.stored).toHaveLength(2);
    expect(await s.meta.missingBlobs("other", [digestOf(small!), digestOf(big!)])).toEqual([]);
  });

  it("sorts members in batches: packs only new blobs, grants what another namespace stored, verifies the rest", async () => {
    const [held, elsewhere1, elsewhere2, n1, n2, n3] = blobsOfSizes(400, 400, 400, 400, 400, 400);
    await receivePack(chunked(await tarOf([elsewhere1!, elsewhere2!])), { ...ctx, namespace: "other" });
    await receivePack(chunked(await tarOf([held!])), ctx);
    const before = await packedBlobs();
    expect(before.size).toBe(3);

    // Batches of at most packBytes / 2 = 1500 bytes: the members are sorted in three batches.
    const upload = [held!, elsewhere1!, n1!, n2!, held!, elsewhere2!, n3!];
    const result = await receivePack(chunked(await tarOf(upload)), ctx);
    expect(result.stored.map((b) => b.digest)).toEqual([held, elsewhere1, n1, n2, elsewhere2, n3].map((b) => digestOf(b!)));
    const after = await packedBlobs();
    expect([...after.keys()].filter((d) => !before.has(d)).sort()).toEqual([n1, n2, n3].map((b) => digestOf(b!)).sort());
    expect(await s.meta.missingBlobs("lab", upload.map(digestOf))).toEqual([]);
  });

  it.each([
    ["small", 100],
    ["large", 4000],
  ])("refuses a %s member whose bytes do not hash to its name, and stores nothing under it", async (_, size) => {
    const [good, claimed, sent] = blobsOfSizes(50, size, size);
    const lie = digestOf(claimed!);
    const tar = await tarOfMembers([
      { name: digestOf(good!), bytes: good },
      { name: lie, bytes: sent },
    ]);
    const err = await receivePack(chunked(tar), ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DpkgError);
    expect(err).toMatchObject({ code: "E_INTEGRITY", details: { expected: lie, actual: digestOf(sent!) } });
    expect((err as Error).message).toContain(digestHex(lie));

    expect(await s.blobs.stat(blobKey(lie))).toBeNull();
    expect(await s.blobs.stat(blobKey(digestOf(sent!)))).toBeNull();
    expect((await packedBlobs()).size).toBe(0);
    expect(await s.meta.missingBlobs("lab", [lie, digestOf(good!)])).toEqual([lie, digestOf(good!)]);
  });

  it("verifies the bytes of a blob the namespace already holds", async () => {
    const [a, other] = blobsOfSizes(100, 100);
    await receivePack(chunked(await tarOf([a!])), ctx);
    const tar = await tarOfMembers([{ name: digestOf(a!), bytes: other }]);
    await expect(receivePack(chunked(tar), ctx)).rejects.toMatchObject({ code: "E_INTEGRITY" });
  });

  it.each([
    ["a name that is not a digest", { name: "data/file.txt", bytes: Buffer.from("x") }],
    ["an upper-case digest", { name: "A".repeat(64), bytes: Buffer.from("x") }],
    ["a directory", { name: "d".repeat(64), type: "directory" as const }],
    ["a symlink", { name: "e".repeat(64), type: "symlink" as const }],
  ])("refuses %s with E_BAD_REQUEST naming the member", async (_, member) => {
    const [good] = blobsOfSizes(10);
    const tar = await tarOfMembers([{ name: digestOf(good!), bytes: good }, member]);
    const err = await receivePack(chunked(tar), ctx).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "E_BAD_REQUEST", details: { member: member.name } });
    expect((err as Error).message).toContain(member.name);
    expect((await listAll(s.blobs)).size).toBe(0);
  });

  it("refuses a truncated tar, keeping the packs flushed before the break, and a retry resumes", async () => {
    const data = blobsOfSizes(1500, 1400, 1300, 1200, 2500);
    const tar = await tarOf(data);
    // Cut inside the large last member, which starts after four 512-byte-padded small members and headers.
    const cut = tar.subarray(0, tar.length - 1024 - 1000);
    const err = await receivePack(chunked(cut), ctx).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "E_BAD_REQUEST" });
    expect((err as Error).message).toMatch(/truncated/);

    const digests = data.map(digestOf);
    const missing = await s.meta.missingBlobs("lab", digests);
    // Packs of at most 3000 bytes: [1500, 1400] was flushed when 1300 arrived; [1300, 1200] was still in memory.
    expect(missing).toEqual(digests.slice(2));
    expect(await s.blobs.stat(blobKey(digests[4]!))).toBeNull();

    const retry = await receivePack(chunked(tar), ctx);
    expect(retry.stored).toHaveLength(5);
    expect(await s.meta.missingBlobs("lab", digests)).toEqual([]);
    expect(retry.bytesWritten).toBeLessThan(data.reduce((n, b) => n + b.length, 0));
  });

  it("refuses a tar cut inside a small member or a header, storing nothing of it", async () => {
    const data = blobsOfSizes(100, 900);
    const tar = await tarOf(data);
    for (const end of [512 + 512 + 100, 512 + 512 + 512 + 300, 600]) {
      await expect(receivePack(chunked(tar.subarray(0, end)), ctx)).rejects.toMatchObject({ code: "E_BAD_REQUEST" });
    }
    expect((await listAll(s.blobs)).size).toBe(0);
  });

  it("refuses bytes that are not a tar", async () => {
    const err = await receivePack(chunked(Buffer.alloc(2048, 0x41)), ctx).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "E_BAD_REQUEST" });
  });

  it("passes a failing body's own error through, storing nothing of the member it broke", async () => {
    const [big] = blobsOfSizes(50_000);
    const tar = await tarOf([big!]);
    const broken = new DpkgError("E_NETWORK", "client went away");
    async function* body(): AsyncGenerator<Uint8Array> {
      yield tar.subarray(0, 20_000);
      throw broken;
    }
    await expect(receivePack(body(), ctx)).rejects.toBe(broken);
    expect(await s.blobs.stat(blobKey(digestOf(big!)))).toBeNull();
  });

  it("stops reading a body it refused, so that its sender is not left pushing bytes nobody reads", async () => {
    let closed = false;
    async function* endless(): AsyncGenerator<Uint8Array> {
      try {
        yield Buffer.alloc(512, 0x41); // not a tar header
        for (;;) yield Buffer.alloc(64 * 1024);
      } finally {
        closed = true;
      }
    }
    await expect(receivePack(endless(), ctx)).rejects.toMatchObject({ code: "E_BAD_REQUEST" });
    expect(closed).toBe(true);
  });

  it("accepts an empty tar", async () => {
    expect(await receivePack(chunked(await tarOf([])), ctx)).toEqual({ stored: [], bytesWritten: 0 });
  });
});
