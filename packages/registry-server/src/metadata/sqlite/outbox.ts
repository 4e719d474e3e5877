import type Database from "better-sqlite3";
import type { OutboxItem } from "../metadata-store.js";
import { revisionById, sql } from "./rows.js";

/**
 * The bucket outbox: queued inside the same transaction as the index change it mirrors, so a crash
 * can lose the bucket write only until the next flush, never for good.
 */
export function queueRevision(db: Database.Database, packageId: number, revisionId: number): void {
  sql<[number, number]>(db, "INSERT INTO outbox (kind, package_id, revision_id) VALUES ('revision', ?, ?)").run(
    packageId,
    revisionId,
  );
}

/** Never merged with an already queued item for the same tag: a flusher may be writing that one now. */
export function queueTag(db: Database.Database, packageId: number, tag: string): void {
  sql<[number, string]>(db, "INSERT INTO outbox (kind, package_id, tag) VALUES ('tag', ?, ?)").run(packageId, tag);
}

interface OutboxRow {
  id: number;
  kind: "revision" | "tag";
  revision_id: number | null;
  tag: string | null;
  namespace: string;
  name: string;
}

/** Oldest first. */
export function pendingOutbox(db: Database.Database, limit: number): OutboxItem[] {
  return db
    .transaction((): OutboxItem[] => {
      const rows = sql<[number], OutboxRow>(
        db,
        `SELECT o.id, o.kind, o.revision_id, o.tag, n.name AS namespace, p.name AS name
       FROM outbox o JOIN packages p ON p.id = o.package_id JOIN namespaces n ON n.id = p.namespace_id
       ORDER BY o.id LIMIT ?`,
      ).all(Math.max(0, limit));
      return rows.map((r): OutboxItem => {
        if (r.kind === "revision" && r.revision_id !== null) {
          return { id: r.id, kind: "revision", revision: revisionById(db, r.revision_id) };
        }
        return { id: r.id, kind: "tag", pkg: { namespace: r.namespace, name: r.name }, tag: r.tag ?? "" };
      });
    })
    .deferred();
}

export function completeOutbox(db: Database.Database, ids: number[]): void {
  if (ids.length === 0) return;
  db.transaction(() => {
    sql<[string]>(db, "DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(?))").run(JSON.stringify(ids));
  }).immediate();
}
