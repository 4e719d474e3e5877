/**
 * The plain values of the HTTP contract, apart from its schemas (api.ts) so that code which only
 * needs these does not load typebox: the CLI pays for it only when it checks a registry's answer.
 */

/** Largest batch of digests a single missing/locations call takes. */
export const MAX_DIGESTS_PER_CALL = 10_000;

export const CONTENT_TYPES = {
  manifest: "application/x-dpkg-manifest+jsonl",
  entries: "application/x-ndjson",
  tar: "application/x-tar",
  blob: "application/octet-stream",
} as const;
