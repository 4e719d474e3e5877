import type Database from "better-sqlite3";
import type { Digest, PackageName } from "@dpkg/core";
import type { BlobLocationRecord } from "../metadata-store.js";
import { ensureNamespace, findPackage, requireManifest, sql } from "./rows.js";

/**
 * Blob locations and grants. Batches of digests travel as one JSON array parameter read with
 * json_each(), so a call with thousands of digests is one statement, not thousands.
 */
const LACKS_BLOB = `(NOT EXISTS (SELECT 1 FROM blob_locations l WHERE l.digest = {d})
  OR NOT EXISTS (SELECT 1 FROM blob_grants g WHERE g.namespace_id = ? AND g.digest = {d}))`;

function namespaceId(db: Database.Database, namespace: string): number {
  const row = sql<[string], { id: number }>(db, "SELECT id FROM namespaces WHERE name = ?").get(namespace);
  // No namespace row: it holds no grant, and no real row has id -1.
  return row?.id ?? -1;
}

/** Of `digests` (deduplicated, in order), those without a location or without a grant to `namespace`. */
export function missingBlobs(db: Database.Database, namespace: string, digests: Digest[]): Digest[] {
  const unique = [...new Set(digests)];
  if (unique.length === 0) return [];
  return sql<[string, number], Digest>(
    db,
    `SELECT j.value FROM json_each(?) j WHERE ${LACKS_BLOB.replaceAll("{d}", "j.value")} ORDER BY j.key`,
  )
    .pluck()
    .all(JSON.stringify(unique), namespaceId(db, namespace));
}

/**
 * Digests named by a staged manifest that `namespace` cannot commit: no location, or the namespace
 * never proved it holds them (otherwise knowing a digest would be enough to obtain its bytes).
 */
export function missingBlobsOfManifest(
  db: Database.Database,
  manifest: Digest,
  namespace: string,
  limit: number,
): Digest[] {
  const manifestId = requireManifest(db, manifest).id;
  return sql<[number, number, number], Digest>(
    db,
    `SELECT DISTINCT e.digest FROM entries e
     WHERE e.manifest_id = ? AND ${LACKS_BLOB.replaceAll("{d}", "e.digest")} LIMIT ?`,
  )
    .pluck()
    .all(manifestId, namespaceId(db, namespace), Math.max(0, limit));
}

export function recordBlobs(db: Database.Database, namespace: string | null, locations: BlobLocationRecord[]): void {
  const insertLocation = sql<[string, string, number, number, number]>(
    db,
    `INSERT INTO blob_locations (digest, object_key, start_offset, end_offset, size) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT DO NOTHING`,
  );
  const insertGrant = sql<[number, string]>(
    db,
    "INSERT INTO blob_grants (namespace_id, digest) VALUES (?, ?) ON CONFLICT DO NOTHING",
  );
  db.transaction(() => {
    const id = namespace === null ? null : ensureNamespace(db, namespace);
    for (const l of locations) {
      insertLocation.run(l.digest, l.key, l.start, l.end, l.size);
      if (id !== null) insertGrant.run(id, l.digest);
    }
  }).immediate();
}

/** Grants `namespace` every digest a manifest names (a committed revision proves possession). */
export function grantManifestBlobs(db: Database.Database, namespaceId: number, manifestId: number): void {
  sql<[number, number]>(
    db,
    `INSERT INTO blob_grants (namespace_id, digest) SELECT DISTINCT ?, digest FROM entries WHERE manifest_id = ?
     ON CONFLICT DO NOTHING`,
  ).run(namespaceId, manifestId);
}

interface LocationRow {
  digest: Digest;
  size: number;
  object_key: string;
  start_offset: number;
  end_offset: number;
}

/** Locations of the digests some revision of `pkg` names; any other digest is silently left out. */
export function blobLocations(db: Database.Database, pkg: PackageName, digests: Digest[]): BlobLocationRecord[] {
  const found = findPackage(db, pkg);
  const unique = [...new Set(digests)];
  if (found === undefined || unique.length === 0) return [];
  const rows = sql<[string, number], LocationRow>(
    db,
    `SELECT l.digest, l.size, l.object_key, l.start_offset, l.end_offset
     FROM json_each(?) j JOIN blob_locations l ON l.digest = j.value
     WHERE EXISTS (SELECT 1 FROM revisions r JOIN entries e ON e.digest = j.value AND e.manifest_id = r.manifest_id
                   WHERE r.package_id = ?)
     ORDER BY j.key, l.object_key, l.start_offset`,
  ).all(JSON.stringify(unique), found.id);
  return rows.map((r) => ({
    digest: r.digest,
    size: r.size,
    key: r.object_key,
    start: r.start_offset,
    end: r.end_offset,
  }));
}

/** Objects holding a blob that some manifest names, staged or committed (gc must keep them). */
export function liveObjectKeys(db: Database.Database): Set<string> {
  const keys = sql<[], string>(
    db,
    `SELECT DISTINCT l.object_key FROM blob_locations l
     WHERE EXISTS (SELECT 1 FROM entries e WHERE e.digest = l.digest)`,
  )
    .pluck()
    .all();
  return new Set(keys);
}

export function forgetObjects(db: Database.Database, keys: string[]): void {
  if (keys.length === 0) return;
  db.transaction(() => {
    sql<[string]>(db, "DELETE FROM blob_locations WHERE object_key IN (SELECT value FROM json_each(?))").run(
      JSON.stringify([...new Set(keys)]),
    );
  }).immediate();
}
