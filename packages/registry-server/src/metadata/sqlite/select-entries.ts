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
import { queryCandidates } from "./query-candidates.js";
import { intersectRanges, queryPathRanges } from "./query-path-ranges.js";
import { requireManifest, sql } from "./rows.js";
import { ValueLookup } from "./value-lookup.js";

/** Rows read per statement execution; the statement is never left open across a yield. */
export const SELECT_PAGE_ROWS = 1_000;

/**
 * Relative costs per row, measured on 1,000,000 entries: scanning evaluates the query on one entry
 * (about 0.6 µs when it reads meta), fetching reads one candidate by its ord (two seeks, about eight
 * times as much), collecting reads one row of entry_values (about half of a scanned row).
 */
const SCAN_ROW = 1;
const FETCH_ROW = 8;
const COLLECT_ROW = 0.5;

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
    plan === "scan" ? null : candidateOrds(db, manifestRow, selection, ranges, { wanted: remaining, force: plan === "index" });
  if (ords !== null && where !== null) {
    const fetch = db.prepare<unknown[], EntryRow>(
      `SELECT path, size, digest, meta FROM entries INDEXED BY entries_ord
       WHERE manifest_id = ? AND ord IN (SELECT value FROM json_each(?)) AND (${where.sql}) ORDER BY ord`,
    );
    for (let i = 0; i < ords.length; ) {
      // Fetch about what is still wanted (candidates the query rejects cost a little more).
      const page = ords.slice(i, (i += Math.min(SELECT_PAGE_ROWS, Math.max(remaining, 100))));
      const rows = fetch.all(manifestId, JSON.stringify(page), ...where.params);
      let yielded = 0;
      for (const row of rows) {
        if (matcher !== null && !matcher(row.path)) continue;
        yield toEntry(row);
        yielded++;
        if (--remaining <= 0) return;
      }
      if (yielded === 0) await nextTurn();
    }
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
  const ords = candidateOrds(db, requireManifest(db, manifest), selection, ranges, { wanted, force: false });
  return ords === null ? "scan" : "index";
}

/** The path ranges of the globs, narrowed by the query's conditions on the path. */
function selectedRanges(matcher: PathMatcher | null, where: QueryNode | undefined): readonly PathRange[] {
  const globRanges = matcher === null ? ALL_PATHS : rangesForPrefixes(matcher.prefixes);
  const queryRanges = where === undefined ? null : queryPathRanges(where);
  return queryRanges === null ? globRanges : intersectRanges(globRanges, queryRanges);
}

/**
 * The ords of the entries to read by index, sorted; null when scanning costs less (or the manifest
 * was staged without entry_values). `wanted` is how many entries the caller will read at most;
 * `force` takes the index whenever the query has candidates.
 */
function candidateOrds(
  db: Database.Database,
  manifest: { id: number; entry_count: number },
  selection: EntrySelection,
  ranges: readonly PathRange[],
  options: { wanted: number; force: boolean },
): number[] | null {
  const { id: manifestId, entry_count: entryCount } = manifest;
  if (selection.where === undefined) return null;
  const blockRows = sql<[number], number | null>(db, "SELECT value_block FROM manifests WHERE id = ?")
    .pluck()
    .get(manifestId);
  const candidates = queryCandidates(selection.where);
  if (blockRows === null || blockRows === undefined || candidates === null) return null;

  const intervals = ordIntervals(db, manifestId, entryCount, ranges, selection.after);
  const scanRows = intervals.reduce((n, [from, to]) => n + to - from, 0);
  if (scanRows === 0) return [];
  const lookup = new ValueLookup(db, {
    manifestId,
    blockRows,
    from: intervals[0]![0],
    to: intervals.at(-1)![1],
  });
  // Above this many candidates even reading all of them costs more than scanning.
  const cap = options.force ? scanRows : Math.floor((scanRows * SCAN_ROW) / (FETCH_ROW + COLLECT_ROW));
  if (cap < 1) return null;
  const estimate = lookup.estimate(candidates, cap);
  if (!options.force && (estimate >= cap || !indexPays(estimate, scanRows, options.wanted))) return null;
  const ords = lookup.collect(candidates, cap);
  return ords === null ? null : inIntervals(ords, intervals);
}

/**
 * Reading `estimate` candidates by index against scanning `scanRows` entries, when the caller
 * stops after `wanted`: a scan stops early too, after about wanted / density rows.
 */
function indexPays(estimate: number, scanRows: number, wanted: number): boolean {
  const byIndex = estimate * COLLECT_ROW + Math.min(wanted, estimate) * FETCH_ROW;
  const byScan = Math.min(scanRows, (wanted * scanRows) / Math.max(estimate, 1)) * SCAN_ROW;
  return byIndex < byScan;
}

/**
 * The ords [from, to) of the entries in each path range (after `after`): ords follow path order, so
 * a range of paths is a range of ords, found with two seeks.
 */
function ordIntervals(
  db: Database.Database,
  manifestId: number,
  entryCount: number,
  ranges: readonly PathRange[],
  after: string | undefined,
): Array<[number, number]> {
  const firstAt = (path: string, strictly: boolean): number =>
    sql<[number, string], number>(
      db,
      `SELECT ord FROM entries WHERE manifest_id = ? AND path ${strictly ? ">" : ">="} ? ORDER BY path LIMIT 1`,
    )
      .pluck()
      .get(manifestId, path) ?? entryCount;
  const start = after === undefined ? 0 : firstAt(after, true);
  const intervals: Array<[number, number]> = [];
  for (const range of ranges) {
    const from = Math.max(start, firstAt(range.low, false));
    const high = range.exact ? range.low + "\u0000" : range.high;
    const to = high === null ? entryCount : firstAt(high, false);
    if (from < to) intervals.push([from, to]);
  }
  return intervals;
}

/** The sorted `ords` that fall in one of the sorted, disjoint intervals. */
function inIntervals(ords: number[], intervals: Array<[number, number]>): number[] {
  const out: number[] = [];
  let k = 0;
  for (const ord of ords) {
    while (k < intervals.length && ord >= intervals[k]![1]) k++;
    if (k === intervals.length) break;
    if (ord >= intervals[k]![0]) out.push(ord);
  }
  return out;
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
