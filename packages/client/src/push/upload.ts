import type { Digest, PackageName } from "@dpkg/core";
import { Readable } from "node:stream";
import type { RegistryClient } from "../registry-client.js";
import { packStream, type PackStream } from "./pack-stream.js";
import { readVerifiedFile, type FileSource } from "./read-file.js";
import { runLimited } from "./run-limited.js";

const MIB = 1024 * 1024;
/** Blobs under this size travel in tar packs; the registry stores bigger ones as their own objects. */
export const PACK_THRESHOLD = 4 * MIB;
/** About this many bytes of small blobs per pack request. */
export const PACK_REQUEST_BYTES = 64 * MIB;
export const DEFAULT_UPLOAD_CONCURRENCY = 4;

/** A blob to send: the file holding it and what hashing found it to be. */
export interface UploadBlob extends FileSource {
  digest: Digest;
  size: number;
}

export interface UploadOptions {
  client: RegistryClient;
  pkg: PackageName;
  /** Distinct blobs the registry lacks. */
  blobs: readonly UploadBlob[];
  /** Requests in flight (default 4). */
  concurrency?: number;
  /** Running totals of blobs whose request succeeded and bytes read into requests so far. */
  onProgress?: (sent: { blobs: number; bytes: number }) => void;
}

interface Task {
  blobs: UploadBlob[];
  large: boolean;
}

/**
 * Sends blobs: small ones as tar packs of about 64 MiB, large ones one per request, several requests
 * at once. Files are read again as they are sent and checked against their digests. Returns what
 * was sent (file bytes, not counting tar framing).
 */
export async function uploadBlobs(options: UploadOptions): Promise<{ bytesSent: number; blobsSent: number }> {
  const { client, pkg } = options;
  const sent = { blobs: 0, bytes: 0 };
  const report = (): void => options.onProgress?.({ ...sent });
  await runLimited(planUploads(options.blobs), options.concurrency ?? DEFAULT_UPLOAD_CONCURRENCY, async (task) => {
    // The client retries a failed request by calling the body factory again: progress restarts with
    // it, and bytes still trickling in from an abandoned attempt are ignored.
    let attempt = 0;
    let counted = 0;
    let failure: unknown;
    const restart = (): ((n: number) => void) => {
      const current = ++attempt;
      sent.bytes -= counted;
      counted = 0;
      return (n) => {
        if (current !== attempt) return;
        counted += n;
        sent.bytes += n;
        report();
      };
    };
    try {
      if (task.large) {
        const blob = task.blobs[0]!;
        await client.uploadBlob(pkg, blob.digest, blob.size, () =>
          Readable.from(tracked(blob, restart(), (err) => (failure = err)), { objectMode: false }),
        );
      } else {
        let last: PackStream | undefined;
        try {
          await client.uploadPack(pkg, () => {
            last = packStream(task.blobs, restart());
            return last.stream;
          });
        } finally {
          failure = last?.failure();
        }
      }
    } catch (err) {
      // A file that changed explains the failed request better than the aborted request does.
      throw failure ?? err;
    }
    sent.blobs += task.blobs.length;
    report();
  });
  return { bytesSent: sent.bytes, blobsSent: sent.blobs };
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
