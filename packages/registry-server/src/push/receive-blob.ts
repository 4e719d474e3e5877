/**
 * One large blob per request, streamed into its own object through core's verifyStream, so the object
 * becomes visible only once every byte has hashed to the claimed digest. receivePack uses the same
 * helpers for tar members at or above the large-blob threshold.
 */
import { DpkgError, parseDigest, verifyStream, type Digest } from "@dpkg/core";
import type { BlobStore } from "../blob-store/blob-store.js";
import { blobKey } from "../blob-store/layout.js";
import type { BlobLocationRecord, MetadataStore } from "../metadata/metadata-store.js";

export interface ReceiveBlobContext {
  blobs: BlobStore;
  meta: MetadataStore;
  namespace: string;
  /** The declared size, when known: more or fewer bytes fail with E_SIZE_MISMATCH. */
  size?: number;
}

export interface ReceiveBlobResult {
  digest: Digest;
  size: number;
  /** False when the registry already had the blob; its bytes were verified but not written again. */
  created: boolean;
  bytesWritten: number;
}

export interface Expected {
  digest: Digest;
  size?: number;
  /** Names the blob in error messages, e.g. the tar member. */
  what?: string;
}

export async function receiveBlob(
  source: AsyncIterable<Uint8Array>,
  digest: string,
  ctx: ReceiveBlobContext,
): Promise<ReceiveBlobResult> {
  const expected: Expected = { digest: parseDigest(digest, "blob digest"), size: ctx.size };
  const { meta, namespace } = ctx;
  if ((await meta.missingBlobs(namespace, [expected.digest])).length === 0) {
    // Held already (perhaps inside a pack): checking the bytes is all that is left to do.
    const size = await drainVerified(source, expected);
    return { digest: expected.digest, size, created: false, bytesWritten: 0 };
  }
  const ticket = await meta.objectWriteTicket(blobKey(expected.digest));
  const stored = await storeVerified(ctx.blobs, blobKey(expected.digest), source, expected);
  await meta.recordBlobs(namespace, [wholeObjectLocation(expected.digest, stored.size)], ticket);
  return { digest: expected.digest, ...stored };
}

/**
 * Streams `source` into `key` through verifyStream. If the key exists, the store does not read the source;
 * the bytes are then verified here anyway, because a verified upload is what proves the pusher holds the blob
 * (and so grants its namespace access to it). Memory is one chunk of `source` at a time.
 */
export async function storeVerified(
  blobs: BlobStore,
  key: string,
  source: AsyncIterable<Uint8Array>,
  expected: Expected,
): Promise<{ size: number; created: boolean; bytesWritten: number }> {
  const { iterable, pulled } = unclosable(source);
  let verifiedSize: number | undefined;
  async function* verified(): AsyncGenerator<Uint8Array, void, undefined> {
    let size = 0;
    for await (const chunk of verifyStream(iterable, expected)) {
      size += chunk.byteLength;
      yield chunk;
    }
    verifiedSize = size;
  }
  let put = await blobs.put(key, verified());
  if (
    !put.created &&
    verifiedSize === undefined &&
    pulled() === 0 &&
    expected.size !== undefined &&
    put.size !== expected.size
  ) {
    // An object of another size is not this blob (see putWhole): replace it with these verified bytes.
    put = await blobs.put(key, verified(), { overwrite: true });
  }
  if (verifiedSize !== undefined) {
    return { size: verifiedSize, created: put.created, bytesWritten: put.created ? put.size : 0 };
  }
  if (pulled() > 0) {
    // Stores read all or nothing of a source when the key exists; anything else leaves bytes unverified.
    throw new DpkgError(
      "E_UNAVAILABLE",
      `${expected.what ?? expected.digest}: a concurrent write interrupted the upload`,
      {
        digest: expected.digest,
      },
    );
  }
  return { size: await drainVerified(iterable, expected), created: false, bytesWritten: 0 };
}

/** Reads `source` to its end through verifyStream, storing nothing; returns its size. */
export async function drainVerified(source: AsyncIterable<Uint8Array>, expected: Expected): Promise<number> {
  let size = 0;
  for await (const chunk of verifyStream(source, expected)) size += chunk.byteLength;
  return size;
}

export function wholeObjectLocation(digest: Digest, size: number): BlobLocationRecord {
  return { digest, size, key: blobKey(digest), start: 0, end: size };
}

/**
 * A view of `source` that a consumer stopping early cannot close: a tar member's stream must stay open
 * for the rest of its bytes to be read (closing it would destroy the whole tar extractor).
 */
function unclosable(source: AsyncIterable<Uint8Array>): { iterable: AsyncIterable<Uint8Array>; pulled: () => number } {
  const it = source[Symbol.asyncIterator]();
  let pulled = 0;
  const iterable: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({
      next: async () => {
        const result = await it.next();
        if (result.done !== true) pulled += 1;
        return result;
      },
    }),
  };
  return { iterable, pulled: () => pulled };
}
