import type Database from "better-sqlite3";
import { sql } from "./rows.js";

/**
 * Which manifests name a digest, without an index of entries by digest (see manifest_blobs in
 * migrations.ts): a complete manifest lists its distinct digests in manifest_blobs, written when its
 * staging completes; a manifest still being staged (or left incomplete) is read from its entries.
 */

/**
 * SQL that is true when some manifest, complete or not, names the digest `digest` (trusted SQL, a
 * column). The entries of incomplete manifests are read once per statement run, not once per row;
 * CROSS JOIN keeps SQLite from reading every entry to find the few whose manifest is incomplete.
 */
export function namedByAnyManifest(digest: string): string {
  return `(EXISTS (SELECT 1 FROM manifest_blobs b WHERE b.digest = ${digest})
    OR ${digest} IN (SELECT e.digest FROM manifests m CROSS JOIN entries e ON e.manifest_id = m.id
                     WHERE m.complete = 0))`;
}

/** Entries per transaction when writing a manifest's digest list; the list is written in parts. */
const ENTRIES_PER_PART = 250_000;

/**
 * Digest ranges [low, high) (null: unbounded) that split a manifest's digest list into parts of
 * about ENTRIES_PER_PART entries: digests are uniform hex, so equal slices of the hex space.
 */
export function digestParts(entryCount: number): Array<[string | null, string | null]> {
  const parts = Math.min(256, Math.max(1, Math.ceil(entryCount / ENTRIES_PER_PART)));
  const bound = (i: number): string | null =>
    i === 0 || i === parts
      ? null
      : `blake3:${Math.floor((i * 256) / parts)
          .toString(16)
          .padStart(2, "0")}`;
  return Array.from({ length: parts }, (_, i) => [bound(i), bound(i + 1)]);
}

/**
 * Adds the manifest's digests in [low, high) to its list, in digest order, so that they merge into
 * the tree in one sweep. Rows a crashed attempt already wrote are the same rows (same content).
 */
export function writeDigestPart(
  db: Database.Database,
  manifestId: number,
  [low, high]: [string | null, string | null],
): void {
  const conditions = [
    "manifest_id = ?",
    ...(low === null ? [] : ["digest >= ?"]),
    ...(high === null ? [] : ["digest < ?"]),
  ];
  sql<unknown[]>(
    db,
    `INSERT INTO manifest_blobs (digest, manifest_id)
     SELECT DISTINCT digest, manifest_id FROM entries WHERE ${conditions.join(" AND ")} ORDER BY digest
     ON CONFLICT DO NOTHING`,
  ).run(manifestId, ...[low, high].filter((b) => b !== null));
}
