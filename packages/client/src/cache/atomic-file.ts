import { randomBytes } from "node:crypto";
import { link, mkdir, open, rename, rm, stat, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";

/**
 * Writes a stream to a fresh file in `tmpDir`, flushed to disk and made read-only. If the stream
 * throws (a digest mismatch, a dropped connection), the temp file is removed and the error passes on.
 */
export async function writeTempFile(tmpDir: string, source: AsyncIterable<Uint8Array>): Promise<string> {
  await mkdir(tmpDir, { recursive: true });
  const temp = tempName(tmpDir);
  const handle = await open(temp, "wx", 0o600);
  try {
    for await (const chunk of source) await writeAll(handle, chunk);
    // Data first, name second: after a crash a published name never points at unwritten bytes.
    await handle.datasync();
    await handle.chmod(0o444);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  return temp;
}

export function tempName(dir: string): string {
  return join(dir, `${process.pid}-${randomBytes(6).toString("hex")}.tmp`);
}

/**
 * Moves a finished file to `dest`, never overwriting a good copy: a hard link publishes exclusively
 * (EEXIST when another writer won the race, whose bytes are the same verified content). An existing
 * file whose size is not `size` is damaged and gets replaced. `temp` is gone afterwards either way.
 * The folder is not fsynced: a publish lost to a crash costs a re-download, never a wrong file.
 */
export async function publishFile(temp: string, dest: string, size: number): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  try {
    await link(temp, dest);
    await rm(temp, { force: true });
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") {
      const existing = await stat(dest).catch(() => null);
      if (existing?.isFile() === true && existing.size === size) {
        await rm(temp, { force: true });
        return;
      }
    } else if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "EMLINK") {
      await rm(temp, { force: true });
      throw err;
    }
  }
  // A filesystem without hard links, or a damaged copy: rename replaces atomically.
  await rename(temp, dest);
}

/** Writes all of `chunk`, at `position` when given (else at the file's current offset). */
export async function writeAll(handle: FileHandle, chunk: Uint8Array, position?: number): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const at = position === undefined ? null : position + offset;
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset, at);
    offset += bytesWritten;
  }
}
