import type Database from "better-sqlite3";
import type { JsonObject } from "@dpkg/core";
import { parseMeta, sql } from "./rows.js";

/**
 * At most this many entry paths of a package's latest manifest go into its search row (the first
 * ones in path order). Larger packages stay findable by name and metadata and by the paths of their
 * first 20,000 entries; a search row stays around a megabyte, so refreshing it on commit is cheap.
 */
export const SEARCH_PATHS_MAX = 20_000;

/**
 * Makes the package's meta and its full-text row follow the manifest `latest` points at: the header
 * meta (title, description, readme) and the entry paths. Without a `latest` the package keeps only
 * its name in the index. Runs inside the caller's write transaction.
 */
export function refreshPackageSearch(db: Database.Database, packageId: number): void {
  const pkg = sql<[number], { full_name: string; manifest_id: number | null; meta: string | null }>(
    db,
    `SELECT n.name || '/' || p.name AS full_name, t.manifest_id AS manifest_id, m.meta AS meta
     FROM packages p JOIN namespaces n ON n.id = p.namespace_id
     LEFT JOIN tags t ON t.package_id = p.id AND t.name = 'latest'
     LEFT JOIN manifests m ON m.id = t.manifest_id
     WHERE p.id = ?`,
  ).get(packageId);
  if (pkg === undefined) return;
  const metaText = pkg.meta ?? "{}";
  sql<[string, number]>(db, "UPDATE packages SET meta = ? WHERE id = ?").run(metaText, packageId);

  const meta = parseMeta(metaText);
  const paths =
    pkg.manifest_id === null
      ? []
      : sql<[number, number], string>(db, "SELECT path FROM entries WHERE manifest_id = ? ORDER BY path LIMIT ?")
          .pluck()
          .all(pkg.manifest_id, SEARCH_PATHS_MAX);
  sql<[number]>(db, "DELETE FROM package_search WHERE rowid = CAST(? AS INTEGER)").run(packageId);
  sql<[number, string, string | null, string | null, string | null, string]>(
    db,
    "INSERT INTO package_search (rowid, name, title, description, readme, paths) VALUES (CAST(? AS INTEGER), ?, ?, ?, ?, ?)",
  ).run(
    packageId,
    pkg.full_name,
    textField(meta, "title"),
    textField(meta, "description"),
    textField(meta, "readme"),
    paths.join("\n"),
  );
}

/** A string field of the package meta; anything else (absent, number, object) is not indexed. */
export function textField(meta: JsonObject, key: string): string | null {
  const value = meta[key];
  return typeof value === "string" ? value : null;
}
