import type Database from "better-sqlite3";
import { DpkgError, parseTag, type Digest, type PackageName } from "@dpkg/core";
import type { TagMoveRecord } from "../metadata-store.js";
import { formatName, requirePackage } from "./rows.js";
import { queueTag } from "./outbox.js";
import { currentTag, moveTag, revisionTarget, tagMoves } from "./tags.js";

/**
 * Tag changes asked for by users (set, delete; queued for the bucket) or read back from the bucket
 * (import; not queued, the bucket already says so).
 */
export function setTag(
  db: Database.Database,
  pkg: PackageName,
  tag: string,
  target: Digest,
  by: string,
  at: Date,
): TagMoveRecord {
  parseTag(tag);
  return db
    .transaction((): TagMoveRecord => {
      const { id } = requirePackage(db, pkg);
      const move = moveTag(db, { packageId: id, tag, target: revisionTarget(db, id, target, formatName(pkg)), by, at });
      if (move.from !== move.to) queueTag(db, id, tag);
      return move;
    })
    .immediate();
}

export function deleteTag(db: Database.Database, pkg: PackageName, tag: string, by: string, at: Date): TagMoveRecord {
  return db
    .transaction((): TagMoveRecord => {
      const { id } = requirePackage(db, pkg);
      if (currentTag(db, id, tag) === null) {
        const name = formatName(pkg);
        throw new DpkgError("E_NOT_FOUND", `${name} has no tag ${JSON.stringify(tag)}`, { package: name, tag });
      }
      const move = moveTag(db, { packageId: id, tag, target: null, by, at });
      queueTag(db, id, tag);
      return move;
    })
    .immediate();
}

/** In the order the moves happened, so the last one gives the current target; every tag unless `tag` is given. */
export function tagHistory(db: Database.Database, pkg: PackageName, tag?: string): TagMoveRecord[] {
  return db.transaction((): TagMoveRecord[] => tagMoves(db, requirePackage(db, pkg).id, tag)).deferred();
}

/**
 * Sets a tag as the bucket says it is. Idempotent: when the tag already points there nothing is
 * logged; otherwise the move is logged with the bucket's by/at (the history before a reindex lives
 * only in the old index).
 */
export function importTag(db: Database.Database, pkg: PackageName, move: TagMoveRecord): void {
  db.transaction(() => {
    const { id } = requirePackage(db, pkg);
    const target = move.to === null ? null : revisionTarget(db, id, move.to, formatName(pkg));
    moveTag(db, { packageId: id, tag: move.tag, target, by: move.by, at: move.at });
  }).immediate();
}
