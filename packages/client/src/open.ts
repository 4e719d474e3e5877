import { DpkgError, formatPackageName, parseRef, type Digest } from "@dpkg/core";
import { ContentCache, defaultCacheDir } from "./cache/content-cache.js";
import { loadToken } from "./credentials.js";
import { ensureManifest } from "./fetch-blobs.js";
import { createPackageHandle, type PackageHandle } from "./package-handle.js";
import { RegistryClient } from "./registry-client.js";
import { findWorkspaceRoot } from "./workspace/find-root.js";
import { readLockfile } from "./workspace/lockfile.js";

export const DEFAULT_REGISTRY = "http://127.0.0.1:7777";

export interface OpenOptions {
  /** Where to look for dpkg.lock (the nearest one up from here); default: process.cwd(). */
  cwd?: string;
  /** Default: the lockfile's registry, else DPKG_REGISTRY, else http://127.0.0.1:7777. */
  registry?: string;
  /** Default: DPKG_TOKEN, else the token `dpkg login` saved for the registry. */
  token?: string;
  /** Default: DPKG_CACHE_DIR, else $XDG_CACHE_HOME/dpkg. */
  cacheDir?: string;
  /** Default: DPKG_OFFLINE=1. Offline, everything comes from the cache or fails with E_OFFLINE. */
  offline?: boolean;
  env?: NodeJS.ProcessEnv;
}

/**
 * Opens a package by name. When the nearest dpkg.lock pins it (and the name carries no explicit
 * ref), that pin is used, so code always reads the revision the workspace installed; otherwise the
 * ref is resolved by the registry. Only the manifest is loaded; bytes come when asked for.
 */
export async function open(spec: string, options: OpenOptions = {}): Promise<PackageHandle> {
  const env = options.env ?? process.env;
  const ref = parseRef(spec);
  const name = formatPackageName(ref);
  const root = await findWorkspaceRoot(options.cwd ?? process.cwd());
  const lock = await readLockfile(root);
  const pin = ref.explicit ? undefined : lock?.packages[name];

  const offline = options.offline ?? env.DPKG_OFFLINE === "1";
  const locked = lock?.registry === "" ? undefined : lock?.registry;
  const registry = options.registry ?? locked ?? env.DPKG_REGISTRY ?? DEFAULT_REGISTRY;
  const token = options.token ?? env.DPKG_TOKEN ?? (await loadToken(registry, env));
  const client = offline ? null : new RegistryClient({ url: registry, token });
  const cache = new ContentCache(options.cacheDir ?? defaultCacheDir(env));

  let digest: Digest;
  if (pin !== undefined) {
    digest = pin.digest;
  } else if (client === null) {
    throw new DpkgError("E_OFFLINE", `${spec} is not pinned in a dpkg.lock, and resolving it needs the registry`, { spec });
  } else {
    const selector = ref.selector.kind === "tag" ? ref.selector.tag : `blake3:${ref.selector.prefix}`;
    digest = await client.resolve(ref, selector);
  }
  const reader = await ensureManifest(client, cache, ref, digest);
  const meta = reader.header.meta;
  // Only the header was needed: close the manifest file now rather than when it is collected.
  await reader.entries[Symbol.asyncIterator]().return?.();
  return createPackageHandle({ client, cache, pkg: { namespace: ref.namespace, name: ref.name }, digest, meta, pinned: pin !== undefined });
}
