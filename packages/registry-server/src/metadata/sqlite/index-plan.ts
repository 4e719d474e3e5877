import type Database from "better-sqlite3";
import type { EntrySelection } from "../metadata-store.js";
import type { PathRange } from "./path-ranges.js";
import { queryCandidates } from "./query-candidates.js";
import { sql } from "./rows.js";
import { rangeCount, ValueLookup } from "./value-lookup.js";

/**
 * Whether a selection is read by index (entry_values) or by scan, from costs relative to a scanned
 * row, measured on 1,000,000 entries: a scan evaluates the query on each entry (about 0.6 µs when
 * it reads meta); reading by index collects candidate ords from entry_values (half a scanned row
 * each) and fetches each candidate by its ord (two seeks, about eight scanned rows).
 */
const SCAN_ROW = 1;
const FETCH_ROW = 8;
const COLLECT_ROW = 0.5;
/** One seek into entry_values, per range looked up and per block (about 1 µs). */
const SEEK = 2;

/**
 * The ords of the entries to read by index, sorted; null when scanning costs less (or the manifest
 * was staged without entry_values). `wanted` is how many entries the caller will read at most;
 * `force` takes the index whenever the query has candidates.
 */
export function indexedOrds(
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
  const from = intervals[0]![0];
  const to = intervals.at(-1)![1];
  // A long IN list costs a seek per value and block before a single row is read.
  const seeks = rangeCount(candidates) * (Math.floor((to - 1) / blockRows) - Math.floor(from / blockRows) + 1);
  if (!options.force && seeks * SEEK >= scanRows * SCAN_ROW) return null;
  const lookup = new ValueLookup(db, { manifestId, blockRows, from, to });
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
