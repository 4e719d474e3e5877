import type Database from "better-sqlite3";
import { DEFAULT_TAG, DpkgError, type Digest, type PackageName, type RefSelector } from "@dpkg/core";
import type { PackageRecord, RevisionRecord } from "../metadata-store.js";
import {
  findPackage,
  formatName,
  parseMeta,
  REVISION_COLUMNS,
  REVISION_FROM,
  requirePackage,
  revisionOf,
  sql,
  toRevision,
  type RevisionRow,
} from "./rows.js";
import { currentTag, tagsOf } from "./tags.js";

/** Reads of packages and revisions. Each runs in one read transaction, so it sees one snapshot. */
export function getPackage(db: Database.Database, pkg: PackageName): PackageRecord | null {
  return db
    .transaction((): PackageRecord | null => {
      const row = findPackage(db, pkg);
      if (row === undefined) return null;
      const latest = currentTag(db, row.id, DEFAULT_TAG);
      return {
        namespace: pkg.namespace,
        name: pkg.name,
        meta: parseMeta(row.meta),
        latest: latest === null ? null : revisionOf(db, row.id, latest.manifestId),
        tags: tagsOf(db, row.id),
        createdAt: new Date(row.created_at),
      };
    })
    .deferred();
}

/** Newest first; `before` pages back in time. */
export function listRevisions(
  db: Database.Database,
  pkg: PackageName,
  options: { limit: number; before?: Date },
): RevisionRecord[] {
  return db
    .transaction((): RevisionRecord[] => {
      const { id } = requirePackage(db, pkg);
      const before = options.before?.getTime() ?? Number.MAX_SAFE_INTEGER;
      return sql<[number, number, number], RevisionRow>(
        db,
        `SELECT ${REVISION_COLUMNS} FROM ${REVISION_FROM}
       WHERE r.package_id = ? AND r.created_at < ? ORDER BY r.created_at DESC, r.id DESC LIMIT ?`,
      )
        .all(id, before, Math.max(0, options.limit))
        .map(toRevision);
    })
    .deferred();
}

/** Candidates listed in an E_AMBIGUOUS_REF error. */
const CANDIDATES_MAX = 10;

export function resolve(db: Database.Database, pkg: PackageName, selector: RefSelector): RevisionRecord {
  if (selector.kind === "tag") {
    // The hot path (every `install`, `open` and lockfile check asks for a tag): one statement, which
    // is its own consistent snapshot, instead of a transaction of three. When it finds nothing, the
    // path below says which part is missing.
    const row = sql<[string, string, string], RevisionRow>(
      db,
      `SELECT ${REVISION_COLUMNS} FROM ${REVISION_FROM}
       JOIN tags t ON t.package_id = r.package_id AND t.manifest_id = r.manifest_id
       WHERE n.name = ? AND p.name = ? AND t.name = ? ORDER BY r.created_at DESC, r.id DESC LIMIT 1`,
    ).get(pkg.namespace, pkg.name, selector.tag);
    if (row !== undefined) return toRevision(row);
  }
  return db
    .transaction((): RevisionRecord => {
      const { id } = requirePackage(db, pkg);
      const name = formatName(pkg);
      if (selector.kind === "tag") {
        const target = currentTag(db, id, selector.tag);
        if (target === null) {
          throw new DpkgError("E_NOT_FOUND", `${name} has no tag ${JSON.stringify(selector.tag)}`, {
            package: name,
            tag: selector.tag,
          });
        }
        return mustExist(revisionOf(db, id, target.manifestId), name);
      }
      const { prefix } = selector;
      if (!/^[0-9a-f]{8,64}$/.test(prefix)) {
        throw new DpkgError("E_BAD_REF", `blake3:${prefix} is not 8 to 64 lowercase hex digits`, { prefix });
      }
      // Hex digits sort below 'g', so the prefix's digests are exactly those in [prefix, prefix + 'g').
      const matches = sql<[number, string, string, number], { id: number; digest: Digest }>(
        db,
        `SELECT DISTINCT m.id AS id, m.digest AS digest FROM revisions r JOIN manifests m ON m.id = r.manifest_id
       WHERE r.package_id = ? AND m.digest >= ? AND m.digest < ? ORDER BY m.digest LIMIT ?`,
      ).all(id, `blake3:${prefix}`, `blake3:${prefix}g`, CANDIDATES_MAX + 1);
      const [first] = matches;
      if (first === undefined) {
        throw new DpkgError("E_NOT_FOUND", `${name} has no revision blake3:${prefix}`, { package: name, prefix });
      }
      if (matches.length > 1) {
        const candidates = matches.slice(0, CANDIDATES_MAX).map((m) => m.digest);
        const more = matches.length > CANDIDATES_MAX ? ", ..." : "";
        throw new DpkgError(
          "E_AMBIGUOUS_REF",
          `blake3:${prefix} names several revisions of ${name}: ${candidates.join(", ")}${more}`,
          { package: name, prefix, candidates },
        );
      }
      return mustExist(revisionOf(db, id, first.id), name);
    })
    .deferred();
}

function mustExist(revision: RevisionRecord | null, name: string): RevisionRecord {
  if (revision === null) throw new Error(`a tag of ${name} points at a manifest without a revision`);
  return revision;
}
