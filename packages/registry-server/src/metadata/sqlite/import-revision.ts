import type Database from "better-sqlite3";
import type { RevisionRecord } from "../metadata-store.js";
import { grantManifestBlobs } from "./blobs.js";
import { ensurePackage, requireManifest, sql } from "./rows.js";

/**
 * Records a revision read back from the bucket, exactly as written there: no parent check, no tag
 * moves. A revision is identified by (package, manifest, time), as its bucket key is, so importing
 * the same record twice records it once. The package's creation time is its oldest revision's,
 * whatever order the records arrive in. The namespace is granted the manifest's blobs, as the
 * original commit proved it held them.
 */
export function importRevision(db: Database.Database, record: RevisionRecord): void {
  db.transaction(() => {
    const manifest = requireManifest(db, record.digest);
    const pkg = ensurePackage(db, record, record.createdAt);
    const at = record.createdAt.getTime();
    sql<[number, number]>(db, "UPDATE packages SET created_at = min(created_at, ?) WHERE id = ?").run(at, pkg.id);
    const exists = sql<[number, number, number], number>(
      db,
      "SELECT 1 FROM revisions WHERE package_id = ? AND manifest_id = ? AND created_at = ?",
    )
      .pluck()
      .get(pkg.id, manifest.id, at);
    if (exists !== undefined) return;
    sql<[number, number, string | null, string, string, number]>(
      db,
      "INSERT INTO revisions (package_id, manifest_id, parent, message, author, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    ).run(pkg.id, manifest.id, record.parent, record.message, record.author, at);
    grantManifestBlobs(db, pkg.namespace_id, manifest.id);
  }).immediate();
}
