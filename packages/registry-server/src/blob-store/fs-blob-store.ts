import { randomUUID } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import { link, mkdir, open, opendir, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { Readable } from "node:stream";
import { DpkgError } from "@dpkg/core";
import {
  assertValidKey,
  assertValidPrefix,
  assertValidRange,
  isValidKey,
  iterateSource,
  objectNotFound,
  rangeOutsideObject,
  type BlobSource,
  type BlobStat,
  type BlobStore,
  type ByteRange,
  type ListedBlob,
  type PutOptions,
  type PutResult,
} from "./blob-store.js";

/** Temp files live inside the root so that publishing them is a same-filesystem link or rename. */
const TMP_DIR = ".tmp";

/**
 * The embedded default: the bucket layout under a local folder. A put writes a temp file, fsyncs it and
 * publishes it with link(2), which fails with EEXIST if the key exists: an atomic exclusive create, so a
 * reader never sees a partial object and a concurrent writer never replaces a published one.
 */
export class FsBlobStore implements BlobStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  describe(): string {
    return `filesystem:${this.root}`;
  }

  async put(key: string, source: BlobSource, options: PutOptions = {}): Promise<PutResult> {
    const path = this.pathOf(key);
    if (!options.overwrite) {
      const existing = await this.stat(key);
      if (existing) return { created: false, size: existing.size };
    }
    const tmp = join(this.root, TMP_DIR, randomUUID());
    const failed = (err: unknown): never => {
      throw ioError("put", key, err);
    };
    try {
      const size = await writeDurably(tmp, source, failed);
      await mkdir(dirname(path), { recursive: true }).catch(failed);
      if (options.overwrite) {
        await rename(tmp, path).catch(failed);
      } else if (!(await linkExclusive(tmp, path).catch(failed))) {
        const existing = await this.stat(key);
        // EEXIST from a folder (the key is a prefix of other keys) is not an object the put could skip.
        if (!existing) {
          throw new DpkgError("E_IO", `filesystem blob store: put ${key} failed (a folder is in the way)`, { key });
        }
        return { created: false, size: existing.size };
      }
      await syncDirectory(dirname(path));
      return { created: true, size };
    } finally {
      // After a link the temp name is a second link to the published file; after a rename it is gone.
      await unlink(tmp).catch(() => undefined);
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const path = this.pathOf(key);
    if (range) assertValidRange(key, range);
    let handle: FileHandle;
    try {
      handle = await open(path, fsConstants.O_RDONLY);
    } catch (err) {
      if (isMissing(err)) throw objectNotFound(key);
      throw ioError("get", key, err);
    }
    try {
      // Stat the open handle, not the path, so a concurrent delete cannot make size and bytes disagree.
      const info = await handle.stat();
      if (!info.isFile()) throw objectNotFound(key);
      if (range && range.end > info.size) throw rangeOutsideObject(key, range, info.size);
      const { start, end } = range ?? { start: 0, end: info.size };
      if (start === end) {
        await handle.close();
        return Readable.from([]);
      }
      return handle.createReadStream({ start, end: end - 1, autoClose: true });
    } catch (err) {
      await handle.close();
      throw ioError("get", key, err);
    }
  }

  async stat(key: string): Promise<BlobStat | null> {
    try {
      const info = await stat(this.pathOf(key));
      return info.isFile() ? { size: info.size, modified: info.mtime } : null;
    } catch (err) {
      if (isMissing(err)) return null;
      throw ioError("stat", key, err);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.pathOf(key));
    } catch (err) {
      if (!isMissing(err)) throw ioError("delete", key, err);
    }
  }

  async *list(prefix: string): AsyncGenerator<ListedBlob, void, undefined> {
    assertValidPrefix(prefix);
    // Start at the deepest folder the prefix names in full; the rest of the prefix filters names.
    const slash = prefix.lastIndexOf("/");
    yield* this.walk(slash === -1 ? "" : prefix.slice(0, slash + 1), prefix);
  }

  /** Always null: there is no URL to hand out, so the registry serves these bytes itself. */
  async presignGet(key: string, _expiresInSeconds: number, _range?: ByteRange): Promise<string | null> {
    assertValidKey(key);
    return null;
  }

  private async *walk(dirKey: string, prefix: string): AsyncGenerator<ListedBlob, void, undefined> {
    let dir;
    try {
      dir = await opendir(join(this.root, dirKey));
    } catch (err) {
      if (isMissing(err)) return;
      throw ioError("list", prefix, err);
    }
    for await (const entry of dir) {
      const key = dirKey + entry.name;
      // Dot-names (the temp folder, editor or OS litter) are never keys; see the key grammar.
      if (!isValidKey(key)) continue;
      if (entry.isDirectory()) {
        if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) yield* this.walk(`${key}/`, prefix);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        const info = await this.stat(key);
        // A key deleted while we walk is simply not listed.
        if (info) yield { key, ...info };
      }
    }
  }

  private pathOf(key: string): string {
    assertValidKey(key);
    return join(this.root, ...key.split("/"));
  }
}

/**
 * Writes `source` to a new file and fsyncs it; returns the byte count. Removing the file is the caller's
 * job. Only filesystem errors go through `failed`: the source's own errors must reach the caller unchanged.
 */
async function writeDurably(path: string, source: BlobSource, failed: (err: unknown) => never): Promise<number> {
  await mkdir(dirname(path), { recursive: true }).catch(failed);
  const handle = await open(path, "wx").catch(failed);
  try {
    let size = 0;
    for await (const chunk of iterateSource(source)) {
      // One chunk in memory at a time: the bound on memory is the source's chunk size.
      await writeAll(handle, chunk).catch(failed);
      size += chunk.byteLength;
    }
    await handle.sync().catch(failed);
    return size;
  } finally {
    await handle.close();
  }
}

async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
    offset += bytesWritten;
  }
}

/** Publishes `tmp` at `path` unless `path` exists; false if it did. */
async function linkExclusive(tmp: string, path: string): Promise<boolean> {
  try {
    await link(tmp, path);
    return true;
  } catch (err) {
    if (errnoCode(err) === "EEXIST") return false;
    throw err;
  }
}

/** Makes a new directory entry durable; best effort where directories cannot be opened (Windows). */
async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, fsConstants.O_RDONLY);
    await handle.sync();
  } catch {
    // Durability of the entry is an optimisation over the OS's own flush; the write itself succeeded.
  } finally {
    await handle?.close();
  }
}

function errnoCode(err: unknown): string | undefined {
  return err instanceof Error && "code" in err && typeof err.code === "string" ? err.code : undefined;
}

function isMissing(err: unknown): boolean {
  const code = errnoCode(err);
  return code === "ENOENT" || code === "ENOTDIR";
}

/** A filesystem error as E_IO, naming the operation and key but not the root; DpkgErrors pass through. */
function ioError(op: string, key: string, err: unknown): DpkgError {
  if (err instanceof DpkgError) return err;
  const errno = errnoCode(err) ?? "unknown error";
  return new DpkgError(
    "E_IO",
    `filesystem blob store: ${op} ${key} failed (${errno})`,
    { key, op, errno },
    {
      cause: err,
    },
  );
}
