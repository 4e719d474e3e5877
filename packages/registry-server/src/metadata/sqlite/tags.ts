import type Database from "better-sqlite3";
import { DEFAULT_TAG, DpkgError, type Digest } from "@dpkg/core";
import type { TagMoveRecord } from "../metadata-store.js";
import { sql } from "./rows.js";
import { refreshPackageSearch } from "./search-index.js";

/** Current tag targets and their history. Callers run these inside a write transaction. */
export interface TagTarget {
  manifestId: number;
  digest: Digest;
}

export function currentTag(db: Database.Database, packageId: number, tag: string): TagTarget | null {
  const row = sql<[number, string], TagTarget>(
    db,
    `SELECT t.manifest_id AS manifestId, m.digest AS digest FROM tags t JOIN manifests m ON m.id = t.manifest_id
     WHERE t.package_id = ? AND t.name = ?`,
  ).get(packageId, tag);
  return row ?? null;
}

export function tagsOf(db: Database.Database, packageId: number): Record<string, Digest> {
  const rows = sql<[number], { name: string; digest: Digest }>(
    db,
    `SELECT t.name AS name, m.digest AS digest FROM tags t JOIN manifests m ON m.id = t.manifest_id
     WHERE t.package_id = ? ORDER BY t.name`,
  ).all(packageId);
  return Object.fromEntries(rows.map((r) => [r.name, r.digest]));
}

/**
 * Points `tag` at `target` (null deletes it) and logs the move. A move to where the tag already
 * points changes nothing and logs nothing; the record returned then has `from` equal to `to`.
 * Moving `latest` refreshes the package's meta and search row, which follow the latest manifest.
 */
export function moveTag(
  db: Database.Database,
  move: { packageId: number; tag: string; target: TagTarget | null; by: string; at: Date },
): TagMoveRecord {
  const { packageId, tag, target, by, at } = move;
  const before = currentTag(db, packageId, tag);
  const record: TagMoveRecord = { tag, from: before?.digest ?? null, to: target?.digest ?? null, by, at };
  if (record.from === record.to) return record;
  if (target === null) {
    sql<[number, string]>(db, "DELETE FROM tags WHERE package_id = ? AND name = ?").run(packageId, tag);
  } else {
    sql<[number, string, number]>(
      db,
      `INSERT INTO tags (package_id, name, manifest_id) VALUES (?, ?, ?)
       ON CONFLICT (package_id, name) DO UPDATE SET manifest_id = excluded.manifest_id`,
    ).run(packageId, tag, target.manifestId);
  }
  sql<[number, string, string | null, string | null, string, number]>(
    db,
    "INSERT INTO tag_moves (package_id, tag, from_digest, to_digest, moved_by, moved_at) VALUES (?, ?, ?, ?, ?, ?)",
  ).run(packageId, tag, record.from, record.to, by, at.getTime());
  if (tag === DEFAULT_TAG) refreshPackageSearch(db, packageId);
  return record;
}

/** The revision target for a tag: a manifest that some revision of this package has, or E_NOT_FOUND. */
export function revisionTarget(db: Database.Database, packageId: number, digest: Digest, label: string): TagTarget {
  const row = sql<[number, string], { manifestId: number }>(
    db,
    `SELECT r.manifest_id AS manifestId FROM revisions r JOIN manifests m ON m.id = r.manifest_id
     WHERE r.package_id = ? AND m.digest = ? LIMIT 1`,
  ).get(packageId, digest);
  if (row === undefined) {
    throw new DpkgError("E_NOT_FOUND", `${label} has no revision ${digest}`, { package: label, digest });
  }
  return { manifestId: row.manifestId, digest };
}

interface TagMoveRow {
  tag: string;
  from_digest: Digest | null;
  to_digest: Digest | null;
  moved_by: string;
  moved_at: number;
}

/** In the order the moves happened (oldest first): the last one says where the tag points now. */
export function tagMoves(db: Database.Database, packageId: number, tag?: string): TagMoveRecord[] {
  const columns = "tag, from_digest, to_digest, moved_by, moved_at";
  const rows =
    tag === undefined
      ? sql<[number], TagMoveRow>(db, `SELECT ${columns} FROM tag_moves WHERE package_id = ? ORDER BY id`).all(
          packageId,
        )
      : sql<[number, string], TagMoveRow>(
          db,
          `SELECT ${columns} FROM tag_moves WHERE package_id = ? AND tag = ? ORDER BY id`,
        ).all(packageId, tag);
  return rows.map((r) => ({
    tag: r.tag,
    from: r.from_digest,
    to: r.to_digest,
    by: r.moved_by,
    at: new Date(r.moved_at),
  }));
}
