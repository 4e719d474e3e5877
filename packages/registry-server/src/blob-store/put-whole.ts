import type { BlobSource, BlobStore, PutResult } from "./blob-store.js";

/**
 * A write-once put of an object whose size the caller knows. When the key already holds an object
 * of another size, that object is not what its key names: a non-atomic S3-compatible store (s3rver)
 * keeps what a cut-off upload sent. It is replaced with these bytes rather than trusted, which would
 * record a blob the store cannot serve. Same-size objects are trusted; `dpkg-registry verify`
 * re-hashes them. `source` is called again for the replacement (a put that found the key read none
 * of the first one).
 */
export async function putWhole(
  blobs: BlobStore,
  key: string,
  source: () => BlobSource,
  size: number | undefined,
): Promise<PutResult> {
  const put = await blobs.put(key, source());
  if (put.created || size === undefined || put.size === size) return put;
  return blobs.put(key, source(), { overwrite: true });
}
