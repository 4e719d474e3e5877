import type Database from "better-sqlite3";
import { setImmediate as nextTurn } from "node:timers/promises";
import {
  compareUtf8,
  compilePathGlobs,
  compileQuery,
  type Digest,
  type JsonObject,
  type ManifestEntry,
  type PathMatcher,
} from "@dpkg/core";
import type { EntrySelection } from "../metadata-store.js";
import { ALL_PATHS, rangeAfter, rangesForPrefixes, type PathRange } from "./path-ranges.js";
import { requireManifest } from "./rows.js";

/** Rows read per statement execution; the statement is never left open across a yield. */
export const SELECT_PAGE_ROWS = 1_000;

interface EntryRow {
  path: string;
  size: number;
  digest: Digest;
  meta: string | null;
}

/**
 * Streams a staged manifest's entries in path order. The `where` query runs in SQLite (core's
 * compiler); path globs narrow the scan to their literal directories (path-ranges.ts) and are then
 * tested per row in JS. Keyset pagination (`path > cursor`) reads one page per statement run, so a
 * slow consumer never holds the connection busy or a read snapshot open. An empty `paths` list means
 * no path filter.
 */
export async function* selectEntries(
  db: Database.Database,
  manifest: Digest,
  selection: EntrySelection,
): AsyncGenerator<ManifestEntry> {
  const manifestId = requireManifest(db, manifest).id;
  let remaining = selection.limit ?? Number.POSITIVE_INFINITY;
  if (remaining <= 0) return;
  const matcher =
    selection.paths !== undefined && selection.paths.length > 0 ? compilePathGlobs(selection.paths) : null;
  const where =
    selection.where === undefined
      ? null
      : compileQuery(selection.where, {
          dialect: "sqlite",
          columns: { path: "path", size: "size", digest: "digest", meta: "meta" },
        });
  const ranges = matcher === null ? ALL_PATHS : rangesForPrefixes(matcher.prefixes);
  const pages = new PageReader(db, manifestId, where);
  let cursor = selection.after;

  for (const range of ranges) {
    if (cursor !== undefined && !rangeAfter(range, cursor)) continue;
    for (;;) {
      const { rows, last, exhausted } = pages.read(range, cursor, matcher, remaining);
      for (const row of rows) {
        yield toEntry(row);
        remaining--;
      }
      if (remaining <= 0) return;
      if (last !== null) cursor = last;
      if (exhausted) break;
      // A glob that skips whole pages would otherwise scan on without giving the event loop a turn.
      if (rows.length === 0) await nextTurn();
    }
  }
}

/** One statement per range shape, prepared on first use for this selection. */
class PageReader {
  readonly #statements = new Map<string, Database.Statement<unknown[], EntryRow>>();

  constructor(
    private readonly db: Database.Database,
    private readonly manifestId: number,
    private readonly where: { sql: string; params: (string | number)[] } | null,
  ) {}

  /** The matching rows of the next page of `range` after `cursor`, and the last path scanned. */
  read(
    range: PathRange,
    cursor: string | undefined,
    matcher: PathMatcher | null,
    wanted: number,
  ): { rows: EntryRow[]; last: string | null; exhausted: boolean } {
    const fromCursor = cursor !== undefined && compareUtf8(cursor, range.low) >= 0;
    const upper = range.high === null ? "" : range.exact ? "<=" : "<";
    const params: unknown[] = [this.manifestId, fromCursor ? cursor : range.low];
    if (range.high !== null) params.push(range.high);
    params.push(...(this.where?.params ?? []), SELECT_PAGE_ROWS);

    const rows: EntryRow[] = [];
    let last: string | null = null;
    let scanned = 0;
    for (const row of this.statement(fromCursor ? ">" : ">=", upper).iterate(...params)) {
      scanned++;
      last = row.path;
      if (matcher !== null && !matcher(row.path)) continue;
      rows.push(row);
      // Leaving the loop early resets the statement, so nothing stays open.
      if (rows.length >= wanted) return { rows, last, exhausted: false };
    }
    return { rows, last, exhausted: scanned < SELECT_PAGE_ROWS };
  }

  private statement(lower: ">" | ">=", upper: "" | "<" | "<="): Database.Statement<unknown[], EntryRow> {
    const key = lower + upper;
    let stmt = this.#statements.get(key);
    if (stmt === undefined) {
      const conditions = [`manifest_id = ?`, `path ${lower} ?`];
      if (upper !== "") conditions.push(`path ${upper} ?`);
      if (this.where !== null) conditions.push(`(${this.where.sql})`);
      stmt = this.db.prepare<unknown[], EntryRow>(
        `SELECT path, size, digest, meta FROM entries WHERE ${conditions.join(" AND ")} ORDER BY path LIMIT ?`,
      );
      this.#statements.set(key, stmt);
    }
    return stmt;
  }
}

function toEntry(row: EntryRow): ManifestEntry {
  const entry: ManifestEntry = { path: row.path, size: row.size, digest: row.digest };
  if (row.meta !== null) entry.meta = JSON.parse(row.meta) as JsonObject;
  return entry;
}
