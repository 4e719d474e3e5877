import { DpkgError, formatPackageName, type Digest, type ManifestEntry, type ManifestReader, type PackageName } from "@dpkg/core";
import type { ContentCache } from "../cache/content-cache.js";
import type { RegistryClient } from "../registry-client.js";
import { asDpkgError, backoff, isTransient } from "./transient.js";

/** The manifest of a revision, from the cache or fetched into it (verified); E_OFFLINE without a client. */
export async function ensureManifest(client: RegistryClient | null, cache: ContentCache, pkg: PackageName, digest: Digest): Promise<ManifestReader> {
  const cached = await cache.openManifest(digest);
  if (cached !== null) return cached;
  await fetchManifest(client, cache, pkg, digest);
  const reader = await cache.openManifest(digest);
  if (reader === null) throw new DpkgError("E_IO", `${formatPackageName(pkg)}: the manifest of ${digest} vanished from the cache at ${cache.manifestPath(digest)}`);
  return reader;
}

/**
 * The entries of a revision's manifest, each through `pick`, decoding the manifest once: from the
 * cache, or as it is fetched into the cache (where ensureManifest decodes it to check it, then again
 * to read it). E_OFFLINE without a client when it is not cached.
 */
export async function manifestEntries<T>(
  client: RegistryClient | null,
  cache: ContentCache,
  pkg: PackageName,
  digest: Digest,
  pick: (entry: ManifestEntry) => T,
): Promise<T[]> {
  const out: T[] = [];
  const cached = await cache.openManifest(digest);
  if (cached !== null) {
    for await (const entry of cached.entries) out.push(pick(entry));
    return out;
  }
  await fetchManifest(client, cache, pkg, digest, () => {
    out.length = 0; // a retried download starts over
    return (entry) => out.push(pick(entry));
  });
  return out;
}

/** Fetches a manifest into the cache (verified), retrying transient failures; `each` makes the entry callback of an attempt. */
async function fetchManifest(
  client: RegistryClient | null,
  cache: ContentCache,
  pkg: PackageName,
  digest: Digest,
  each?: () => (entry: ManifestEntry) => void,
): Promise<void> {
  const name = formatPackageName(pkg);
  if (client === null) {
    throw new DpkgError("E_OFFLINE", `${name}: the manifest of revision ${digest} is not in the cache`, { package: name, digest });
  }
  for (let attempt = 1; ; attempt++) {
    try {
      await cache.putManifest(digest, await client.manifest(pkg, digest), each?.());
      return;
    } catch (err) {
      if (!isTransient(err) || attempt >= 4) throw asDpkgError(err, `${name}: reading the manifest of ${digest}`);
      await backoff(attempt);
    }
  }
}
