import { DpkgError, parseRef, validatePath, verifyStream, type Digest, type ManifestEntry } from "@dpkg/core";
import { createReadStream } from "node:fs";
import type { ContentCache } from "../cache/content-cache.js";
import { ensureManifest, fetchBlobs } from "../fetch-blobs.js";
import type { RegistryClient } from "../registry-client.js";
import { resolveRef } from "./resolve-ref.js";

export interface OpenedEntry {
  name: string;
  digest: Digest;
  entry: ManifestEntry;
  /** The entry's bytes from the cache, re-verified as they stream: the last chunk throws on a mismatch. */
  bytes: AsyncIterable<Uint8Array>;
}

/**
 * One entry's bytes (`dpkg cat`): fetched into the cache if absent, then read back through the
 * digest check, so that a cache file damaged on disk is never passed on as the entry.
 * Offline (`client` null) it needs a full digest whose manifest is cached.
 */
export async function openEntry(
  client: RegistryClient | null,
  cache: ContentCache,
  ref: string,
  path: string,
): Promise<OpenedEntry> {
  validatePath(path, "the entry path");
  const parsed = parseRef(ref);
  const pkg = { namespace: parsed.namespace, name: parsed.name };
  const name = `${pkg.namespace}/${pkg.name}`;
  let digest: Digest;
  let entry: ManifestEntry | undefined;
  if (client !== null) {
    digest = (await resolveRef(client, parsed)).digest;
    // An equality query finds one path exactly, without the glob meaning of --path.
    const where = `path = '${path.replaceAll("'", "''")}'`;
    for await (const e of client.entries(pkg, digest, { where })) entry = e;
  } else {
    if (parsed.selector.kind !== "digest" || !parsed.selector.full) {
      throw new DpkgError("E_OFFLINE", `cannot resolve ${ref} offline: give the full digest (${name}@blake3:<64 hex>)`);
    }
    digest = `blake3:${parsed.selector.prefix}`;
    const manifest = await ensureManifest(null, cache, pkg, digest);
    for await (const e of manifest.entries) if (e.path === path) entry = e;
  }
  if (entry === undefined) {
    throw new DpkgError(
      "E_NOT_FOUND",
      `${name}@${digest} has no entry ${JSON.stringify(path)}`,
      { name, digest, path },
      {
        hint: `List the entries with: dpkg ls ${name}@${digest} --path '${path}'`,
      },
    );
  }
  const found = entry;
  if (!(await cache.hasBlob(found.digest))) {
    if (client === null)
      throw new DpkgError("E_OFFLINE", `${name}: ${path} (${found.digest}) is not in the cache`, {
        name,
        path,
        digest: found.digest,
      });
    await fetchBlobs(client, cache, pkg, [{ digest: found.digest, size: found.size, path }]);
  }
  const file = cache.blobPath(found.digest);
  return {
    name,
    digest,
    entry: found,
    bytes: verifyStream(createReadStream(file), { digest: found.digest, size: found.size, what: `${name}: ${path}` }),
  };
}
