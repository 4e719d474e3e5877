import {
  canonicalJson,
  compareUtf8,
  parseRef,
  type Digest,
  type JsonObject,
  type JsonValue,
  type ManifestEntry,
  type ManifestReader,
} from "@dpkg/core";
import type { ContentCache } from "../cache/content-cache.js";
import { ensureManifest } from "../fetch-blobs.js";
import type { RegistryClient } from "../registry-client.js";
import { resolveRef, type ResolvedRef } from "./resolve-ref.js";

export type EntryChange =
  | { change: "added"; path: string; to: ManifestEntry }
  | { change: "removed"; path: string; from: ManifestEntry }
  /** `content` when the bytes differ; `metaKeys` the top-level entry meta keys that differ. */
  | { change: "modified"; path: string; from: ManifestEntry; to: ManifestEntry; content: boolean; metaKeys: string[] };

/** A top-level key of the package metadata that differs; a side without the key has no value. */
export interface MetaChange {
  key: string;
  from?: JsonValue;
  to?: JsonValue;
}

export interface DiffTotals {
  added: number;
  removed: number;
  modified: number;
  unchanged: number;
}

export interface RevisionDiff {
  from: { name: string; digest: Digest };
  to: { name: string; digest: Digest };
  meta: MetaChange[];
  /** Changed entries in path order, merged from both manifests as they stream. Iterate once. */
  entries: AsyncIterable<EntryChange>;
  /** Complete once `entries` has been read to the end. */
  totals(): DiffTotals;
}

/**
 * Compares two revisions: `a` and `b` are refs; `b` may be a bare tag or digest of `a`'s package
 * (`dpkg diff mypkg/images@v1 v2`), since a tag can never contain '/'. Manifests come from the
 * cache (verified when fetched), so comparing revisions seen before costs no transfer.
 */
export async function diffRevisions(
  client: RegistryClient,
  cache: ContentCache,
  a: string,
  b: string,
): Promise<RevisionDiff> {
  const fromRef = parseRef(a);
  const toText = b.includes("/") ? b : `${fromRef.namespace}/${fromRef.name}@${b}`;
  const [from, to] = await Promise.all([resolveRef(client, fromRef), resolveRef(client, toText)]);
  const [left, right] = await Promise.all([manifestOf(client, cache, from), manifestOf(client, cache, to)]);
  return diffManifests(left, right, { from: pick(from), to: pick(to) });
}

function pick(r: ResolvedRef): { name: string; digest: Digest } {
  return { name: r.name, digest: r.digest };
}

function manifestOf(client: RegistryClient, cache: ContentCache, r: ResolvedRef): Promise<ManifestReader> {
  return ensureManifest(client, cache, r.pkg, r.digest);
}

/** The diff of two manifest readers; both are consumed together, one entry ahead at most. */
export function diffManifests(
  left: ManifestReader,
  right: ManifestReader,
  sides: Pick<RevisionDiff, "from" | "to">,
): RevisionDiff {
  const totals: DiffTotals = { added: 0, removed: 0, modified: 0, unchanged: 0 };
  async function* merge(): AsyncGenerator<EntryChange> {
    const l = left.entries[Symbol.asyncIterator]();
    const r = right.entries[Symbol.asyncIterator]();
    let a = await l.next();
    let b = await r.next();
    while (!a.done || !b.done) {
      const order = a.done ? 1 : b.done ? -1 : compareUtf8(a.value.path, b.value.path);
      if (order < 0 && !a.done) {
        totals.removed += 1;
        yield { change: "removed", path: a.value.path, from: a.value };
        a = await l.next();
      } else if (order > 0 && !b.done) {
        totals.added += 1;
        yield { change: "added", path: b.value.path, to: b.value };
        b = await r.next();
      } else if (!a.done && !b.done) {
        const content = a.value.digest !== b.value.digest;
        const metaKeys = changedKeys(a.value.meta ?? {}, b.value.meta ?? {});
        if (content || metaKeys.length > 0) {
          totals.modified += 1;
          yield { change: "modified", path: a.value.path, from: a.value, to: b.value, content, metaKeys };
        } else {
          totals.unchanged += 1;
        }
        a = await l.next();
        b = await r.next();
      }
    }
  }
  const meta = changedKeys(left.header.meta, right.header.meta).map((key) => {
    const change: MetaChange = { key };
    if (Object.hasOwn(left.header.meta, key)) change.from = left.header.meta[key];
    if (Object.hasOwn(right.header.meta, key)) change.to = right.header.meta[key];
    return change;
  });
  return { ...sides, meta, entries: merge(), totals: () => ({ ...totals }) };
}

/** Top-level keys whose values differ (compared canonically), sorted. */
function changedKeys(a: JsonObject, b: JsonObject): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  const out: string[] = [];
  for (const key of keys) {
    const x = Object.hasOwn(a, key) ? canonicalJson(a[key]) : undefined;
    const y = Object.hasOwn(b, key) ? canonicalJson(b[key]) : undefined;
    if (x !== y) out.push(key);
  }
  return out.sort(compareUtf8);
}
