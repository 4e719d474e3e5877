import type Database from "better-sqlite3";
import type { SearchHitRecord } from "../metadata-store.js";
import { sql } from "./rows.js";

/** Words of the user's text that take part in a search; the rest is ignored. */
const MAX_TERMS = 16;
/** Matched entry paths reported per hit. */
export const MATCHED_PATHS_MAX = 5;
/** bm25 column weights: name, title, description, readme, paths. */
const WEIGHTS = "10.0, 5.0, 3.0, 1.0, 1.0";
const MARK_OPEN = "\u0002";
const MARK_CLOSE = "\u0003";

/**
 * Turns free text into an FTS5 query that cannot be a syntax error: every word becomes a quoted
 * string (so `AND`, `NEAR`, `*`, `"`, `:` and parentheses are just text), all words must match, and
 * the last one also matches as a prefix (search as you type). Words without a letter or digit are
 * dropped, as the tokenizer would drop them anyway. Null when nothing searchable is left.
 */
export function toFtsQuery(text: string): string | null {
  const words = text
    .split(/\s+/u)
    .filter((w) => /[\p{L}\p{N}]/u.test(w))
    .slice(0, MAX_TERMS);
  if (words.length === 0) return null;
  return words.map((w, i) => `"${w.replaceAll('"', '""')}"${i === words.length - 1 ? "*" : ""}`).join(" ");
}

interface HitRow {
  id: number;
  namespace: string;
  name: string;
  title: string | null;
  description: string | null;
  rank: number;
}

export function searchPackages(
  db: Database.Database,
  text: string,
  options: { limit: number; canRead: (namespace: string) => boolean },
): SearchHitRecord[] {
  const query = toFtsQuery(text);
  if (query === null || options.limit <= 0) return [];
  const ranked = sql<[string], HitRow>(
    db,
    `SELECT s.rowid AS id, n.name AS namespace, p.name AS name, s.title AS title, s.description AS description,
       bm25(package_search, ${WEIGHTS}) AS rank
     FROM package_search s JOIN packages p ON p.id = s.rowid JOIN namespaces n ON n.id = p.namespace_id
     WHERE package_search MATCH ? ORDER BY rank, s.rowid`,
  );
  const hits: HitRow[] = [];
  try {
    // Readability is decided in JS, so walk the ranking lazily and stop at `limit` readable hits.
    for (const row of ranked.iterate(query)) {
      if (!options.canRead(row.namespace)) continue;
      hits.push(row);
      if (hits.length >= options.limit) break;
    }
  } catch (e) {
    // toFtsQuery makes syntax errors impossible; should FTS5 still refuse a query, searching
    // nothing is the right answer to free text, not a server error.
    if (e instanceof Error && e.message.startsWith("fts5:")) return [];
    throw e;
  }
  return hits.map((h) => ({
    namespace: h.namespace,
    name: h.name,
    title: h.title,
    description: h.description,
    matchedPaths: matchedPaths(db, query, h.id),
    score: -h.rank,
  }));
}

/**
 * The paths whose words matched, found by letting FTS5 mark its matches in the paths column. The CAST
 * matters: better-sqlite3 binds JS numbers as REAL, and FTS5 (3.53) then silently drops a `rowid = ?`
 * constraint that accompanies MATCH, answering for every matching row.
 */
function matchedPaths(db: Database.Database, query: string, packageId: number): string[] {
  const marked = sql<[string, number], string>(
    db,
    `SELECT highlight(package_search, 4, char(2), char(3)) FROM package_search
     WHERE package_search MATCH ? AND rowid = CAST(? AS INTEGER)`,
  )
    .pluck()
    .get(query, packageId);
  if (marked === undefined || !marked.includes(MARK_OPEN)) return [];
  const found: string[] = [];
  for (const line of marked.split("\n")) {
    if (!line.includes(MARK_OPEN)) continue;
    found.push(line.replaceAll(MARK_OPEN, "").replaceAll(MARK_CLOSE, ""));
    if (found.length >= MATCHED_PATHS_MAX) break;
  }
  return found;
}
