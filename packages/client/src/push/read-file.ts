import { DpkgError, isDpkgError, verifyStream, type Digest } from "@dpkg/core";
import { constants, type Stats } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";

const CHUNK_BYTES = 256 * 1024;

// O_NOFOLLOW: a file swapped for a symlink after the walk must not be read through (it could point
// outside the folder). O_NONBLOCK: a file swapped for a FIFO must not hang the push at open().
export const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/** A file about to be read: `path` is its entry path (for messages), `source` what to open. */
export interface FileSource {
  path: string;
  source: string;
}

const CHANGED_HINT =
  "Wait until nothing writes to the folder (or copy it somewhere stable) and run the push again; blobs already sent are not sent again.";

/** The folder changed between the walk, the hash and the upload: the push cannot describe it any more. */
export function folderChangedError(file: FileSource, what: string, cause?: unknown): DpkgError {
  return new DpkgError(
    "E_INTEGRITY",
    `file ${JSON.stringify(file.path)} changed while it was being pushed (${what}); nothing was committed`,
    { path: file.path, file: file.source },
    { cause, hint: CHANGED_HINT },
  );
}

async function openRegular(file: FileSource): Promise<{ handle: FileHandle; stats: Stats }> {
  let handle: FileHandle;
  try {
    handle = await open(file.source, OPEN_FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw folderChangedError(file, "it was removed", err);
    if (code === "ELOOP") throw folderChangedError(file, "it was replaced by a symlink", err);
    throw ioError(file, err);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw folderChangedError(file, "it is no longer a regular file");
    return { handle, stats };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

export function ioError(file: FileSource, err: unknown): DpkgError {
  const code = (err as NodeJS.ErrnoException).code ?? String(err);
  return new DpkgError("E_IO", `cannot read ${JSON.stringify(file.source)}: ${code}`, { path: file.path, file: file.source }, { cause: err });
}

/**
 * The bytes of a regular file, in fresh chunks that callers may keep; or, given `scratch`, in views
 * of it that are valid only until the next chunk is asked for (hashing keeps nothing, and a reused
 * buffer spares the garbage collector a fresh one per chunk).
 */
export async function* readFileChunks(file: FileSource, scratch?: Uint8Array): AsyncGenerator<Uint8Array, void, undefined> {
  const { handle, stats } = await openRegular(file);
  let total = 0;
  try {
    for (;;) {
      // Sized to what is left (plus one byte to see the end, or growth): small files cost small buffers.
      const want = Math.min(scratch?.byteLength ?? CHUNK_BYTES, Math.max(1, stats.size - total + 1));
      // Not zeroed: only the bytes read are ever handed out.
      const buffer = scratch ?? Buffer.allocUnsafe(want);
      let read: number;
      try {
        ({ bytesRead: read } = await handle.read(buffer, 0, want, null));
      } catch (err) {
        throw ioError(file, err);
      }
      if (read === 0) return;
      total += read;
      yield read === buffer.byteLength ? buffer : buffer.subarray(0, read);
    }
  } finally {
    await handle.close();
  }
}

/**
 * The file's bytes, checked against what hashing found: if it changed since (other size or digest),
 * this throws a folderChangedError instead of the generic integrity error, so the user learns which
 * file moved under the push. The server would refuse the wrong bytes anyway.
 */
export async function* readVerifiedFile(
  file: FileSource & { digest: Digest; size: number },
): AsyncGenerator<Uint8Array, void, undefined> {
  try {
    yield* verifyStream(readFileChunks(file), { digest: file.digest, size: file.size, what: `file ${JSON.stringify(file.path)}` });
  } catch (err) {
    if (isDpkgError(err, "E_SIZE_MISMATCH")) throw folderChangedError(file, `its size is no longer ${file.size} bytes`, err);
    if (isDpkgError(err, "E_INTEGRITY") && err.details.expected === file.digest) {
      throw folderChangedError(file, "its content no longer hashes to " + file.digest, err);
    }
    throw err;
  }
}
