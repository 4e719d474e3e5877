import type Database from "better-sqlite3";
import { DpkgError, type Digest, type JsonObject, type PackageName } from "@dpkg/core";
import type { RevisionRecord } from "../metadata-store.js";

/**
 * Row shapes, lookups shared by several helpers, and row → record conversions. Statements are
 * prepared once per connection and cached by their SQL text.
 */
const statementCache = new WeakMap<Database.Database, Map<string, Database.Statement>>();

export function sql<Params extends unknown[] = unknown[], Row = unknown>(
  db: Database.Database,
  source: string,
): Database.Statement<Params, Row> {
  let cache = statementCache.get(db);
  if (cache === undefined) statementCache.set(db, (cache = new Map<string, Database.Statement>()));
  let stmt = cache.get(source);
  if (stmt === undefined) cache.set(source, (stmt = db.prepare(source)));
  return stmt as unknown as Database.Statement<Params, Row>;
}

export interface PackageRow {
  id: number;
  namespace_id: number;
  meta: string;
  created_at: number;
}

export interface ManifestRow {
  id: number;
  digest: Digest;
  meta: string;
  entry_count: number;
  total_size: number;
  complete: 0 | 1;
}

/** The columns every revision query selects, joined as `r` (revisions), `m` (manifests), `p`, `n`. */
export const REVISION_COLUMNS = `n.name AS namespace, p.name AS name, m.digest AS digest, r.parent AS parent,
  r.message AS message, r.author AS author, r.created_at AS created_at,
  m.entry_count AS entry_count, m.total_size AS total_size`;
export const REVISION_FROM = `revisions r JOIN manifests m ON m.id = r.manifest_id
  JOIN packages p ON p.id = r.package_id JOIN namespaces n ON n.id = p.namespace_id`;

export interface RevisionRow {
  namespace: string;
  name: string;
  digest: Digest;
  parent: Digest | null;
  message: string;
  author: string;
  created_at: number;
  entry_count: number;
  total_size: number;
}

export function toRevision(row: RevisionRow): RevisionRecord {
  return {
    namespace: row.namespace,
    name: row.name,
    digest: row.digest,
    parent: row.parent,
    message: row.message,
    author: row.author,
    createdAt: new Date(row.created_at),
    entryCount: row.entry_count,
    totalSize: row.total_size,
  };
}

export function parseMeta(text: string): JsonObject {
  return JSON.parse(text) as JsonObject;
}

export function formatName(pkg: PackageName): string {
  return `${pkg.namespace}/${pkg.name}`;
}

export function findPackage(db: Database.Database, pkg: PackageName): PackageRow | undefined {
  return sql<[string, string], PackageRow>(
    db,
    `SELECT p.id, p.namespace_id, p.meta, p.created_at FROM packages p
     JOIN namespaces n ON n.id = p.namespace_id WHERE n.name = ? AND p.name = ?`,
  ).get(pkg.namespace, pkg.name);
}

export function requirePackage(db: Database.Database, pkg: PackageName): PackageRow {
  const row = findPackage(db, pkg);
  if (row === undefined) {
    throw new DpkgError("E_NOT_FOUND", `package ${formatName(pkg)} does not exist`, { package: formatName(pkg) });
  }
  return row;
}

export function ensureNamespace(db: Database.Database, namespace: string): number {
  sql<[string]>(db, "INSERT INTO namespaces (name) VALUES (?) ON CONFLICT (name) DO NOTHING").run(namespace);
  const row = sql<[string], { id: number }>(db, "SELECT id FROM namespaces WHERE name = ?").get(namespace);
  if (row === undefined) throw new Error(`namespace ${namespace} vanished inside a transaction`);
  return row.id;
}

/** The package's row, created (with its namespace) if it does not exist yet. */
export function ensurePackage(db: Database.Database, pkg: PackageName, createdAt: Date): PackageRow {
  const namespaceId = ensureNamespace(db, pkg.namespace);
  sql<[number, string, number]>(
    db,
    "INSERT INTO packages (namespace_id, name, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
  ).run(namespaceId, pkg.name, createdAt.getTime());
  return requirePackage(db, pkg);
}

export function findManifest(db: Database.Database, digest: Digest): ManifestRow | undefined {
  return sql<[string], ManifestRow>(
    db,
    "SELECT id, digest, meta, entry_count, total_size, complete FROM manifests WHERE digest = ?",
  ).get(digest);
}

/** A fully staged manifest, or E_NOT_FOUND. */
export function requireManifest(db: Database.Database, digest: Digest): ManifestRow {
  const row = findManifest(db, digest);
  if (row === undefined || row.complete !== 1) {
    throw new DpkgError("E_NOT_FOUND", `manifest ${digest} is not staged on this registry`, { digest });
  }
  return row;
}

/** The newest revision of the package with this manifest (several revisions may share one). */
export function revisionOf(db: Database.Database, packageId: number, manifestId: number): RevisionRecord | null {
  const row = sql<[number, number], RevisionRow>(
    db,
    `SELECT ${REVISION_COLUMNS} FROM ${REVISION_FROM}
     WHERE r.package_id = ? AND r.manifest_id = ? ORDER BY r.created_at DESC, r.id DESC LIMIT 1`,
  ).get(packageId, manifestId);
  return row === undefined ? null : toRevision(row);
}

export function revisionById(db: Database.Database, id: number): RevisionRecord {
  const row = sql<[number], RevisionRow>(db, `SELECT ${REVISION_COLUMNS} FROM ${REVISION_FROM} WHERE r.id = ?`).get(id);
  if (row === undefined) throw new Error(`revision ${id} does not exist`);
  return toRevision(row);
}
