import { digestBytes, type Digest, type JsonObject, type ManifestEntry, type PackageName } from "@dpkg/core";
import { Readable } from "node:stream";
import { entriesOf, file, manifestOf, tarOf, type TestFile } from "../../../registry-server/test/helpers/push-data.js";
import type { RegistryClient } from "../../src/registry-client.js";

export { file, type TestFile };

export interface PublishOptions {
  meta?: JsonObject;
  message?: string;
  tags?: string[];
  /** Blobs at or above this size go up one by one (PUT blobs/:digest), the rest as one tar pack. */
  largeBlobBytes?: number;
}

export interface Published {
  digest: Digest;
  entries: ManifestEntry[];
  /** The canonical manifest bytes. */
  manifest: Buffer;
}

/**
 * Pushes files with the raw push protocol (missing → pack / blob uploads → commit), independent of
 * the client's push implementation, so that read-side tests have data to fetch.
 */
export async function publish(client: RegistryClient, pkg: PackageName, files: TestFile[], options: PublishOptions = {}): Promise<Published> {
  const largeBlobBytes = options.largeBlobBytes ?? 4 * 1024 * 1024;
  const entries = entriesOf(files);
  const bytesOf = new Map<Digest, Uint8Array>();
  for (const f of files) bytesOf.set(digestBytes(f.bytes), f.bytes);
  const missing = await client.missing(pkg, [...bytesOf.keys()]);
  const small: Uint8Array[] = [];
  for (const digest of missing) {
    const bytes = bytesOf.get(digest);
    if (bytes === undefined) throw new Error(`the registry asked for ${digest}, which was not offered`);
    if (bytes.length >= largeBlobBytes) {
      await client.uploadBlob(pkg, digest, bytes.length, () => Readable.from([Buffer.from(bytes)]));
    } else {
      small.push(bytes);
    }
  }
  if (small.length > 0) {
    const tar = await tarOf(small);
    await client.uploadPack(pkg, () => Readable.from([tar]));
  }
  const { body, digest } = await manifestOf(files, options.meta ?? {});
  await client.commit(pkg, digest, () => Readable.from([body]), { message: options.message, tags: options.tags });
  return { digest, entries, manifest: body };
}
