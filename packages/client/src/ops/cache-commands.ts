import { DpkgError, parsePackageName, type Digest } from "@dpkg/core";
import type { CacheItem, ContentCache } from "../cache/content-cache.js";
import { findWorkspaceRoot } from "../workspace/find-root.js";
import { readLockfile } from "../workspace/lockfile.js";

export interface CacheTotals {
  blobs: number;
  blobBytes: number;
  manifests: number;
  manifestBytes: number;
}

/** Every cached blob and manifest (streamed), with totals once the listing has been read. */
export function cacheListing(cache: ContentCache): {
  root: string;
  items: AsyncIterable<CacheItem>;
  totals(): CacheTotals;
} {
  const totals: CacheTotals = { blobs: 0, blobBytes: 0, manifests: 0, manifestBytes: 0 };
  async function* items(): AsyncGenerator<CacheItem> {
    for await (const item of cache.list()) {
      if (item.kind === "blob") {
        totals.blobs += 1;
        totals.blobBytes += item.size;
      } else {
        totals.manifests += 1;
        totals.manifestBytes += item.size;
      }
      yield item;
    }
  }
  return { root: cache.root, items: items(), totals: () => ({ ...totals }) };
}

export interface PruneResult {
  root: string;
  removed: number;
  bytes: number;
  /** Digests kept because the workspace's dpkg.lock pins them. */
  kept: number;
}

/**
 * Frees cache space: removes what was not used since `olderThan` (everything without it), but never
 * the manifests and blobs the current workspace's dpkg.lock pins, so its next install and lazy
 * opens stay offline-capable. Other workspaces' files simply come back on their next install.
 */
export async function pruneCacheForWorkspace(
  cache: ContentCache,
  options: { cwd?: string; olderThan?: Date },
): Promise<PruneResult> {
  const keep = options.cwd === undefined ? new Set<Digest>() : await pinnedDigests(cache, options.cwd);
  const result = await cache.prune({ olderThan: options.olderThan, keep });
  return { root: cache.root, ...result, kept: keep.size };
}

/** Manifests the lock pins and every blob those manifests (when cached) name. */
export async function pinnedDigests(cache: ContentCache, cwd: string): Promise<Set<Digest>> {
  const keep = new Set<Digest>();
  const lock = await readLockfile(await findWorkspaceRoot(cwd));
  for (const [name, locked] of Object.entries(lock?.packages ?? {})) {
    parsePackageName(name);
    keep.add(locked.digest);
    const manifest = await cache.openManifest(locked.digest);
    if (manifest === null) continue;
    for await (const entry of manifest.entries) keep.add(entry.digest);
  }
  return keep;
}

/** `30d`, `12h`, `90m`, `0` → milliseconds; the unit is required so that `30` is not a surprise. */
export function parseAge(text: string, what = "--older-than"): number {
  if (text.trim() === "0") return 0;
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$/.exec(text.trim());
  if (m === null) {
    throw new DpkgError(
      "E_USAGE",
      `${what} ${JSON.stringify(text)} is not an age`,
      { value: text },
      { hint: "Write a number and a unit: 90m, 12h, 30d, 2w." },
    );
  }
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[
    m[2] as "s" | "m" | "h" | "d" | "w"
  ];
  return Number(m[1]) * unit;
}
