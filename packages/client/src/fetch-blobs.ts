import { DpkgError, formatPackageName, type Digest, type PackageName } from "@dpkg/core";
import type { ContentCache } from "./cache/content-cache.js";
import { withEntry, type FetchContext, type LocatedBlob, type LocatedGroup } from "./fetch/fetch-context.js";
import { createLimiter, settleAll } from "./fetch/limiter.js";
import { readGroup } from "./fetch/read-group.js";
import { readLargeBlob } from "./fetch/read-large-blob.js";
import type { RegistryClient } from "./registry-client.js";

export { ensureManifest, manifestEntries } from "./fetch/ensure-manifest.js";

export interface WantedBlob {
  digest: Digest;
  size: number;
  /** The entry path, for error messages. */
  path?: string;
}

export interface FetchProgress {
  bytes: number;
  blobs: number;
  totalBytes: number;
  totalBlobs: number;
}

export interface FetchOptions {
  /** Reads at once: location groups and ranges of large blobs (default 8). */
  concurrency?: number;
  /** Called as blobs and ranges complete; `bytes` includes bytes resumed from an earlier run. */
  onProgress?: (p: FetchProgress) => void;
  /** Never touch the network (default: DPKG_OFFLINE=1). */
  offline?: boolean;
  /** Blobs alone in their group from this size on are read in parallel, resumable ranges (16 MiB). */
  largeBlobBytes?: number;
  /** The size of those ranges (8 MiB). */
  rangeBytes?: number;
  /** Attempts per read on network errors and truncated bodies (4). */
  attempts?: number;
}

const MIB = 1024 * 1024;
/** Locations are asked for this much at a time, so signed URLs are used soon after they are made. */
const WINDOW_BYTES = 1024 * MIB;
const WINDOW_BLOBS = 20_000;

export function isOfflineEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.DPKG_OFFLINE;
  return v !== undefined && v !== "" && v !== "0" && v.toLowerCase() !== "false";
}

/**
 * Makes every wanted blob present in the cache: skips cached ones, asks the registry where the rest
 * are, reads location groups in parallel, splits large blobs into parallel resumable ranges, and
 * verifies every blob before it enters the cache (E_INTEGRITY naming the entry path).
 * Offline (`offline`, DPKG_OFFLINE=1, or no client) anything missing is E_OFFLINE.
 */
export async function fetchBlobs(
  client: RegistryClient | null,
  cache: ContentCache,
  pkg: PackageName,
  wanted: WantedBlob[],
  options: FetchOptions = {},
): Promise<{ fetchedBlobs: number; fetchedBytes: number }> {
  const name = formatPackageName(pkg);
  const missing = await cache.missingBlobs(uniqueBlobs(wanted));
  if (missing.length === 0) return { fetchedBlobs: 0, fetchedBytes: 0 };
  if (client === null || (options.offline ?? isOfflineEnv())) {
    const bytes = missing.reduce((n, b) => n + b.size, 0);
    const example = missing[0]!;
    throw new DpkgError(
      "E_OFFLINE",
      `${name}: ${missing.length} blob(s) (${bytes} bytes) are not in the cache, e.g. ${example.path ?? example.digest}`,
      { package: name, missingBlobs: missing.length, missingBytes: bytes, example: example.path ?? example.digest },
    );
  }
  return fetchMissingBlobs(client, cache, pkg, missing, options);
}

/** One WantedBlob per digest (the first, whose path names it in messages). */
export function uniqueBlobs(wanted: Iterable<WantedBlob>): WantedBlob[] {
  const unique = new Map<Digest, WantedBlob>();
  for (const w of wanted) if (!unique.has(w.digest)) unique.set(w.digest, w);
  return [...unique.values()];
}

/**
 * The network half of fetchBlobs, for a caller that has just found `missing` (one per digest)
 * absent from the cache (cache.missingBlobs) and checked that it may go online.
 */
