import { digestStream, type Digest } from "@dpkg/core";
import { createReadStream } from "node:fs";
import { rm } from "node:fs/promises";
import { runLimited } from "../run-limited.js";
import { cachePathOf, listCache, type CacheItem } from "./cache-listing.js";

export interface DamagedItem {
  kind: CacheItem["kind"];
  /** The digest the file is stored under. */
  digest: Digest;
  /** What its bytes hash to now, or null when they could not be read. */
  actual: Digest | null;
  size: number;
  /** Why it could not be read, when it could not. */
  error?: string;
}

export interface CacheVerifyReport {
  root: string;
  blobs: number;
  manifests: number;
  bytes: number;
  damaged: DamagedItem[];
  /** How many damaged files were removed (all of them unless `keepDamaged`). */
  removed: number;
}

export interface CacheVerifyOptions {
  /** Report damaged files but leave them in place. */
  keepDamaged?: boolean;
  /** Files hashed at once (default 4, the size of Node's thread pool). */
  concurrency?: number;
  onProgress?: (p: { files: number; bytes: number }) => void;
}

/**
 * Re-hashes every cached blob and manifest against the digest it is stored under. Installs trust a
 * cached file by its size alone (see content-cache.ts), so a file damaged in place (bit rot, a disk
 * that lost writes, a hand in the cache folder) would be copied into every workspace that needs it.
 * Damaged files are removed unless `keepDamaged`: the next install fetches them again, verified.
 */
export async function verifyCache(root: string, options: CacheVerifyOptions = {}): Promise<CacheVerifyReport> {
  const report: CacheVerifyReport = { root, blobs: 0, manifests: 0, bytes: 0, damaged: [], removed: 0 };
  const check = async (item: CacheItem): Promise<void> => {
    const path = cachePathOf(root, item);
    let actual: Digest | null = null;
    let error: string | undefined;
    try {
      actual = (await digestStream(createReadStream(path, { highWaterMark: 1024 * 1024 }))).digest;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return; // removed meanwhile (a prune): nothing to judge
      error = (err as Error).message;
    }
    if (item.kind === "blob") report.blobs += 1;
    else report.manifests += 1;
    report.bytes += item.size;
    options.onProgress?.({ files: report.blobs + report.manifests, bytes: report.bytes });
    if (actual === item.digest) return;
    report.damaged.push({ kind: item.kind, digest: item.digest, actual, size: item.size, ...(error === undefined ? {} : { error }) });
    if (options.keepDamaged !== true) {
      await rm(path, { force: true });
      report.removed += 1;
    }
  };
  // The listing is read as checks finish; a damaged file that cannot be removed ends the run.
  await runLimited(listCache(root), options.concurrency ?? 4, check);
  report.damaged.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  return report;
}

