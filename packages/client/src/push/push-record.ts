import { digestBytes, digestHex, isDigest, type Digest } from "@dpkg/core";
import { mkdir, open } from "node:fs/promises";
import { join } from "node:path";
import { fileLines } from "../file-lines.js";
import { writeFileAtomic } from "../workspace/json-file.js";
import type { FileStamp, WalkedFile } from "./walk.js";

/** What the record holds of a file: the parsed line itself, checked (one object per file). */
interface KnownFile extends FileStamp {
  size: number;
  digest: Digest;
}

/**
 * What the last push of a folder read: per file, its size and stamp (inode, mtime, ctime) when it was
 * walked, and the digest of its bytes. The next push of the folder trusts that digest for a file whose
 * size and stamp are unchanged and reads only the others: a terabyte folder with a few new files is
 * not read again whole. This is what git's index does: content cannot change without the ctime
 * moving, and no user call sets a ctime back. A file changed within RACY_MS of the walk that recorded
 * it may have changed again within the same timestamp tick, so it is read again (git's "racily
 * clean" entries). Whatever is sent is still verified by the registry, and a blob the registry lacks
 * is read (and hashed) again before it is sent.
 *
 * Kept in the per-user cache folder, `<cache>/pushed/<hash of the folder's real path>.jsonl`, and
 * written only after a commit succeeded; a record that cannot be read is ignored, never trusted.
 */
export class PushRecord {
  private constructor(
    private readonly file: string,
    private readonly folder: string,
    private readonly known: Map<string, KnownFile>,
    private readonly walkedAt: number,
  ) {}

  /** The record of `folder` (a real path) under the cache `root`; empty when there is none. */
  static async load(cacheRoot: string, folder: string): Promise<PushRecord> {
    const file = join(cacheRoot, "pushed", `${digestHex(digestBytes(folder))}.jsonl`);
    const known = new Map<string, KnownFile>();
    let walkedAt = 0;
    const handle = await open(file).catch(() => null);
    if (handle === null) return new PushRecord(file, folder, known, walkedAt);
    try {
      let header: Record<string, unknown> | null | undefined;
      for await (const text of fileLines(handle)) {
        const line = parse(text);
        if (header === undefined) {
          header = line;
          if (header?.version !== VERSION || header.folder !== folder || typeof header.walkedAt !== "number") break;
          walkedAt = header.walkedAt;
          continue;
        }
        if (line === null) continue;
        const { path, size, ino, mtimeMs, ctimeMs, digest } = line;
        if (typeof path !== "string" || typeof size !== "number" || !isDigest(digest)) continue;
        if (typeof ino !== "number" || typeof mtimeMs !== "number" || typeof ctimeMs !== "number") continue;
        known.set(path, line as unknown as KnownFile);
      }
    } catch {
      // A record that cannot be read is ignored, never trusted (nor half trusted).
      known.clear();
      walkedAt = 0;
    } finally {
      await handle.close();
    }
    return new PushRecord(file, folder, known, walkedAt);
  }

  /**
   * The digest read from this very version of the file by the last push, if it can be trusted. A
   * push asks once per path, so the record forgets the path once asked: its memory shrinks as the
   * push's own grows.
   */
  takeDigest(file: WalkedFile): Digest | undefined {
    const was = this.known.get(file.path);
    if (was === undefined) return undefined;
    this.known.delete(file.path);
    if (was.size !== file.size) return undefined;
    if (was.ino !== file.ino || was.mtimeMs !== file.mtimeMs || was.ctimeMs !== file.ctimeMs) return undefined;
    if (Math.max(file.mtimeMs, file.ctimeMs) >= this.walkedAt - RACY_MS) return undefined;
    return was.digest;
  }

  /** Records what this push read, walked at `walkedAt` (ms since the epoch, taken before the walk). */
  async save(files: readonly (WalkedFile & { digest: Digest })[], walkedAt: number): Promise<void> {
    await mkdir(join(this.file, ".."), { recursive: true });
    await writeFileAtomic(this.file, recordLines(this.folder, files, walkedAt));
  }
}

function* recordLines(folder: string, files: readonly (WalkedFile & { digest: Digest })[], walkedAt: number): Generator<string, void, undefined> {
  yield JSON.stringify({ version: VERSION, folder, walkedAt }) + "\n";
  for (const { path, size, ino, mtimeMs, ctimeMs, digest } of files) {
    yield JSON.stringify({ path, size, ino, mtimeMs, ctimeMs, digest }) + "\n";
  }
}

const VERSION = 1;
/** Timestamps this close to the walk are not trusted: file systems stamp in ticks of up to a few ms. */
const RACY_MS = 2000;

function parse(line: string): Record<string, unknown> | null {
  if (line === "") return null;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
