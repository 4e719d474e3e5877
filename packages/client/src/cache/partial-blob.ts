import { digestHex, DpkgError, type Digest } from "@dpkg/core";
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm, writeFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { tempName, writevAll } from "./atomic-file.js";
import type { ContentCache } from "./content-cache.js";
import { RangeHasher, type Range } from "./range-hasher.js";

export type { Range } from "./range-hasher.js";

/**
 * A resumable download of one large blob, in fixed-size ranges written at their offsets:
 *
 * ```
 * <root>/partial/<hex>         the bytes so far (sparse until every range is in)
 * <root>/partial/<hex>.json    sidecar {size, rangeBytes, done: [range indexes]}, replaced atomically
 * <root>/partial/<hex>.lock    the pid of the process writing it
 * ```
 *
 * A range is recorded done once its bytes are written, without fsync: after a kill the page cache
 * still holds them, and after a crash of the machine a range recorded done may read back as zeros,
 * which the digest check catches (readLargeBlob then downloads the blob again, once). The file is
 * hashed as it is written (RangeHasher), and trusted only once the whole of it hashes to the digest.
 * A second process that finds the lock held by a live pid downloads into a private file instead,
 * without resume: two writers on one file could publish bytes the other is still changing.
 */

export interface PartialBlob {
  readonly digest: Digest;
  readonly size: number;
  /** Ranges still to fetch, in order. */
  missing(): Range[];
  /** Bytes already downloaded (by this or an earlier, interrupted run). */
  doneBytes(): number;
  /** Where in the blob the bytes still missing from `range` start: a retried range continues there. */
  resumeAt(range: Range): number;
  /**
   * Writes the rest of one range from `source`, which starts at `resumeAt(range)`, cut to the
   * range's end; throws E_NETWORK when it ends short (what it wrote stays, for the retry).
   */
  write(range: Range, source: AsyncIterable<Uint8Array>, onBytes?: (n: number) => void): Promise<void>;
  /** Checks the digest of what was written and publishes the file into the cache; on a mismatch deletes it (E_INTEGRITY). */
  finish(what: string): Promise<string>;
  /** Keeps what was downloaded for the next run (when resumable) and lets go of the file. */
  release(): Promise<void>;
}

interface Sidecar {
  size: number;
  rangeBytes: number;
  done: number[];
}

const WRITE_BATCH_BYTES = 1024 * 1024;

