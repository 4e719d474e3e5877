import { DpkgError, type api } from "@dpkg/core";
import type { RegistryClient } from "../registry-client.js";

export type SearchHit = api.SearchResponse["hits"][number] & { package: string };

/** Packages whose names, metadata or entry paths match TEXT, best first, among those the caller can read. */
export async function searchPackages(
  client: RegistryClient,
  text: string,
  options: { limit?: number } = {},
): Promise<SearchHit[]> {
  const q = text.trim();
  if (q === "")
    throw new DpkgError(
      "E_USAGE",
      "the search text is empty",
      {},
      { hint: "Give words to look for, e.g. dpkg search cells" },
    );
  const limit = Math.min(100, Math.max(1, options.limit ?? 20));
  const hits = await client.search(q, limit);
  return hits.map((h) => ({ package: `${h.namespace}/${h.name}`, ...h }));
}
