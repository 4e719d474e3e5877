import { digestHex, digestStream, DpkgError, readManifest, verifyStream, type Digest, type ManifestReader } from "@dpkg/core";
import { createReadStream } from "node:fs";
import { chmod, rm, stat, utimes } from "node:fs/promises";
import { join } from "node:path";
import { publishFile, writeTempFile } from "./atomic-file.js";
import { listCache, pruneCache, type CacheItem } from "./cache-listing.js";

export { defaultCacheDir } from "./cache-dir.js";
export type { CacheItem } from "./cache-listing.js";

/** Bytes to store: a stream, or chunks already in memory. */
export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** A use refreshes a file's mtime at most this often: prune works in days, and a touch is a syscall. */
const TOUCH_INTERVAL_MS = 60 * 60 * 1000;

/**
 * The per-user content-addressed store, shared by all workspaces and safe for several processes:
 *
 * ```
 * <root>/blobs/<hex[0:2]>/<hex>     verified blob bytes, read-only
 * <root>/manifests/<hex>.jsonl      verified canonical manifests, read-only
 * <root>/tmp/                       files being written (published by link or rename)
 * <root>/partial/<hex>[.json|.lock] resumable downloads of large blobs (see partial-blob.ts)
 * ```
 *
 * Nothing becomes visible under a digest before its bytes were hashed and found equal to it. A file
 * already present is trusted when its size is right: a full re-hash of every hit would make a warm
 * install as slow as a cold one. Deep checks (`dpkg verify`, reading through `verifyStream`) re-hash.
 * `lastUsed` is the file's mtime, refreshed on use, so that prune drops the least recently used.
 */
export class ContentCache {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  get tmpDir(): string {
    return join(this.root, "tmp");
  }

  get partialDir(): string {
    return join(this.root, "partial");
  }

  blobPath(digest: Digest): string {
    const hex = digestHex(digest);
    return join(this.root, "blobs", hex.slice(0, 2), hex);
  }

  manifestPath(digest: Digest): string {
    return join(this.root, "manifests", `${digestHex(digest)}.jsonl`);
  }

  /** True when the blob is cached (with this size, when given: a wrong size means a damaged file). */
  async hasBlob(digest: Digest, size?: number): Promise<boolean> {
    return this.present(this.blobPath(digest), size);
  }

  /**
   * Streams `source` through verifyStream into a temp file, fsyncs it and publishes it: atomic,
   * idempotent, safe for several processes. Throws E_INTEGRITY / E_SIZE_MISMATCH and leaves nothing
   * on a mismatch. When the blob is already cached, returns at once without reading `source`.
   * `what` names the bytes in error messages (e.g. the entry path); the digest by default.
   */
  async putBlob(digest: Digest, size: number, source: ByteSource, what: string = digest): Promise<string> {
    const dest = this.blobPath(digest);
    if (await this.present(dest, size)) return dest;
    const temp = await writeTempFile(this.tmpDir, verifyStream(toAsync(source), { digest, size, what }));
    await publishFile(temp, dest, size);
    return dest;
  }

  /**
   * Publishes a file already on this filesystem (a finished resumable download) after hashing it
   * whole. The file is moved, not copied; on a mismatch it is deleted and E_INTEGRITY is thrown.
   */
  async importFile(digest: Digest, size: number, file: string, what: string = digest): Promise<string> {
    const dest = this.blobPath(digest);
    const actual = await digestStream(createReadStream(file));
    if (actual.digest !== digest || actual.size !== size) {
      await rm(file, { force: true });
      throw new DpkgError(
        "E_INTEGRITY",
        `${what}: the downloaded bytes hash to ${actual.digest} (${actual.size} bytes), expected ${digest} (${size} bytes)`,
        { expected: digest, actual: actual.digest, size: actual.size },
      );
    }
    await chmod(file, 0o444);
    await publishFile(file, dest, size);
    return dest;
  }

  async hasManifest(digest: Digest): Promise<boolean> {
    return this.present(this.manifestPath(digest));
  }

  /** Verifies that the bytes hash to `digest` and decode as a canonical manifest before they become visible. */
  async putManifest(digest: Digest, source: ByteSource): Promise<string> {
    const dest = this.manifestPath(digest);
    if (await this.present(dest)) return dest;
    const temp = await writeTempFile(this.tmpDir, verifyStream(toAsync(source), { digest, what: `manifest ${digest}` }));
    try {
      const reader = await readManifest(createReadStream(temp));
      for await (const _ of reader.entries) {
        // decoding every line is the check
      }
      const size = (await stat(temp)).size;
      await publishFile(temp, dest, size);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    return dest;
  }

  /** The cached manifest, or null when absent. */
  async openManifest(digest: Digest): Promise<ManifestReader | null> {
    const path = this.manifestPath(digest);
    if (!(await this.present(path))) return null;
    return readManifest(createReadStream(path));
  }

  list(): AsyncIterable<CacheItem> {
    return listCache(this.root);
  }

  /**
   * Removes blobs and manifests not used since `olderThan` (all of them without it), except the
   * digests in `keep`, plus leftovers of crashed writers. A file removed while another process is
   * about to read it is fetched again by that process: prune never makes anything wrong, only slower.
   */
  prune(options: { olderThan?: Date; keep?: Set<Digest> } = {}): Promise<{ removed: number; bytes: number }> {
    return pruneCache(this.root, options);
  }

  /** Whether `path` is a file (of `size` bytes, when given); refreshes its mtime when stale. */
  private async present(path: string, size?: number): Promise<boolean> {
    const st = await stat(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT" || err.code === "ENOTDIR") return null;
      throw new DpkgError("E_IO", `cannot read the cache at ${path}: ${err.message}`, { path }, { cause: err });
    });
    if (st === null || !st.isFile() || (size !== undefined && st.size !== size)) return false;
    const now = Date.now();
    if (now - st.mtimeMs > TOUCH_INTERVAL_MS) {
      // Owners may set times on their read-only files; a cache shared read-only by others may not.
      await utimes(path, now / 1000, now / 1000).catch(() => undefined);
    }
    return true;
  }
}

async function* toAsync(source: ByteSource): AsyncGenerator<Uint8Array, void, undefined> {
  // for await accepts both kinds; verifyStream's signature wants the async one.
  for await (const chunk of source) yield chunk;
}