export async function openPartialBlob(cache: ContentCache, digest: Digest, size: number, rangeBytes: number): Promise<PartialBlob> {
  const dir = cache.partialDir;
  await mkdir(dir, { recursive: true });
  // Sidecar temp files go to the cache's tmp folder: one orphaned by a killed process is cleaned by
  // prune there, and never lingers beside the downloads in partial/.
  await mkdir(cache.tmpDir, { recursive: true });
  const hex = digestHex(digest);
  const lock = join(dir, `${hex}.lock`);
  const shared = await acquireLock(lock);
  const base = shared ? join(dir, hex) : join(dir, `${hex}.${process.pid}-${randomBytes(4).toString("hex")}`);
  const sidecarPath = `${base}.json`;
  const previous = shared ? await readSidecar(sidecarPath) : null;
  const done = new Set(previous !== null && previous.size === size && previous.rangeBytes === rangeBytes ? previous.done : []);
  let handle: FileHandle;
  try {
    handle = await openData(base, done.size > 0);
    await handle.truncate(size);
  } catch (err) {
    if (shared) await rm(lock, { force: true });
    throw err;
  }

  const ranges: Range[] = Array.from({ length: Math.max(1, Math.ceil(size / rangeBytes)) }, (_, index) => ({
    index,
    start: index * rangeBytes,
    end: Math.min(size, (index + 1) * rangeBytes),
  }));
  const hasher = new RangeHasher(ranges, handle, done);
  let saving: Promise<void> = Promise.resolve();
  const save = (): Promise<void> => {
    // Sidecar writes are chained so that an older list never lands after a newer one.
    saving = saving.then(async () => {
      const temp = tempName(cache.tmpDir);
      await writeFile(temp, JSON.stringify({ size, rangeBytes, done: [...done].sort((a, b) => a - b) } satisfies Sidecar));
      await rename(temp, sidecarPath);
    });
    return saving;
  };
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    hasher.stop();
    await saving.catch(() => undefined);
    await handle.close();
    if (shared) await rm(lock, { force: true });
  };

  return {
    digest,
    size,
    missing: () => ranges.filter((r) => !done.has(r.index)),
    doneBytes: () => ranges.reduce((n, r) => n + (done.has(r.index) ? r.end - r.start : 0), 0),
    resumeAt: (range) => range.start + hasher.written(range.index),
    async write(range, source, onBytes) {
      const length = range.end - range.start;
      // Chunks are gathered and written with one writev per MiB: a 64 KiB write each made the
      // thread pool round trips, not the disk, the cost of a large download.
      let batch: Uint8Array[] = [];
      let batched = 0;
      const flush = async (): Promise<void> => {
        const parts = batch;
        const n = batched;
        batch = [];
        batched = 0;
        await writevAll(handle, parts, range.start + hasher.written(range.index));
        for (const part of parts) hasher.wrote(range.index, part);
        onBytes?.(n);
      };
      for await (const chunk of source) {
        const room = length - hasher.written(range.index) - batched;
        // An object store may send more than the range asked for: the rest is not ours.
        batch.push(chunk.byteLength > room ? chunk.subarray(0, room) : chunk);
        batched += Math.min(room, chunk.byteLength);
        if (hasher.written(range.index) + batched === length) break;
        if (batched >= WRITE_BATCH_BYTES) await flush();
      }
      // A stream that failed throws above, and the batch is dropped: the retry fetches it again.
      if (batched > 0) await flush();
      const written = hasher.written(range.index);
      if (written < length) {
        throw new DpkgError("E_NETWORK", `the download of ${digest} ended after ${written} of ${length} bytes of range ${range.start}-${range.end - 1}`);
      }
      done.add(range.index);
      await save();
    },
    async finish(what) {
      // Publish before letting go of the lock: a process that took the lock earlier could open the
      // file for writing just as it becomes the cached blob.
      try {
        const actual = await hasher.digest();
        await saving;
        await rm(sidecarPath, { force: true });
        return await cache.importFile(digest, size, base, what, actual);
      } finally {
        await close();
      }
    },
    async release() {
      await close();
      if (!shared) await Promise.all([rm(base, { force: true }), rm(sidecarPath, { force: true })]);
    },
  };
}

async function openData(path: string, resume: boolean): Promise<FileHandle> {
  if (resume) {
    try {
      return await open(path, "r+");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  // Without a sidecar the old bytes prove nothing: start from an empty file.
  return open(path, "w+", 0o600);
}

async function readSidecar(path: string): Promise<Sidecar | null> {
  try {
    const value = JSON.parse(await readFile(path, "utf8")) as Partial<Sidecar>;
    if (typeof value.size !== "number" || typeof value.rangeBytes !== "number" || !Array.isArray(value.done)) return null;
    return { size: value.size, rangeBytes: value.rangeBytes, done: value.done.filter((i): i is number => Number.isInteger(i)) };
  } catch {
    return null; // absent or damaged: start over
  }
}

/** True when this process now holds the lock; false when a live process does. Stale locks are taken over. */
async function acquireLock(path: string): Promise<boolean> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(path, String(process.pid), { flag: "wx" });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    if (await lockHolderAlive(path)) return false;
    await rm(path, { force: true });
  }
  return false;
}

/** Whether the pid in a lock file names a running process (a lock left by a killed run does not). */
export async function lockHolderAlive(path: string): Promise<boolean> {
  const text = await readFile(path, "utf8").catch(() => null);
  if (text === null) return false;
  // Empty: its owner created it and has not written its pid yet.
  if (text.trim() === "") return true;
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
