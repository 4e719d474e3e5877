import { expect } from "vitest";
import {
  digestBytes,
  isDpkgError,
  type Digest,
  type ErrorCode,
  type JsonObject,
  type ManifestEntry,
  type PackageName,
} from "@dpkg/core";
import type { CommitInput, CommitResult, MetadataStore } from "../../../src/metadata/metadata-store.js";

/** Builders shared by the MetadataStore contract files. Digests are real BLAKE3 digests of labels. */
export interface StoreUnderTest {
  store: MetadataStore;
  cleanup: () => Promise<void>;
}

export type MakeStore = () => Promise<StoreUnderTest>;

export const T0 = new Date("2026-01-02T03:04:05.000Z");

export function at(seconds: number): Date {
  return new Date(T0.getTime() + seconds * 1000);
}

export function blob(label: string): Digest {
  return digestBytes(`blob:${label}`);
}

/** A manifest digest whose hex starts with `hexPrefix` (for ambiguous-prefix tests). */
export function digestWithPrefix(hexPrefix: string, label: string): Digest {
  const hex = digestBytes(label).slice("blake3:".length);
  return `blake3:${hexPrefix}${hex.slice(hexPrefix.length)}`;
}

export function entry(path: string, size = path.length, meta?: JsonObject): ManifestEntry {
  return meta === undefined ? { path, size, digest: blob(path) } : { path, size, digest: blob(path), meta };
}

/** Entries in manifest (UTF-8 byte) order, as the store receives them. */
export function sorted(entries: ManifestEntry[]): ManifestEntry[] {
  return [...entries].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

export async function* iterate<T>(items: Iterable<T>): AsyncGenerator<T> {
  for (const item of items) yield await Promise.resolve(item);
}

/** The manifest's identity for these tests: the digest of its entries and meta. */
export function manifestDigest(entries: ManifestEntry[], meta: JsonObject = {}): Digest {
  return digestBytes(JSON.stringify({ meta, entries }));
}

export async function stage(
  store: MetadataStore,
  entries: ManifestEntry[],
  meta: JsonObject = {},
  digest: Digest = manifestDigest(entries, meta),
): Promise<Digest> {
  await store.stageManifest(digest, { format: "dpkg.manifest/1", meta }, iterate(sorted(entries)));
  return digest;
}

/** Records every blob of `entries` as uploaded by `namespace`, each in its own object. */
export async function upload(store: MetadataStore, namespace: string, entries: ManifestEntry[]): Promise<void> {
  await store.recordBlobs(
    namespace,
    entries.map((e) => ({ digest: e.digest, size: e.size, key: `blobs/${e.digest.slice(7)}`, start: 0, end: e.size })),
  );
}

export interface PushOptions extends Partial<Omit<CommitInput, "pkg" | "digest">> {
  meta?: JsonObject;
  digest?: Digest;
}

/** Uploads, stages and commits, like a client push does. */
export async function push(
  store: MetadataStore,
  pkg: PackageName,
  entries: ManifestEntry[],
  options: PushOptions = {},
): Promise<CommitResult> {
  await upload(store, pkg.namespace, entries);
  const digest = await stage(store, entries, options.meta ?? {}, options.digest);
  const { meta: _meta, digest: _digest, ...rest } = options;
  return store.commit({
    pkg,
    digest,
    message: "push",
    author: "alice",
    createdAt: T0,
    tags: [],
    moveLatest: true,
    ...rest,
  });
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** Awaits a rejection and checks it is a DpkgError with `code`; returns it for further checks. */
export async function rejection(promise: Promise<unknown>, code: ErrorCode): Promise<Error & { details: object }> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isDpkgError(error, code), `expected ${code}, got ${String(error)}`).toBe(true);
  return error as Error & { details: object };
}

export const pkgA: PackageName = { namespace: "lab", name: "cells" };
export const pkgB: PackageName = { namespace: "lab", name: "other" };
export const pkgC: PackageName = { namespace: "corp", name: "images" };
