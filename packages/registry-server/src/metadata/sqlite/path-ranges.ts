import { compareUtf8 } from "@dpkg/core";

/**
 * Path ranges that narrow an entry scan to the literal directories of a set of path globs.
 *
 * A glob selects a path when it matches the path or one of its parent directories, and every such
 * path starts with the glob's literal prefix P (core's PathMatcher.prefixes): it is P itself or lies
 * in [P + "/", P + "0"), since '0' is the byte after '/'. Comparing strings by UTF-8 bytes, as both
 * SQLite's BINARY collation and compareUtf8 do, makes these bounds exact for every path.
 */
export interface PathRange {
  low: string;
  /** null: no upper bound. */
  high: string | null;
  /** True for a single path (low === high); otherwise the range excludes `high`. */
  exact: boolean;
}

export const ALL_PATHS: readonly PathRange[] = [{ low: "", high: null, exact: false }];

/** Disjoint ranges in path order that together hold every path the globs may select. */
export function rangesForPrefixes(prefixes: readonly string[]): readonly PathRange[] {
  // '' (a glob starting with a wildcard) selects anything; a '\' escape in a prefix never occurs in a
  // real path, so such a prefix says nothing reliable about the paths its glob matches.
  if (prefixes.length === 0 || prefixes.some((p) => p === "" || p.includes("\\"))) return ALL_PATHS;
  const sorted = [...new Set(prefixes)].sort(compareUtf8);
  // Drop prefixes inside another one's directory: their ranges are already covered.
  const kept = sorted.filter((p) => !sorted.some((q) => q !== p && p.startsWith(q + "/")));
  const ranges: PathRange[] = [];
  for (const p of kept) {
    ranges.push({ low: p, high: p, exact: true }, { low: p + "/", high: p + "0", exact: false });
  }
  // Kept prefixes are not nested, so the ranges are disjoint; sorting by their low bound orders them.
  return ranges.sort((a, b) => compareUtf8(a.low, b.low));
}

/** Whether any path of `range` sorts after `cursor`. */
export function rangeAfter(range: PathRange, cursor: string): boolean {
  return range.high === null || compareUtf8(cursor, range.high) < 0;
}
