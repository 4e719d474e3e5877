import type { Digest, PackageName } from "@dpkg/core";
import { Readable } from "node:stream";
import type { RegistryClient } from "../registry-client.js";
import { packStream, type PackStream } from "./pack-stream.js";
import { readVerifiedFile, type FileSource } from "./read-file.js";
import { runLimited } from "../run-limited.js";
import type { RequestCount, SendCount } from "./send-count.js";

const MIB = 1024 * 1024;
/** Blobs under this size travel in tar packs; the registry stores bigger ones as their own objects. */
export const PACK_THRESHOLD = 4 * MIB;
/** About this many bytes of small blobs per pack request read again from their files. */
export const PACK_REQUEST_BYTES = 64 * MIB;
export const DEFAULT_UPLOAD_CONCURRENCY = 4;
/** Slices an in-memory pack is handed to the request in, so that progress follows the socket. */
const BODY_SLICE = 256 * 1024;

/** A blob to send: the file holding it and what hashing found it to be. */
export interface UploadBlob extends FileSource {
  digest: Digest;
  size: number;
}

interface Target {
  client: RegistryClient;
  pkg: PackageName;
}

/**
 * Sends a pack built in memory from files read and hashed (`blobs` members holding `fileBytes`); a
 * retry sends the same bytes again.
 */
export async function uploadPackBytes(
  target: Target,
  pack: { tar: Buffer; blobs: number; fileBytes: number },
  count: RequestCount,
): Promise<void> {
  await target.client.uploadPack(target.pkg, () => Readable.from(slices(pack.tar, pack.fileBytes, count.attempt()), { objectMode: false }));
  count.done(pack.blobs);
}

/** The pack in slices, reporting the file bytes (not the tar framing) in proportion as each is taken. */
function* slices(tar: Buffer, fileBytes: number, onBytes: (n: number) => void): Generator<Buffer, void, undefined> {
  let reported = 0;
  for (let at = 0; at < tar.byteLength; at += BODY_SLICE) {
    const end = Math.min(tar.byteLength, at + BODY_SLICE);
    yield tar.subarray(at, end);
    const now = Math.round((fileBytes * end) / tar.byteLength);
    onBytes(now - reported);
    reported = now;
  }
}

/** Sends one large blob, reading its file again and checking it against its digest as it streams. */
export async function uploadLargeBlob(target: Target, blob: UploadBlob, count: RequestCount): Promise<void> {
  let failure: unknown;
  try {
    await target.client.uploadBlob(target.pkg, blob.digest, blob.size, () =>
      Readable.from(tracked(blob, count.attempt(), (err) => (failure = err)), { objectMode: false }),
    );
  } catch (err) {
    // A file that changed explains the failed request better than the aborted request does.
    throw failure ?? err;
  }
  count.done(1);
}

/**
 * Sends blobs by reading their files again: small ones as tar packs of about 64 MiB, large ones one
 * per request, several requests at once. For blobs a push hashed but no longer holds in memory (the
 * registry reported them missing at commit); every file is checked against its digest as it is read.
 */
export async function uploadFromFiles(
  target: Target & { blobs: readonly UploadBlob[]; concurrency: number; count: SendCount },
): Promise<void> {
  await runLimited(planUploads(target.blobs), target.concurrency, async (task) => {
    const count = target.count.request();
    if (task.large) return uploadLargeBlob(target, task.blobs[0]!, count);
    let last: PackStream | undefined;
    try {
      await target.client.uploadPack(target.pkg, () => {
        last = packStream(task.blobs, count.attempt());
        return last.stream;
      });
    } catch (err) {
      throw last?.failure() ?? err;
    }
    count.done(task.blobs.length);
  });
}

interface Task {
  blobs: UploadBlob[];
  large: boolean;
}

/** Large blobs first, so the long transfers start early and small packs fill the gaps. */
function planUploads(blobs: readonly UploadBlob[]): Task[] {
  const large: Task[] = [];
  const packs: Task[] = [];
  let batch: UploadBlob[] = [];
  let batchBytes = 0;
  for (const blob of blobs) {
    if (blob.size >= PACK_THRESHOLD) {
      large.push({ blobs: [blob], large: true });
      continue;
    }
    if (batch.length > 0 && batchBytes + blob.size > PACK_REQUEST_BYTES) {
      packs.push({ blobs: batch, large: false });
      batch = [];
      batchBytes = 0;
    }
    batch.push(blob);
    batchBytes += blob.size;
  }
  if (batch.length > 0) packs.push({ blobs: batch, large: false });
  return [...large, ...packs];
}

/**
 * The file's chunks, counted. Only a failure to read the file is reported as `onFailure`: when the
 * request dies (a reset connection), Readable.from throws the socket error into this generator at
 * its `yield`, and that error must stay the request's, to be retried and reported as E_NETWORK.
 */
async function* tracked(
  blob: UploadBlob,
  onBytes: (n: number) => void,
  onFailure: (err: unknown) => void,
): AsyncGenerator<Uint8Array, void, undefined> {
  const file = readVerifiedFile(blob);
  try {
    for (;;) {
      let step: IteratorResult<Uint8Array, void>;
      try {
        step = await file.next();
      } catch (err) {
        onFailure(err);
        throw err;
      }
      if (step.done === true) return;
      onBytes(step.value.byteLength);
      yield step.value;
    }
  } finally {
    await file.return(undefined);
  }
}
