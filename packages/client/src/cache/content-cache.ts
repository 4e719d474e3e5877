import { digestHex, digestStream, DpkgError, readManifest, verifyStream, type Digest, type ManifestEntry, type ManifestReader } from "@dpkg/core";
import { createReadStream } from "node:fs";
import { chmod, readdir, rm, stat, utimes } from "node:fs/promises";
import { dirname, join } from "node:path";
import { onLocalDisk } from "../local-disk.js";
import { publishFile, writeAndPublishSync, writeTempBytes, writeTempFile, writeTempWith } from "./atomic-file.js";
import { DirMaker } from "./dir-maker.js";
import { verifiedBytes } from "./verified-bytes.js";
import { listCache, pruneCache, type CacheItem } from "./cache-listing.js";
import { verifyCache, type CacheVerifyOptions, type CacheVerifyReport } from "./verify-cache.js";

export { defaultCacheDir } from "./cache-dir.js";
export type { CacheItem } from "./cache-listing.js";
export type { CacheVerifyOptions, CacheVerifyReport, DamagedItem } from "./verify-cache.js";

/** Bytes to store: a stream, or chunks already in memory. */
export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** A use refreshes a file's mtime at most this often: prune works in days, and a touch is a syscall. */
const TOUCH_INTERVAL_MS = 60 * 60 * 1000;
const STAT_BATCH = 256;

/**
 * The per-user content-addressed store, shared by all workspaces and safe for several processes:
 *
 * ```
 * <root>/blobs/<hex[0:2]>/<hex>     verified blob bytes, read-only
 * <root>/manifests/<hex>.jsonl      verified canonical manifests, read-only
 * <root>/tmp/                       files being written (published by rename)
 * <root>/partial/<hex>[.json|.lock] resumable downloads of large blobs (see partial-blob.ts)
 * <root>/pushed/<hex>.jsonl         what the last push of a folder read (see ../push/push-record.ts)
 * ```
 *
 * Nothing becomes visible under a digest before its bytes were hashed and found equal to it. A file
 * already present is trusted when its size is right: a full re-hash of every hit would make a warm
 * install as slow as a cold one. Deep checks (`dpkg cache verify`, reading through `verifyStream`) re-hash.
 * Files are not fsynced: the size check also covers what a crash can leave (see atomic-file.ts).
 * `lastUsed` is the file's mtime, refreshed on use, so that prune drops the least recently used.
 */
export class ContentCache {
  readonly root: string;
  readonly #dirs = new DirMaker();
  readonly #remakeTmp = (): Promise<void> => this.#dirs.remake(this.tmpDir);
  #local: Promise<boolean> | undefined;

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
   * Of `blobs`, those not cached with their size. A shard folder that does not exist answers for
   * all its blobs at once, so a cold cache costs one readdir rather than a failed stat per blob.
   */
  async missingBlobs<T extends { digest: Digest; size: number }>(blobs: readonly T[]): Promise<T[]> {
    const shards = await readdir(join(this.root, "blobs")).then(
      (names) => new Set(names),
      (err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT" || err.code === "ENOTDIR") return new Set<string>();
        throw new DpkgError("E_IO", `cannot read the cache at ${this.root}: ${err.message}`, { path: this.root }, { cause: err });
      },
    );
    const missing: T[] = [];
    const toCheck: T[] = [];
    for (const b of blobs) (shards.has(digestHex(b.digest).slice(0, 2)) ? toCheck : missing).push(b);
    // Stats in parallel batches: a warm install of 100,000 entries should not wait on them one by one.
    for (let i = 0; i < toCheck.length; i += STAT_BATCH) {
      const batch = toCheck.slice(i, i + STAT_BATCH);
      const found = await Promise.all(batch.map((b) => this.hasBlob(b.digest, b.size)));
      batch.forEach((b, j) => found[j] !== true && missing.push(b));
    }
    return missing;
  }

