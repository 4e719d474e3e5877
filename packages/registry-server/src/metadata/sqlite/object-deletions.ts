import type Database from "better-sqlite3";
import { DpkgError } from "@dpkg/core";
import { namedByAnyManifest } from "./blob-references.js";
import { sql } from "./rows.js";

/**
 * The handshake between gc deleting objects and uploads writing them. A store's put of a key that
 * exists is a no-op, so an upload can "store" a blob in an object that gc deletes a moment later;
 * recording its location then would let a commit reference bytes that are gone. So:
 *
 * - gc, in one transaction, re-checks that no manifest names a blob in the object, forgets the
 *   object's locations and marks it deleting; it unmarks it only after the object is gone;
 * - an upload takes a ticket (the latest mark's number) before writing, refused while its key is
 *   being deleted, and recordBlobs refuses its locations if the key was marked after the ticket.
 *
 * Either the upload's locations were recorded before gc's transaction (which then sees them unnamed,
 * forgets them, and the commit reports them missing), or gc's mark comes first and the upload fails
 * with E_UNAVAILABLE, which clients retry, writing the object afresh once it is deleted.
 */

/** Finished marks older than this are pruned; no upload takes that long between ticket and record. */
const KEEP_FINISHED_MS = 7 * 24 * 3600 * 1000;

function beingDeleted(key: string): DpkgError {
  return new DpkgError("E_UNAVAILABLE", `object ${key} is being deleted by gc; retry the upload`, { key });
}

export function objectWriteTicket(db: Database.Database, key: string): number {
  return db
    .transaction((): number => {
      const deleting = sql<[string], number>(db, "SELECT 1 FROM object_deletions WHERE object_key = ? AND deleting = 1")
        .pluck()
        .get(key);
      if (deleting !== undefined) throw beingDeleted(key);
      return latestSeq(db);
    })
    .deferred();
}

function latestSeq(db: Database.Database): number {
  return (
    sql<[], number>(db, "SELECT seq FROM sqlite_sequence WHERE name = 'object_deletions'").pluck().get() ?? 0
  );
}

/** Throws E_UNAVAILABLE if any key is being deleted, or (with a ticket) was marked after it. Call inside the recording transaction. */
export function assertWritable(db: Database.Database, keys: Iterable<string>, ticket: number | undefined): void {
  const unique = [...new Set(keys)];
  if (unique.length === 0) return;
  const hit = sql<[string, number], string>(
    db,
    `SELECT object_key FROM object_deletions
     WHERE object_key IN (SELECT value FROM json_each(?)) AND (deleting = 1 OR seq > ?) LIMIT 1`,
  )
    .pluck()
    .get(JSON.stringify(unique), ticket ?? Number.MAX_SAFE_INTEGER);
  if (hit !== undefined) throw beingDeleted(hit);
}

/**
 * Of `keys`, those holding no blob that any manifest (staged or committed) names: forgets their
 * locations and marks them deleting, all in one transaction; returns them. Only these may be deleted.
 */
export function markDeleting(db: Database.Database, keys: string[], at: Date): string[] {
  const unique = [...new Set(keys)];
  if (unique.length === 0) return [];
  // One statement for all keys: the entries of incomplete manifests are then read once.
  const named = sql<[string], string>(
    db,
    `SELECT DISTINCT l.object_key FROM json_each(?) k JOIN blob_locations l ON l.object_key = k.value
     WHERE ${namedByAnyManifest("l.digest")}`,
  ).pluck();
  const forget = sql<[string]>(db, "DELETE FROM blob_locations WHERE object_key = ?");
  const mark = sql<[string, number]>(db, "INSERT INTO object_deletions (object_key, deleting, started_at) VALUES (?, 1, ?)");
  return db
    .transaction((): string[] => {
      const marked: string[] = [];
      const keep = new Set(named.all(JSON.stringify(unique)));
      for (const key of unique) {
        if (keep.has(key)) continue;
        forget.run(key);
        mark.run(key, at.getTime());
        marked.push(key);
      }
      return marked;
    })
    .immediate();
}

/** Ends the deletion of objects that are gone, and prunes marks nobody can still need. */
export function markDeleted(db: Database.Database, keys: string[], at: Date): void {
  db.transaction(() => {
    if (keys.length > 0) {
      sql<[string]>(db, "UPDATE object_deletions SET deleting = 0 WHERE object_key IN (SELECT value FROM json_each(?))").run(
        JSON.stringify([...new Set(keys)]),
      );
    }
    sql<[number]>(db, "DELETE FROM object_deletions WHERE deleting = 0 AND started_at < ?").run(at.getTime() - KEEP_FINISHED_MS);
  }).immediate();
}

/** Objects a gc marked deleting but did not finish deleting (it failed or was killed). */
export function unfinishedDeletions(db: Database.Database): string[] {
  return sql<[], string>(db, "SELECT DISTINCT object_key FROM object_deletions WHERE deleting = 1 ORDER BY object_key")
    .pluck()
    .all();
}
