import { encodeManifest, readManifest, type ManifestEntry, type ManifestHeader, type ManifestSummary } from "@dpkg/core";

/** Manifests up to this size are kept in memory for the commit instead of being encoded again. */
const KEEP_BYTES = 16 * 1024 * 1024;

/**
 * Encodes the manifest, checks it as the registry will (canonical lines, sorted unique paths) and
 * computes its top hash. Returns its bytes too unless it is large: then the commit, and each retry of
 * it, encodes it again from the entries rather than holding it.
 */
export async function summarizeManifestKeeping(
  header: { meta?: ManifestHeader["meta"] },
  entries: readonly ManifestEntry[],
): Promise<{ summary: ManifestSummary; bytes: Uint8Array[] | undefined }> {
  let kept: Uint8Array[] | undefined = [];
  let keptBytes = 0;
  async function* tapped(): AsyncGenerator<Uint8Array, void, undefined> {
    for await (const chunk of encodeManifest(header, entries)) {
      keptBytes += chunk.byteLength;
      if (keptBytes > KEEP_BYTES) kept = undefined;
      else kept?.push(chunk);
      yield chunk;
    }
  }
  const reader = await readManifest(tapped());
  for await (const _ of reader.entries) {
    // reading to the end checks every line and computes the summary
  }
  return { summary: reader.summary(), bytes: kept };
}
