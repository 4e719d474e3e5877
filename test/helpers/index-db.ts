import Database from "better-sqlite3";
import { join } from "node:path";

export interface IndexState {
  /** `PRAGMA integrity_check` and `foreign_key_check` lines that are not "ok". */
  problems: string[];
  revisions: number;
  /** Manifests whose staging began but never completed, and the entry rows they hold. */
  incompleteManifests: number;
  stagedRows: number;
}

/** Opens a registry's index.sqlite directly (after a crash: SQLite recovers its WAL) and checks it. */
export function inspectIndex(dataDir: string): IndexState {
  const db = new Database(join(dataDir, "index.sqlite"), { fileMustExist: true });
  try {
    const problems = (db.pragma("integrity_check") as { integrity_check: string }[])
      .map((r) => r.integrity_check)
      .filter((l) => l !== "ok");
    for (const row of db.pragma("foreign_key_check") as { table: string }[]) problems.push(`foreign key: ${row.table}`);
    const count = (sql: string): number => db.prepare<[], number>(sql).pluck().get() ?? 0;
    return {
      problems,
      revisions: count("SELECT count(*) FROM revisions"),
      incompleteManifests: count("SELECT count(*) FROM manifests WHERE complete = 0"),
      stagedRows: count(
        "SELECT count(*) FROM entries WHERE manifest_id IN (SELECT id FROM manifests WHERE complete = 0)",
      ),
    };
  } finally {
    db.close();
  }
}

/** Rows staged for manifests not yet complete, read while the registry runs (WAL readers do not block it). */
export function stagedRowsNow(dataDir: string): number {
  return countNow(dataDir, "SELECT count(*) FROM entries WHERE manifest_id IN (SELECT id FROM manifests WHERE complete = 0)");
}

/** Blobs some namespace has proved to hold (stored and recorded), read while the registry runs. */
export function grantedBlobsNow(dataDir: string): number {
  return countNow(dataDir, "SELECT count(*) FROM blob_grants");
}

function countNow(dataDir: string, sql: string): number {
  const db = new Database(join(dataDir, "index.sqlite"), { readonly: true, fileMustExist: true });
  try {
    return db.prepare<[], number>(sql).pluck().get() ?? 0;
  } finally {
    db.close();
  }
}
