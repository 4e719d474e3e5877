/**
 * Small files (under the pack threshold) are read once, straight into a tar archive in a reused
 * buffer: the bytes hashed are the bytes sent, so a file cannot change between its hash and its
 * upload, and nothing is copied or allocated per file. On a local disk reads are synchronous, a slice
 * of files at a time with the event loop let through in between: for files of a few KiB, the four
 * round trips of asynchronous open/fstat/read/close through libuv's threads cost several times the
 * system calls. Elsewhere (a network file system) many asynchronous reads are kept in flight.
 */
import { digestBytes, isDpkgError, type Digest } from "@dpkg/core";
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { open } from "node:fs/promises";
import { setImmediate as nextTurn } from "node:timers/promises";
import { folderChangedError, ioError, OPEN_FLAGS, type FileSource } from "./read-file.js";
import { runLimited } from "../run-limited.js";
import { BLOCK, END_BYTES, memberBytes, writeEnd, writeMember } from "./tar-bytes.js";

/** A small file to read: its size at walk time is what it must still have. */
export interface SmallFile extends FileSource {
  size: number;
}

/** A file read into the archive: its member spans `start` (its header) to `end`. */
export interface BatchMember {
  digest: Digest;
  size: number;
  start: number;
  end: number;
}

/** Files, or bytes, read between two turns of the event loop, so that uploads in flight keep moving. */
const SLICE_FILES = 32;
const SLICE_BYTES = 2 * 1024 * 1024;
/** Asynchronous reads in flight, off a local disk. */
const ASYNC_READS = 16;

/** The archive `files` make: what `buffer` must hold (one more byte, to see a file that grew). */
export function batchBytes(files: readonly { size: number }[]): number {
  return files.reduce((n, f) => n + memberBytes(f.size), END_BYTES);
}

/**
 * Reads and hashes `files` into one archive in `buffer` (at least batchBytes + 1 long), in their
 * order; returns a member per file. Calls `onFile` after each file.
 */
export async function readBatch(
  files: readonly SmallFile[],
  buffer: Buffer,
  onFile: (size: number) => void,
  syncIo = true,
): Promise<BatchMember[]> {
  const members: BatchMember[] = [];
  let at = 0;
  for (const file of files) {
    members.push({ digest: "blake3:", size: file.size, start: at, end: at + memberBytes(file.size) });
    at += memberBytes(file.size);
  }
  const done = (i: number, bytes: Buffer): void => {
    const member = members[i]!;
    member.digest = digestBytes(bytes);
    writeMember(buffer, member.start, member.digest, member.size);
    onFile(member.size);
  };
  // A slot one byte longer than the size the walk saw shows a file that grew.
  const slot = (i: number): Buffer => buffer.subarray(members[i]!.start + BLOCK, members[i]!.start + BLOCK + files[i]!.size + 1);
  if (syncIo) {
    let sliceFiles = 0;
    let sliceBytes = 0;
    for (const [i, file] of files.entries()) {
      if (sliceFiles >= SLICE_FILES || sliceBytes >= SLICE_BYTES) {
        await nextTurn();
        sliceFiles = 0;
        sliceBytes = 0;
      }
      done(i, readInto(file, slot(i)));
      sliceFiles += 1;
      sliceBytes += file.size;
    }
  } else {
    await runLimited(files, ASYNC_READS, async (file, i) => done(i, await readIntoAsync(file, slot(i))));
  }
  return members;
}

/**
 * Keeps only `kept` members (in order) in the archive, moving them forward in place; returns the
 * archive, now ending after them.
 */
export function keepMembers(buffer: Buffer, kept: readonly BatchMember[]): Buffer {
  let at = 0;
  for (const m of kept) {
    if (m.start !== at) buffer.copyWithin(at, m.start, m.end);
    at += m.end - m.start;
  }
  return buffer.subarray(0, writeEnd(buffer, at));
}

/** The file's bytes, read into `slot` (one byte longer than the size the walk saw). */
function readInto(file: SmallFile, slot: Buffer): Buffer {
  let fd: number;
  try {
    fd = openSync(file.source, OPEN_FLAGS);
  } catch (err) {
    throw openError(file, err);
  }
  try {
    if (!fstatSync(fd).isFile()) throw folderChangedError(file, "it is no longer a regular file");
    let read = 0;
    while (read < slot.byteLength) {
      const asked = slot.byteLength - read;
      const n = readSync(fd, slot, read, asked, null);
      read += n;
      // A regular file on a local disk reads short only at its end: no second call to be told so.
      if (n < asked) break;
    }
    return checked(file, slot, read);
  } catch (err) {
    throw isDpkgError(err) ? err : ioError(file, err);
  } finally {
    closeSync(fd);
  }
}

async function readIntoAsync(file: SmallFile, slot: Buffer): Promise<Buffer> {
  let handle;
  try {
    handle = await open(file.source, OPEN_FLAGS);
  } catch (err) {
    throw openError(file, err);
  }
  try {
    if (!(await handle.stat()).isFile()) throw folderChangedError(file, "it is no longer a regular file");
    let read = 0;
    while (read < slot.byteLength) {
      const { bytesRead } = await handle.read(slot, read, slot.byteLength - read, null);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    return checked(file, slot, read);
  } catch (err) {
    throw isDpkgError(err) ? err : ioError(file, err);
  } finally {
    await handle.close();
  }
}

function checked(file: SmallFile, slot: Buffer, read: number): Buffer {
  if (read !== file.size) throw folderChangedError(file, `its size is no longer ${file.size} bytes`);
  return slot.subarray(0, read);
}

function openError(file: SmallFile, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return folderChangedError(file, "it was removed", err);
  if (code === "ELOOP") return folderChangedError(file, "it was replaced by a symlink", err);
  return ioError(file, err);
}