  /**
   * Verifies `source` (streamed through verifyStream, or hashed in memory when it is an array of
   * chunks) into a temp file and publishes it: atomic, idempotent, safe for several processes.
   * Throws E_INTEGRITY / E_SIZE_MISMATCH and leaves nothing on a mismatch. When the blob is already
   * cached, returns at once without reading `source`; `fresh` skips that look for a blob the caller
   * has just found missing (a copy that appeared meanwhile is replaced by the same verified bytes).
   * `what` names the bytes in error messages (e.g. the entry path); the digest by default.
   */
  async putBlob(digest: Digest, size: number, source: ByteSource, what: string = digest, options: { fresh?: boolean } = {}): Promise<string> {
    const dest = this.blobPath(digest);
    if (options.fresh !== true && (await this.present(dest, size))) return dest;
    await this.#dirs.ensure(this.tmpDir);
    if (!Array.isArray(source)) {
      await this.#publish(await writeTempFile(this.tmpDir, verifyStream(toAsync(source), { digest, size, what }), this.#remakeTmp), dest);
      return dest;
    }
    const bytes = verifiedBytes(source as Uint8Array[], { digest, size, what });
    // Bytes in memory on a local disk: written and published synchronously (see ../local-disk.ts).
    this.#local ??= onLocalDisk(this.tmpDir);
    if ((await this.#local) && writeAndPublishSync(this.tmpDir, bytes, dest)) return dest;
    await this.#publish(await writeTempBytes(this.tmpDir, bytes, this.#remakeTmp), dest);
    return dest;
  }

  /**
   * Publishes a file already on this filesystem (a finished resumable download) once it hashes to
   * `digest`: hashed whole here, unless the caller hashed its bytes as it wrote them (`actual`). The
   * file is moved, not copied; on a mismatch it is deleted and E_INTEGRITY is thrown.
   */
  async importFile(digest: Digest, size: number, file: string, what: string = digest, actual?: { digest: Digest; size: number }): Promise<string> {
    const dest = this.blobPath(digest);
    const found = actual ?? (await digestStream(createReadStream(file, { highWaterMark: 1024 * 1024 })));
    if (found.digest !== digest || found.size !== size) {
      await rm(file, { force: true });
      throw new DpkgError(
        "E_INTEGRITY",
        `${what}: the downloaded bytes hash to ${found.digest} (${found.size} bytes), expected ${digest} (${size} bytes)`,
        { expected: digest, actual: found.digest, size: found.size },
      );
    }
    await chmod(file, 0o444);
    await this.#publish(file, dest);
    return dest;
  }

  async hasManifest(digest: Digest): Promise<boolean> {
    return this.present(this.manifestPath(digest));
  }

  /**
   * Verifies that the bytes hash to `digest` and decode as a canonical manifest before they become
   * visible, in one pass: the bytes are decoded as they are written. `onEntry` sees each decoded
   * entry on the way; they are to be trusted only once this resolves. With `onEntry`, a manifest
   * that is cached already is read from `source` all the same (the caller wants its entries).
   */
  async putManifest(digest: Digest, source: ByteSource, onEntry?: (entry: ManifestEntry) => void): Promise<string> {
    const dest = this.manifestPath(digest);
    if (onEntry === undefined && (await this.present(dest))) return dest;
    await this.#dirs.ensure(this.tmpDir);
    const verified = verifyStream(toAsync(source), { digest, what: `manifest ${digest}` });
    const temp = await writeTempWith(this.tmpDir, this.#remakeTmp, async (write) => {
      try {
        const reader = await readManifest(
          (async function* () {
            for await (const chunk of verified) {
              await write(chunk);
              yield chunk;
            }
          })(),
        );
        // Decoding every line to the end is the check (and drains `verified`, which checks the digest).
        for await (const entry of reader.entries) onEntry?.(entry);
      } catch (err) {
        // The digest speaks first: bytes damaged on the way are E_INTEGRITY, not a malformed
        // manifest. Reading the rest (as the whole body was read before decoding, before) tells.
        for await (const _ of verified) {
          // only the digest check matters now
        }
        throw err;
      }
    });
    await this.#publish(temp, dest);
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

  /** Re-hashes every cached file; removes damaged ones unless asked not to (see verify-cache.ts). */
  verify(options: CacheVerifyOptions = {}): Promise<CacheVerifyReport> {
    return verifyCache(this.root, options);
  }

  async #publish(temp: string, dest: string): Promise<void> {
    const dir = dirname(dest);
    await this.#dirs.ensure(dir);
    await publishFile(temp, dest, () => this.#dirs.remake(dir));
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
