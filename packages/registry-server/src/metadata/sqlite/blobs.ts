import type Database from "better-sqlite3";
import type { Digest, PackageName } from "@dpkg/core";
import type { BlobLocationRecord, SizeMismatchRecord } from "../metadata-store.js";
import { namedByAnyManifest } from "./blob-references.js";
import { assertWritable } from "./object-deletions.js";
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
  // Digests in digest order, so that the probes read blob_locations and blob_grants in their key
  // order, each page once: for 1,000,000 entries 3.5 times faster than probing in path order.
  return sql<[number, number, number], Digest>(
    db,
    `WITH d AS MATERIALIZED (SELECT DISTINCT digest FROM entries WHERE manifest_id = ? ORDER BY digest)
     SELECT d.digest FROM d WHERE ${LACKS_BLOB.replaceAll("{d}", "d.digest")} LIMIT ?`,
  )
    .pluck()
    .all(manifestId, namespaceId(db, namespace), Math.max(0, limit));
}

/**
 * Up to `limit` entries of a staged manifest whose declared size is not the size of the stored blob
 * they name (the size of a digest's bytes never varies, so any stored location tells it).
 */
export function sizeMismatchesOfManifest(db: Database.Database, manifest: Digest, limit: number): SizeMismatchRecord[] {
  const manifestId = requireManifest(db, manifest).id;
  if (limit <= 0) return [];
  // Probed in digest order, as in missingBlobsOfManifest: in path order the probes of a 1,000,000-entry
  // manifest hit blob_locations' pages at random. Paths are looked up only for the (rare) bad digests.
  const bad = sql<[number, number], { digest: Digest; declared: number; stored: number }>(
    db,
    `WITH d AS MATERIALIZED (SELECT DISTINCT digest, size FROM entries WHERE manifest_id = ? ORDER BY digest)
     SELECT d.digest, d.size AS declared, MIN(l.size) AS stored
     FROM d JOIN blob_locations l ON l.digest = d.digest AND l.size != d.size
     GROUP BY d.digest, d.size LIMIT ?`,
  ).all(manifestId, limit);
  if (bad.length === 0) return [];
  // One pass over the manifest's entries (the rows are keyed by path, not digest).
  const stored = new Map(bad.map((b) => [`${b.digest} ${b.declared}`, b.stored]));
  const named = sql<[number, string], { path: string; digest: Digest; size: number }>(
    db,
    `SELECT path, digest, size FROM entries
     WHERE manifest_id = ? AND digest IN (SELECT value FROM json_each(?)) ORDER BY path`,
  ).all(manifestId, JSON.stringify(bad.map((b) => b.digest)));
  const mismatches: SizeMismatchRecord[] = [];
  for (const e of named) {
    const size = stored.get(`${e.digest} ${e.size}`);
    if (size !== undefined) mismatches.push({ path: e.path, digest: e.digest, declared: e.size, stored: size });
    if (mismatches.length >= limit) break;
  }
  return mismatches;
}

export function recordBlobs(
  db: Database.Database,
  namespace: string | null,
  locations: BlobLocationRecord[],
  ticket?: number,
): void {
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
    assertWritable(db, locations.map((l) => l.key), ticket);
    const id = namespace === null ? null : ensureNamespace(db, namespace);
    for (const l of locations) {
      insertLocation.run(l.digest, l.key, l.start, l.end, l.size);
      if (id !== null) insertGrant.run(id, l.digest);
    }
  }).immediate();
}

/** Of `digests` (deduplicated, in order), those stored somewhere, for whichever namespace. */
export function storedBlobs(db: Database.Database, digests: Digest[]): Digest[] {
  const unique = [...new Set(digests)];
  if (unique.length === 0) return [];
  return sql<[string], Digest>(
    db,
    "SELECT j.value FROM json_each(?) j WHERE EXISTS (SELECT 1 FROM blob_locations l WHERE l.digest = j.value) ORDER BY j.key",
  )
    .pluck()
    .all(JSON.stringify(unique));
}

/** Grants `namespace` those of `digests` that are stored right now, in one transaction; returns them. */
export function grantStored(db: Database.Database, namespace: string, digests: Digest[]): Digest[] {
  return db
    .transaction((): Digest[] => {
      const stored = storedBlobs(db, digests);
      const id = ensureNamespace(db, namespace);
      const insert = sql<[number, string]>(db, "INSERT INTO blob_grants (namespace_id, digest) VALUES (?, ?) ON CONFLICT DO NOTHING");
      for (const digest of stored) insert.run(id, digest);
      return stored;
    })
    .immediate();
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
     WHERE EXISTS (SELECT 1 FROM manifest_blobs b JOIN revisions r ON r.manifest_id = b.manifest_id
                   WHERE b.digest = j.value AND r.package_id = ?)
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
     WHERE ${namedByAnyManifest("l.digest")}`,
  )
    .pluck()
    .all();
  return new Set(keys);
}
