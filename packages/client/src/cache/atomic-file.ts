import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { open, rm, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

/**
 * Cache files are written without fsync. A cache hit is trusted only when the file exists with the
 * right size, and a crash of the machine can at worst leave a published file short or empty (ext4
 * in its default data=ordered mode and XFS never show stale blocks under a new size), which that
 * size check turns into a re-download; deep checks (`dpkg cache verify`) re-hash. An fsync per blob made a
 * cold install of many small files several times slower, for a guarantee the size check gives.
 */

/**
 * Writes a stream to a fresh read-only file in `tmpDir`. If the stream throws (a digest mismatch, a
 * dropped connection), the temp file is removed and the error passes on. `remakeDir` is called when
 * `tmpDir` has vanished (another process cleared the cache).
 */
export function writeTempFile(tmpDir: string, source: AsyncIterable<Uint8Array>, remakeDir: () => Promise<void>): Promise<string> {
  return writeTempWith(tmpDir, remakeDir, async (write) => {
    for await (const chunk of source) await write(chunk);
  });
}

/**
 * Creates a fresh read-only file in `tmpDir` and lets `fill` write to it in order; returns its
 * path. When `fill` throws, the file is removed and the error passes on.
 */
export async function writeTempWith(
  tmpDir: string,
  remakeDir: () => Promise<void>,
  fill: (write: (chunk: Uint8Array) => Promise<void>) => Promise<void>,
): Promise<string> {
  const temp = tempName(tmpDir);
  // Created read-only: the descriptor still writes, and no fchmod is needed before publishing.
  const handle = await retryInRemadeDir(() => open(temp, "wx", 0o444), remakeDir);
  try {
    await fill((chunk) => writeAll(handle, chunk));
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  return temp;
}

// The callback API, promisified: fs/promises' FileHandle and writeFile cost about a third more CPU
// per small file, which shows when thousands of blobs are written on a machine with few cores.
const openFd = promisify(fs.open);
const writeFd = promisify(fs.write);
const closeFd = promisify(fs.close);
const renameFile = promisify(fs.rename);
const unlinkFile = promisify(fs.unlink);

/** Writes bytes already verified in memory to a fresh read-only file in `tmpDir`. */
export async function writeTempBytes(tmpDir: string, bytes: Uint8Array, remakeDir: () => Promise<void>): Promise<string> {
  const temp = tempName(tmpDir);
  const fd = await retryInRemadeDir(() => openFd(temp, "wx", 0o444), remakeDir);
  try {
    for (let offset = 0; offset < bytes.byteLength; ) offset += (await writeFd(fd, bytes, offset, bytes.byteLength - offset, null)).bytesWritten;
  } catch (err) {
    await closeFd(fd).catch(() => undefined);
    await removeTemp(temp);
    throw err;
  }
  await closeFd(fd);
  return temp;
}

/** Removes a temp file (one unlink; rm would lstat first). */
async function removeTemp(temp: string): Promise<void> {
  await unlinkFile(temp).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
}

// A random per-process prefix and a counter: unique without asking the system for entropy per file.
const TEMP_PREFIX = `${process.pid}-${randomBytes(4).toString("hex")}`;
let tempCounter = 0;

export function tempName(dir: string): string {
  return join(dir, `${TEMP_PREFIX}-${(tempCounter++).toString(36)}.tmp`);
}

/**
 * Moves a finished file to `dest` with one rename: readers see no file or the whole one. A file
 * already at `dest` is replaced, which is harmless: a good copy holds the same verified bytes (a
 * reader that opened it keeps its own inode), and a damaged one should go. Publishing used to be
 * link-then-unlink so as never to replace; that cost a system call and a directory update per blob,
 * on the path where a cold install of many small files spends its time. `temp` is gone afterwards
 * either way. `remakeDir` is called when the folder of `dest` has vanished (the cache was cleared).
 * The folder is not fsynced: a publish lost to a crash costs a re-download, never a wrong file.
 */
export async function publishFile(temp: string, dest: string, remakeDir: () => Promise<void>): Promise<void> {
  try {
    await retryInRemadeDir(() => renameFile(temp, dest), remakeDir);
  } catch (err) {
    await removeTemp(temp);
    throw err;
  }
}

/**
 * writeTempBytes and publishFile as one run of synchronous calls, for a cache on a local disk (see
 * ../local-disk.ts): four system calls per blob, without a thread-pool round trip for each. The
 * folder of `dest` is made when the rename finds it missing (once per shard, at no cost to the other
 * blobs). When `tmpDir` is missing (ENOENT) nothing is left behind and false is returned, for the
 * caller to take the asynchronous path, which remakes it.
 */
export function writeAndPublishSync(tmpDir: string, bytes: Uint8Array, dest: string): boolean {
  const temp = tempName(tmpDir);
  let fd: number;
  try {
    fd = fs.openSync(temp, "wx", 0o444);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
  try {
    for (let offset = 0; offset < bytes.byteLength; ) offset += fs.writeSync(fd, bytes, offset, bytes.byteLength - offset);
    fs.closeSync(fd);
    fd = -1;
    try {
      fs.renameSync(temp, dest);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      fs.mkdirSync(dirname(dest), { recursive: true });
      fs.renameSync(temp, dest);
    }
    return true;
  } catch (err) {
    if (fd !== -1) fs.closeSync(fd);
    fs.rmSync(temp, { force: true });
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

/** Runs `create` (which makes an entry in a folder) again after `remakeDir` when the folder was missing. */
async function retryInRemadeDir<T>(create: () => Promise<T>, remakeDir: () => Promise<void>): Promise<T> {
  try {
    return await create();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    await remakeDir();
    return create();
  }
}

/** Writes all of `chunks`, one after another, from `position` (one writev unless the system writes less). */
export async function writevAll(handle: FileHandle, chunks: Uint8Array[], position: number): Promise<void> {
  const total = chunks.reduce((n, c) => n + c.byteLength, 0);
  const { bytesWritten } = await handle.writev(chunks, position);
  if (bytesWritten === total) return;
  // A short write: finish chunk by chunk from where it stopped.
  let skip = bytesWritten;
  let at = position + bytesWritten;
  for (const chunk of chunks) {
    if (skip >= chunk.byteLength) {
      skip -= chunk.byteLength;
      continue;
    }
    const rest = chunk.subarray(skip);
    skip = 0;
    await writeAll(handle, rest, at);
    at += rest.byteLength;
  }
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
