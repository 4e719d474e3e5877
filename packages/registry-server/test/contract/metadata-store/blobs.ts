import { expect, it } from "vitest";
import type { MetadataStore } from "../../../src/metadata/metadata-store.js";
import { at, blob, entry, pkgA, pkgB, pkgC, push, rejection, stage, upload } from "./fixtures.js";

export function blobsContract(store: () => MetadataStore): void {
  it("reports blobs missing per namespace: no location, or never proven by that namespace", async () => {
    const [a, b, c] = [blob("a"), blob("b"), blob("c")];
    expect(await store().missingBlobs("lab", [a, b, a])).toEqual([a, b]);
    await store().recordBlobs("lab", [{ digest: a, size: 3, key: "packs/p1.pack", start: 0, end: 3 }]);
    expect(await store().missingBlobs("lab", [a, b])).toEqual([b]);
    expect(await store().missingBlobs("corp", [a, b])).toEqual([a, b]);
    // A second location of the same blob, recorded by another namespace, grants that one too.
    await store().recordBlobs("corp", [{ digest: a, size: 3, key: "blobs/a", start: 0, end: 3 }]);
    expect(await store().missingBlobs("corp", [c, a])).toEqual([c]);
    expect(await store().missingBlobs("lab", [])).toEqual([]);
  });

  it("answers for thousands of digests in one call", async () => {
    const digests = Array.from({ length: 5_000 }, (_, i) => blob(`n${i}`));
    const stored = digests.filter((_, i) => i % 3 === 0);
    await store().recordBlobs(
      "lab",
      stored.map((digest, i) => ({ digest, size: 1, key: "packs/big.pack", start: i, end: i + 1 })),
    );
    expect(await store().missingBlobs("lab", digests)).toEqual(digests.filter((_, i) => i % 3 !== 0));
  });

  it("lists a staged manifest's blobs the namespace cannot commit, up to a limit", async () => {
    const entries = [entry("x"), entry("y"), entry("z")];
    const digest = await stage(store(), entries);
    expect((await store().missingBlobsOfManifest(digest, "lab", 10)).sort()).toEqual(
      entries.map((e) => e.digest).sort(),
    );
    expect(await store().missingBlobsOfManifest(digest, "lab", 2)).toHaveLength(2);
    await upload(store(), "lab", entries.slice(0, 2));
    await upload(store(), "corp", entries.slice(2));
    expect(await store().missingBlobsOfManifest(digest, "lab", 10)).toEqual([entries[2]?.digest]);
    expect((await store().missingBlobsOfManifest(digest, "corp", 10)).sort()).toEqual(
      entries
        .slice(0, 2)
        .map((e) => e.digest)
        .sort(),
    );
  });

  it("gives locations only of blobs that a revision of the package names", async () => {
    const mine = entry("mine.bin", 4);
    const theirs = entry("theirs.bin", 5);
    await push(store(), pkgA, [mine]);
    await push(store(), pkgC, [theirs]);
    await store().recordBlobs("lab", [{ digest: mine.digest, size: 4, key: "packs/q.pack", start: 10, end: 14 }]);
    const unreferenced = blob("uploaded, never committed");
    await store().recordBlobs("lab", [{ digest: unreferenced, size: 1, key: "blobs/u", start: 0, end: 1 }]);

    const got = await store().blobLocations(pkgA, [mine.digest, theirs.digest, unreferenced, mine.digest]);
    expect(got.sort((x, y) => x.key.localeCompare(y.key))).toEqual([
      { digest: mine.digest, size: 4, key: `blobs/${mine.digest.slice(7)}`, start: 0, end: 4 },
      { digest: mine.digest, size: 4, key: "packs/q.pack", start: 10, end: 14 },
    ]);
    expect(await store().blobLocations(pkgB, [mine.digest])).toEqual([]);
    expect(await store().blobLocations({ namespace: "lab", name: "ghost" }, [mine.digest])).toEqual([]);
  });

  it("keeps objects that staged or committed manifests need, and forgets deleted objects", async () => {
    const committed = entry("c.bin", 1);
    const staged = entry("s.bin", 1);
    await push(store(), pkgA, [committed]);
    await upload(store(), "lab", [staged]);
    await stage(store(), [staged]);
    await store().recordBlobs("lab", [{ digest: blob("garbage"), size: 2, key: "packs/dead.pack", start: 0, end: 2 }]);
    const live = await store().liveObjectKeys();
    expect([...live].sort()).toEqual([`blobs/${committed.digest.slice(7)}`, `blobs/${staged.digest.slice(7)}`].sort());

    // Only what no manifest names is marked: the staged blob's object is live again by the time gc acts.
    const now = new Date();
    expect(await store().markDeleting(["packs/dead.pack", `blobs/${staged.digest.slice(7)}`], now)).toEqual(["packs/dead.pack"]);
    expect(await store().missingBlobs("lab", [staged.digest, committed.digest, blob("garbage")])).toEqual([blob("garbage")]);
    expect(await store().markDeleting([], now)).toEqual([]);
  });

  it("refuses locations in objects gc is deleting, or began deleting after the writer's ticket", async () => {
    const dead = { digest: blob("dead"), size: 2, key: "packs/dead.pack", start: 0, end: 2 };
    const ticket = await store().objectWriteTicket(dead.key);
    await store().recordBlobs("lab", [dead], ticket);
    expect(await store().markDeleting([dead.key], new Date())).toEqual([dead.key]);
    expect(await store().unfinishedDeletions()).toEqual([dead.key]);
    // While gc deletes it: no ticket, and no location even without one.
    await rejection(store().objectWriteTicket(dead.key), "E_UNAVAILABLE");
    await rejection(store().recordBlobs("lab", [dead]), "E_UNAVAILABLE");
    await store().markDeleted([dead.key], new Date());
    expect(await store().unfinishedDeletions()).toEqual([]);
    // A writer whose ticket predates the deletion may have "stored" into the object gc then removed.
    await rejection(store().recordBlobs("lab", [dead], ticket), "E_UNAVAILABLE");
    expect(await store().missingBlobs("lab", [dead.digest])).toEqual([dead.digest]);
    // A writer that starts afterwards writes the object afresh.
    await store().recordBlobs("lab", [dead], await store().objectWriteTicket(dead.key));
    expect(await store().missingBlobs("lab", [dead.digest])).toEqual([]);
  });

  it("tells which blobs are stored for any namespace, and grants only those to another one", async () => {
    const [a, b] = [blob("stored-a"), blob("never-b")];
    await store().recordBlobs("lab", [{ digest: a, size: 1, key: "packs/s.pack", start: 0, end: 1 }]);
    expect(await store().storedBlobs([b, a, a])).toEqual([a]);
    expect(await store().grantStored("corp", [a, b])).toEqual([a]);
    expect(await store().missingBlobs("corp", [a, b])).toEqual([b]);
  });

  it("reports entries whose declared size is not their stored blob's", async () => {
    const [right, wrong, unstored] = [entry("right.bin", 4), entry("wrong.bin", 5), entry("unstored.bin", 6)];
    await upload(store(), "lab", [right, wrong]);
    const digest = await stage(store(), [right, { ...wrong, size: 9 }, unstored]);
    expect(await store().sizeMismatchesOfManifest(digest, 10)).toEqual([
      { path: "wrong.bin", digest: wrong.digest, declared: 9, stored: 5 },
    ]);
    expect(await store().sizeMismatchesOfManifest(digest, 0)).toEqual([]);
  });

  it("reports every path naming a wrongly sized blob, in path order, up to the limit", async () => {
    const wrong = entry("z.bin", 5);
    await upload(store(), "lab", [wrong]);
    const digest = await stage(store(), [
      { ...wrong, path: "b.bin", size: 9 },
      { ...wrong, path: "a.bin", size: 9 },
      { ...wrong, path: "c.bin", size: 5 },
    ]);
    const found = { digest: wrong.digest, declared: 9, stored: 5 };
    expect(await store().sizeMismatchesOfManifest(digest, 10)).toEqual([
      { path: "a.bin", ...found },
      { path: "b.bin", ...found },
    ]);
    expect(await store().sizeMismatchesOfManifest(digest, 1)).toEqual([{ path: "a.bin", ...found }]);
  });

  it("imports revisions and tags from the bucket idempotently, granting the namespace their blobs", async () => {
    const entries = [entry("r.csv", 7)];
    const digest = await stage(store(), entries, { title: "Imported", description: "from the bucket" });
    const record = {
      namespace: "lab",
      name: "cells",
      digest,
      parent: null,
      message: "orig",
      author: "zoe",
      createdAt: at(5),
      entryCount: 1,
      totalSize: 7,
    };
    await store().importRevision(record);
    await store().importRevision(record);
    await store().importRevision({ ...record, createdAt: at(1), message: "older" });
    expect(await store().listRevisions(pkgA, { limit: 10 })).toEqual([
      record,
      { ...record, createdAt: at(1), message: "older" },
    ]);
    const move = { tag: "latest", from: null, to: digest, by: "zoe", at: at(5) };
    await store().importTag(pkgA, move);
    await store().importTag(pkgA, move);
    const info = await store().getPackage(pkgA);
    expect(info).toMatchObject({
      meta: { title: "Imported", description: "from the bucket" },
      tags: { latest: digest },
    });
    expect(info?.createdAt).toEqual(at(1));
    expect(await store().tagHistory(pkgA)).toEqual([move]);
    expect(await store().pendingOutbox(10)).toEqual([]);
    // Reindex has no upload records: the revision itself proves the namespace held the blobs.
    await store().recordBlobs("other", [{ digest: entries[0]!.digest, size: 7, key: "blobs/r", start: 0, end: 7 }]);
    expect(await store().missingBlobs("lab", [entries[0]!.digest])).toEqual([]);
    expect((await store().search("imported", { limit: 5, canRead: () => true })).map((h) => h.name)).toEqual(["cells"]);
    await rejection(store().importTag(pkgA, { ...move, to: blob("not a revision") }), "E_NOT_FOUND");
  });
}
