import { createManifestEncoder, type ManifestEntry, type ManifestHeader, type ManifestSummary } from "@dpkg/core";

/** Manifests up to this size are kept in memory for the commit instead of being encoded again. */
const KEEP_BYTES = 16 * 1024 * 1024;

/**
 * Encodes the manifest (every entry checked, the order checked, lines no longer than the registry
 * reads) and computes its top hash. Returns its bytes too unless it is large: then the commit, and
 * each retry of it, encodes it again from the entries rather than holding it.
 */
export async function summarizeManifestKeeping(
  header: { meta?: ManifestHeader["meta"] },
  entries: Iterable<ManifestEntry>,
): Promise<{ summary: ManifestSummary; bytes: Uint8Array[] | undefined }> {
  let kept: Uint8Array[] | undefined = [];
  let keptBytes = 0;
  const encoder = createManifestEncoder(header, entries);
  for await (const chunk of encoder.chunks) {
    keptBytes += chunk.byteLength;
    if (keptBytes > KEEP_BYTES) kept = undefined;
    else kept?.push(chunk);
  }
  return { summary: encoder.summary(), bytes: kept };
}
