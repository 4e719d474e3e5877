import { expect, it } from "vitest";
import type { ManifestEntry } from "@dpkg/core";
import type { MetadataStore } from "../../../src/metadata/metadata-store.js";
import {
  collect,
  entry,
  iterate,
  manifestDigest,
  pkgA,
  push,
  rejection,
  sorted,
  stage,
  upload,
  T0,
} from "./fixtures.js";

/** More entries than one staging batch of any sensible implementation holds. */
const MANY = 12_345;

function many(n: number, prefix = "f"): ManifestEntry[] {
  return Array.from({ length: n }, (_, i) => entry(`${prefix}/${String(i).padStart(6, "0")}.bin`, i));
}

/** Yields the entries, then throws after `failAt` of them, like a body cut off mid-way. */
async function* failing(entries: ManifestEntry[], failAt: number): AsyncGenerator<ManifestEntry> {
  for (const [i, e] of entries.entries()) {
    if (i === failAt) throw new Error("connection reset");
    yield await Promise.resolve(e);
  }
}

export function stagingContract(store: () => MetadataStore): void {
  it("stages a manifest: complete only at the end, counted, its entries in path order", async () => {
    const entries = [entry("b.txt", 3), entry("a/x.csv", 10, { label: "cat" }), entry("a.txt", 5)];
    const digest = manifestDigest(entries);
    expect(await store().hasManifest(digest)).toBe(false);
    await stage(store(), entries);
    expect(await store().hasManifest(digest)).toBe(true);
    expect(await collect(store().selectEntries(digest, {}))).toEqual(sorted(entries));

    await upload(store(), pkgA.namespace, entries);
    const { revision } = await store().commit({
      pkg: pkgA,
      digest,
      message: "m",
      author: "a",
      createdAt: T0,
      tags: [],
      moveLatest: true,
    });
    expect(revision).toMatchObject({ entryCount: 3, totalSize: 18 });
  });

  it("stages a large manifest in batches, reading the input lazily", async () => {
    const entries = many(MANY);
    let read = 0;
    async function* counting(): AsyncGenerator<ManifestEntry> {
      for (const e of entries) {
        read++;
        yield await Promise.resolve(e);
      }
    }
    const digest = manifestDigest(entries);
    await store().stageManifest(digest, { format: "dpkg.manifest/1", meta: {} }, counting());
    expect(read).toBe(MANY);
    const got = await collect(store().selectEntries(digest, {}));
    expect(got.length).toBe(MANY);
    expect(got.at(-1)).toEqual(entries.at(-1));
  });

  it("skips a complete manifest, but still reads its input to the end", async () => {
    const entries = many(10);
    const digest = await stage(store(), entries);
    let read = 0;
    async function* counting(): AsyncGenerator<ManifestEntry> {
      for (const e of entries) {
        read++;
        yield await Promise.resolve(e);
      }
    }
    await store().stageManifest(digest, { format: "dpkg.manifest/1", meta: {} }, counting());
    expect(read).toBe(10);
    expect(await collect(store().selectEntries(digest, {}))).toEqual(entries);
  });

  it("leaves an interrupted stage incomplete and unusable, then redoes it cleanly", async () => {
    const entries = many(MANY);
    const digest = manifestDigest(entries);
    const header = { format: "dpkg.manifest/1" as const, meta: {} };
    await expect(store().stageManifest(digest, header, failing(entries, 7_000))).rejects.toThrow("connection reset");
    expect(await store().hasManifest(digest)).toBe(false);
    await rejection(collect(store().selectEntries(digest, {})), "E_NOT_FOUND");
    await upload(store(), pkgA.namespace, entries);
    await rejection(
      store().commit({ pkg: pkgA, digest, message: "m", author: "a", createdAt: T0, tags: [], moveLatest: true }),
      "E_NOT_FOUND",
    );

    await store().stageManifest(digest, header, iterate(entries));
    expect(await store().hasManifest(digest)).toBe(true);
    const got = await collect(store().selectEntries(digest, {}));
    expect(got).toEqual(entries);
    const { revision } = await store().commit({
      pkg: pkgA,
      digest,
      message: "m",
      author: "a",
      createdAt: T0,
      tags: [],
      moveLatest: true,
    });
    expect(revision.entryCount).toBe(MANY);
    expect(await store().integrityCheck()).toEqual([]);
  });

  it("stages one manifest pushed twice at once exactly once", async () => {
    const entries = many(6_000);
    const header = { format: "dpkg.manifest/1" as const, meta: {} };
    const digest = manifestDigest(entries);
    await Promise.all([
      store().stageManifest(digest, header, iterate(entries)),
      store().stageManifest(digest, header, iterate(entries)),
    ]);
    expect(await collect(store().selectEntries(digest, {}))).toEqual(entries);
  });

  it("refuses a manifest that names a path twice, and does not count it as staged", async () => {
    const digest = manifestDigest([entry("a")]);
    await rejection(
      store().stageManifest(digest, { format: "dpkg.manifest/1", meta: {} }, iterate([entry("a"), entry("a")])),
      "E_BAD_MANIFEST",
    );
    expect(await store().hasManifest(digest)).toBe(false);
  });

  it("indexes an empty manifest", async () => {
    const { revision } = await push(store(), pkgA, [], { meta: { title: "nothing yet" } });
    expect(revision).toMatchObject({ entryCount: 0, totalSize: 0 });
    expect(await collect(store().selectEntries(revision.digest, {}))).toEqual([]);
  });
}
