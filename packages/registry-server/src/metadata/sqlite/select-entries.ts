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
  type QueryNode,
} from "@dpkg/core";
import type { EntrySelection } from "../metadata-store.js";
import { ALL_PATHS, rangeAfter, rangesForPrefixes, type PathRange } from "./path-ranges.js";
import { indexedOrds } from "./index-plan.js";
import { intersectRanges, queryPathRanges } from "./query-path-ranges.js";
import { requireManifest } from "./rows.js";

/** Rows read per statement execution; the statement is never left open across a yield. */
export const SELECT_PAGE_ROWS = 1_000;

interface EntryRow {
  path: string;
  size: number;
  digest: Digest;
  meta: string | null;
}

interface CompiledWhere {
  sql: string;
  params: (string | number)[];
}

/** How to read: "auto" weighs both; tests force either to check that both give the same answers. */
export type SelectPlan = "auto" | "index" | "scan";

/**
 * Streams a staged manifest's entries in path order. The `where` query runs in SQLite (core's
 * compiler) on every entry read. Which entries are read:
 *
 * - by index: when the query's literal conditions (query-candidates.ts) are selective enough that
 *   reading its candidates one by one costs less than a scan, their ords are collected from
 *   entry_values and the entries fetched by ord, in order, a page per statement;
 * - by scan: every entry in the path ranges of the globs and of the query's path conditions, with
 *   keyset pagination (`path > cursor`), one page per statement run.
 *
 * Either way a slow consumer never holds the connection busy or a read snapshot open (entries of a
 * complete manifest never change, so the collected ords stay valid). Path globs are tested per row
 * in JS. An empty `paths` list means no path filter.
 */
export async function* selectEntries(
  db: Database.Database,
  manifest: Digest,
  selection: EntrySelection,
  plan: SelectPlan = "auto",
): AsyncGenerator<ManifestEntry> {
  const manifestRow = requireManifest(db, manifest);
  const manifestId = manifestRow.id;
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
  const ranges = selectedRanges(matcher, selection.where);
  const ords =
    plan === "scan" || where === null
      ? null
      : indexedOrds(db, manifestRow, selection, ranges, { wanted: remaining, force: plan === "index" });
  if (ords !== null && where !== null) {
    yield* readByOrd(db, manifestId, ords, where, matcher, remaining);
    return;
  }

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

/** Which plan "auto" takes for a selection (for tests: that selective queries do use the index). */
export function autoPlan(db: Database.Database, manifest: Digest, selection: EntrySelection): "index" | "scan" {
  const matcher =
    selection.paths !== undefined && selection.paths.length > 0 ? compilePathGlobs(selection.paths) : null;
  const ranges = selectedRanges(matcher, selection.where);
  const wanted = selection.limit ?? Number.POSITIVE_INFINITY;
  const ords = indexedOrds(db, requireManifest(db, manifest), selection, ranges, { wanted, force: false });
  return ords === null ? "scan" : "index";
}

/** The path ranges of the globs, narrowed by the query's conditions on the path. */
function selectedRanges(matcher: PathMatcher | null, where: QueryNode | undefined): readonly PathRange[] {
  const globRanges = matcher === null ? ALL_PATHS : rangesForPrefixes(matcher.prefixes);
  const queryRanges = where === undefined ? null : queryPathRanges(where);
  return queryRanges === null ? globRanges : intersectRanges(globRanges, queryRanges);
}

/** The entries with these ords (sorted) that the query selects, fetched a page per statement. */
async function* readByOrd(
  db: Database.Database,
  manifestId: number,
  ords: readonly number[],
  where: CompiledWhere,
  matcher: PathMatcher | null,
  wanted: number,
): AsyncGenerator<ManifestEntry> {
  const fetch = db.prepare<unknown[], EntryRow>(
    `SELECT path, size, digest, meta FROM entries INDEXED BY entries_ord
     WHERE manifest_id = ? AND ord IN (SELECT value FROM json_each(?)) AND (${where.sql}) ORDER BY ord`,
  );
  let remaining = wanted;
  let next = 0;
  while (next < ords.length) {
    // About as many as are still wanted: most candidates of a selective query are selected.
    const page = ords.slice(next, next + Math.min(SELECT_PAGE_ROWS, Math.max(remaining, 100)));
    next += page.length;
    let yielded = 0;
    for (const row of fetch.all(manifestId, JSON.stringify(page), ...where.params)) {
      if (matcher !== null && !matcher(row.path)) continue;
      yield toEntry(row);
      yielded++;
      if (--remaining <= 0) return;
    }
    if (yielded === 0) await nextTurn();
  }
}

/** One statement per range shape, prepared on first use for this selection. */
class PageReader {
  readonly #statements = new Map<string, Database.Statement<unknown[], EntryRow>>();

  constructor(
    private readonly db: Database.Database,
    private readonly manifestId: number,
    private readonly where: CompiledWhere | null,
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