export async function fetchMissingBlobs(
  client: RegistryClient,
  cache: ContentCache,
  pkg: PackageName,
  missing: readonly WantedBlob[],
  options: FetchOptions = {},
): Promise<{ fetchedBlobs: number; fetchedBytes: number }> {
  const name = formatPackageName(pkg);
  const unique = new Map<Digest, WantedBlob>(missing.map((b) => [b.digest, b]));
  const progress: FetchProgress = { bytes: 0, blobs: 0, totalBytes: missing.reduce((n, b) => n + b.size, 0), totalBlobs: missing.length };
  const result = { fetchedBlobs: 0, fetchedBytes: 0 };
  const report = (): void => options.onProgress?.({ ...progress });
  const pathOf = (digest: Digest): string | undefined => unique.get(digest)?.path;
  const what = (digest: Digest): string => `${name}: ${pathOf(digest) ?? digest}`;
  const ctx: FetchContext = {
    client,
    cache,
    pkg,
    limit: createLimiter(Math.max(1, options.concurrency ?? 8)),
    attempts: Math.max(1, options.attempts ?? 4),
    rangeBytes: Math.max(1, options.rangeBytes ?? 8 * MIB),
    pathOf,
    what,
    async put(blob, source) {
      try {
        // fresh: the blob was missing a moment ago; publishing still never replaces a good copy.
        await cache.putBlob(blob.digest, blob.size, source, what(blob.digest), { fresh: true });
      } catch (err) {
        throw withEntry(err, pkg, blob.digest, pathOf(blob.digest));
      }
      ctx.fetched(blob.size, 1);
    },
    fetched(bytes, blobs) {
      result.fetchedBytes += bytes;
      result.fetchedBlobs += blobs;
      progress.bytes += bytes;
      progress.blobs += blobs;
      report();
    },
    resumed(bytes) {
      if (bytes === 0) return;
      progress.bytes += bytes;
      report();
    },
    locate: (digests) => locate(client, pkg, digests, pathOf),
  };
  const largeBlobBytes = options.largeBlobBytes ?? 16 * MIB;

  for (const window of windows(missing)) {
    const groups = await locate(client, pkg, window.map((b) => b.digest), pathOf);
    const tasks = groups.map((group) => {
      const only = group.blobs.length === 1 ? group.blobs[0] : undefined;
      const task = only !== undefined && only.size >= largeBlobBytes ? readLargeBlob(ctx, group) : ctx.limit.run(() => readGroup(ctx, group));
      return task.catch((err: unknown) => {
        ctx.limit.stop(err);
        throw err;
      });
    });
    await settleAll(tasks);
  }
  return result;
}

function* windows(blobs: readonly WantedBlob[]): Generator<WantedBlob[]> {
  let current: WantedBlob[] = [];
  let bytes = 0;
  for (const b of blobs) {
    if (current.length > 0 && (bytes + b.size > WINDOW_BYTES || current.length >= WINDOW_BLOBS)) {
      yield current;
      current = [];
      bytes = 0;
    }
    current.push(b);
    bytes += b.size;
  }
  if (current.length > 0) yield current;
}

async function locate(
  client: RegistryClient,
  pkg: PackageName,
  digests: Digest[],
  pathOf: (d: Digest) => string | undefined,
): Promise<LocatedGroup[]> {
  const { groups, unknown } = await client.locations(pkg, digests);
  if (unknown.length > 0) {
    const name = formatPackageName(pkg);
    const named = unknown.slice(0, 3).map((d) => JSON.stringify(pathOf(d as Digest) ?? d));
    const more = unknown.length > 3 ? ` and ${unknown.length - 3} more` : "";
    throw new DpkgError(
      "E_NOT_FOUND",
      `${name}: the registry holds no bytes for ${unknown.length} entr${unknown.length === 1 ? "y" : "ies"}: ${named.join(", ")}${more}`,
      { package: name, unknown: unknown.slice(0, 100), paths: unknown.slice(0, 100).map((d) => pathOf(d as Digest) ?? null) },
    );
  }
  // The answer was checked against the API schema, whose digests match the digest pattern: the blobs
  // are used as they are (a copy of each, only to retype its digest, was one more object per blob).
  return groups.map((g) => ({ url: g.url, start: g.start, end: g.end, viaRegistry: g.viaRegistry, blobs: g.blobs as LocatedBlob[] }));
}
