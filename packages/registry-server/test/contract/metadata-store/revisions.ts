import { expect, it } from "vitest";
import type { MetadataStore } from "../../../src/metadata/metadata-store.js";
import { at, digestWithPrefix, entry, pkgA, pkgB, push, rejection, stage, T0, upload } from "./fixtures.js";

const v1 = [entry("a.txt", 1)];
const v2 = [entry("a.txt", 1), entry("b.txt", 2)];
const v3 = [entry("c.txt", 3)];

export function revisionsContract(store: () => MetadataStore): void {
  it("records a first commit: no parent, latest moved, package meta from the manifest header", async () => {
    const result = await push(store(), pkgA, v1, { meta: { title: "Cells" }, message: "first", author: "bob" });
    expect(result.unchanged).toBe(false);
    expect(result.tags).toEqual(["latest"]);
    expect(result.revision).toMatchObject({
      namespace: "lab",
      name: "cells",
      parent: null,
      message: "first",
      author: "bob",
      entryCount: 1,
      totalSize: 1,
    });
    expect(result.revision.createdAt).toEqual(T0);
    const info = await store().getPackage(pkgA);
    expect(info).toEqual({
      namespace: "lab",
      name: "cells",
      meta: { title: "Cells" },
      latest: result.revision,
      tags: { latest: result.revision.digest },
      createdAt: T0,
    });
    expect(await store().getPackage(pkgB)).toBeNull();
  });

  it("chains parents, lists revisions newest first and pages back with `before`", async () => {
    const r1 = (await push(store(), pkgA, v1, { createdAt: at(1) })).revision;
    const r2 = (await push(store(), pkgA, v2, { createdAt: at(2), meta: { title: "two" } })).revision;
    const r3 = (await push(store(), pkgA, v1, { createdAt: at(3) })).revision;
    expect(r2.parent).toBe(r1.digest);
    expect(r3.parent).toBe(r2.digest);
    // Going back to v1's content is a new revision: the log is a list of commits, not of contents.
    expect(r3.digest).toBe(r1.digest);
    expect(await store().listRevisions(pkgA, { limit: 10 })).toEqual([r3, r2, r1]);
    expect(await store().listRevisions(pkgA, { limit: 1, before: at(3) })).toEqual([r2]);
    expect(await store().listRevisions(pkgA, { limit: 10, before: at(2) })).toEqual([r1]);
    expect((await store().getPackage(pkgA))?.meta).toEqual({});
    await rejection(store().listRevisions(pkgB, { limit: 10 }), "E_NOT_FOUND");
  });

  it("reports content equal to latest as unchanged and records no revision", async () => {
    const first = await push(store(), pkgA, v1, { createdAt: at(1) });
    const again = await push(store(), pkgA, v1, { createdAt: at(2), tags: ["prod"] });
    expect(again.unchanged).toBe(true);
    expect(again.revision).toEqual(first.revision);
    expect(again.tags).toEqual(["prod"]);
    expect(await store().listRevisions(pkgA, { limit: 10 })).toHaveLength(1);
    expect((await store().getPackage(pkgA))?.tags).toEqual({
      latest: first.revision.digest,
      prod: first.revision.digest,
    });
  });

  it("checks the expected parent against the current latest (E_CONFLICT naming both)", async () => {
    const r1 = (await push(store(), pkgA, v1, { expectParent: null })).revision;
    const err = await rejection(push(store(), pkgA, v2, { expectParent: null }), "E_CONFLICT");
    expect(err.details).toEqual({ package: "lab/cells", expected: null, actual: r1.digest });
    expect(err.message).toContain(r1.digest);

    const wrong = digestWithPrefix("00000000", "nope");
    const err2 = await rejection(push(store(), pkgA, v2, { expectParent: wrong }), "E_CONFLICT");
    expect(err2.message).toContain(wrong);
    expect(err2.message).toContain(r1.digest);
    expect(err2.details).toMatchObject({ expected: wrong, actual: r1.digest });

    const r2 = (await push(store(), pkgA, v2, { expectParent: r1.digest })).revision;
    expect(r2.parent).toBe(r1.digest);
    expect(await store().listRevisions(pkgA, { limit: 10 })).toHaveLength(2);
  });

  it("leaves latest alone when told to, and moves the tags asked for", async () => {
    const r1 = (await push(store(), pkgA, v1)).revision;
    const r2 = await push(store(), pkgA, v2, { moveLatest: false, tags: ["beta", "beta"] });
    expect(r2.tags).toEqual(["beta"]);
    expect(r2.revision.parent).toBe(r1.digest);
    const info = await store().getPackage(pkgA);
    expect(info?.tags).toEqual({ latest: r1.digest, beta: r2.revision.digest });
    expect(info?.latest).toEqual(r1);
    await rejection(push(store(), pkgA, v3, { tags: ["no spaces"] }), "E_BAD_TAG");
  });

  it("refuses to commit an unstaged manifest or one whose blobs the namespace lacks", async () => {
    const digest = digestWithPrefix("", "never staged");
    await rejection(
      store().commit({ pkg: pkgA, digest, message: "", author: "a", createdAt: T0, tags: [], moveLatest: true }),
      "E_NOT_FOUND",
    );
    const staged = await stage(store(), v3);
    const commit = { pkg: pkgA, digest: staged, message: "", author: "a", createdAt: T0, tags: [], moveLatest: true };
    const err = await rejection(store().commit(commit), "E_MISSING_BLOBS");
    expect(err.details).toMatchObject({ missing: [v3[0]?.digest] });
    // Stored, but by another namespace: knowing the digest is not enough.
    await upload(store(), "elsewhere", v3);
    await rejection(store().commit(commit), "E_MISSING_BLOBS");
    await upload(store(), pkgA.namespace, v3);
    expect((await store().commit(commit)).unchanged).toBe(false);
    expect(await store().getPackage(pkgA)).not.toBeNull();
  });

  it("resolves tags and unique digest prefixes of this package only", async () => {
    const d1 = digestWithPrefix("abcdef0123", "one");
    const d2 = digestWithPrefix("abcdef0124", "two");
    const d3 = digestWithPrefix("abcdef0125", "three, in another package");
    const r1 = (await push(store(), pkgA, v1, { digest: d1, createdAt: at(1), tags: ["v1"] })).revision;
    const r2 = (await push(store(), pkgA, v2, { digest: d2, createdAt: at(2) })).revision;
    await push(store(), pkgB, v3, { digest: d3 });
    const byPrefix = (prefix: string): Promise<unknown> =>
      store().resolve(pkgA, { kind: "digest", prefix, full: prefix.length === 64 });

    expect(await store().resolve(pkgA, { kind: "tag", tag: "latest" })).toEqual(r2);
    expect(await store().resolve(pkgA, { kind: "tag", tag: "v1" })).toEqual(r1);
    expect(await byPrefix("abcdef0123")).toEqual(r1);
    expect(await byPrefix(d2.slice(7))).toEqual(r2);

    // d3 shares the prefix but belongs to another package: not a candidate.
    const err = await rejection(byPrefix("abcdef01"), "E_AMBIGUOUS_REF");
    expect((err.details as { candidates: string[] }).candidates).toEqual([d1, d2]);
    expect(err.message).toContain(d1);
    expect(err.message).toContain(d2);
    const missing = await rejection(byPrefix("abcdef0125"), "E_NOT_FOUND");
    expect(missing.message).toContain("lab/cells");
    await rejection(byPrefix("ffffffff"), "E_NOT_FOUND");

    const noTag = await rejection(store().resolve(pkgA, { kind: "tag", tag: "nope" }), "E_NOT_FOUND");
    expect(noTag.message).toContain("nope");
    expect(noTag.message).toContain("lab/cells");
    await rejection(
      store().resolve({ namespace: "lab", name: "ghost" }, { kind: "tag", tag: "latest" }),
      "E_NOT_FOUND",
    );
  });
}
