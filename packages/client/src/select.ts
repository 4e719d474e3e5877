import { compilePathGlobs, evaluateQuery, parseQuery, type ManifestEntry, type QueryEntry } from "@dpkg/core";

/**
 * Entry selection in memory: the same `--path` globs and `--where` query the registry evaluates on
 * its index, applied to a manifest read from the cache, for offline use and for installs whose
 * manifest is already at hand. Both sides use core's matcher and evaluator (the server compiles the
 * same tree to SQL), and the shared query vectors pin that they agree. An entry is selected when it
 * matches any of the globs AND the query.
 */
export interface Selection {
  paths?: readonly string[];
  where?: string;
}

export function hasSelection(selection: Selection): boolean {
  return (selection.paths?.length ?? 0) > 0 || (selection.where?.trim() ?? "") !== "";
}

/** A predicate for `selection`; parses and checks the globs and query once, up front. */
export function createEntryFilter(selection: Selection): (entry: QueryEntry) => boolean {
  const paths = selection.paths !== undefined && selection.paths.length > 0 ? compilePathGlobs(selection.paths) : null;
  const whereText = selection.where?.trim() ?? "";
  const query = whereText === "" ? null : parseQuery(whereText);
  return (entry) => (paths === null || paths(entry.path)) && (query === null || evaluateQuery(query, entry));
}

/** The entries of `source` that `selection` selects, in their order. */
export async function* selectEntries(
  source: AsyncIterable<ManifestEntry> | Iterable<ManifestEntry>,
  selection: Selection,
): AsyncGenerator<ManifestEntry, void, undefined> {
  const keep = createEntryFilter(selection);
  for await (const entry of source) if (keep(entry)) yield entry;
}
