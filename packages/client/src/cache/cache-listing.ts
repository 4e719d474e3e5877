import { digestHex, DpkgError, type Digest } from "@dpkg/core";
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { lockHolderAlive } from "./partial-blob.js";

export interface CacheItem {
  kind: "blob" | "manifest";
  digest: Digest;
  size: number;
  lastUsed: Date;
}

const HEX64 = /^[0-9a-f]{64}$/;
/** Temp files this old belong to writers that died; younger ones may still be being written. */
const STALE_TEMP_MS = 24 * 60 * 60 * 1000;

/** Every blob and manifest in the cache, one folder at a time (memory stays bounded by a shard). */
export async function* listCache(root: string): AsyncGenerator<CacheItem, void, undefined> {
  const blobs = join(root, "blobs");
  for (const shard of await names(blobs)) {
    if (!/^[0-9a-f]{2}$/.test(shard)) continue;
    for (const name of await names(join(blobs, shard))) {
      if (!HEX64.test(name) || !name.startsWith(shard)) continue;
      const item = await itemOf("blob", name, join(blobs, shard, name));
      if (item !== null) yield item;
    }
  }
  const manifests = join(root, "manifests");
  for (const name of await names(manifests)) {
    const hex = name.slice(0, -".jsonl".length);
    if (!name.endsWith(".jsonl") || !HEX64.test(hex)) continue;
    const item = await itemOf("manifest", hex, join(manifests, name));
    if (item !== null) yield item;
  }
}

/** Where a listed item lives under the cache `root`. */
export function cachePathOf(root: string, item: Pick<CacheItem, "kind" | "digest">): string {
  const hex = digestHex(item.digest);
  return item.kind === "blob" ? join(root, "blobs", hex.slice(0, 2), hex) : join(root, "manifests", `${hex}.jsonl`);
}

export async function pruneCache(
  root: string,
  options: { olderThan?: Date; keep?: Set<Digest> },
): Promise<{ removed: number; bytes: number }> {
  const keep = options.keep ?? new Set<Digest>();
  const cutoff = options.olderThan?.getTime() ?? Infinity;
  let removed = 0;
  let bytes = 0;
  const drop = async (path: string, size: number): Promise<void> => {
    await rm(path, { force: true });
    removed += 1;
    bytes += size;
  };
  for await (const item of listCache(root)) {
    if (keep.has(item.digest) || item.lastUsed.getTime() >= cutoff) continue;
    await drop(cachePathOf(root, item), item.size);
  }

  // Records of what earlier pushes read (push/push-record.ts): losing one costs a push a full read.
  const pushed = join(root, "pushed");
  for (const name of await names(pushed)) {
    const st = await stat(join(pushed, name)).catch(() => null);
    if (st !== null && st.mtimeMs < cutoff) await drop(join(pushed, name), st.size);
  }

  // Leftovers: temp files of crashed writers and unfinished downloads no live process is working on.
  const now = Date.now();
  const tmp = join(root, "tmp");
  for (const name of await names(tmp)) {
    const st = await stat(join(tmp, name)).catch(() => null);
    if (st !== null && now - st.mtimeMs > STALE_TEMP_MS) await drop(join(tmp, name), st.size);
  }
  const partial = join(root, "partial");
  const files = await names(partial);
  for (const name of files) {
    const hex = name.slice(0, 64);
    if (!HEX64.test(hex) || name.endsWith(".lock") || keep.has(`blake3:${hex}`)) continue;
    const st = await stat(join(partial, name)).catch(() => null);
    if (st === null || st.mtimeMs >= cutoff) continue;
    // A private download (<hex>.<pid>-<rand>) is its process's alone; the shared one is guarded by its lock.
    const isPrivate = /^[0-9a-f]{64}\.\d+-/.test(name);
    if (isPrivate ? now - st.mtimeMs <= STALE_TEMP_MS : await lockHolderAlive(join(partial, `${hex}.lock`))) continue;
    await drop(join(partial, name), st.size);
  }
  return { removed, bytes };
}

async function itemOf(kind: CacheItem["kind"], hex: string, path: string): Promise<CacheItem | null> {
  const st = await stat(path).catch(() => null);
  if (st === null || !st.isFile()) return null;
  return { kind, digest: `blake3:${hex}`, size: st.size, lastUsed: st.mtime };
}

async function names(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    throw new DpkgError("E_IO", `cannot list ${dir}: ${(err as Error).message}`, { path: dir }, { cause: err });
  }
}
