import Database from "better-sqlite3";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { TestRegistry } from "../helpers/test-registry.js";

/**
 * Tables whose rows are what a registry has stored and shows. Staged manifests (manifests, entries)
 * are left out on purpose: a refused manifest may stay staged, invisible until a revision names it.
 */
const TABLES = ["namespaces", "packages", "revisions", "tags", "tag_moves", "blob_locations", "blob_grants", "outbox", "object_deletions"];

/** Everything stored: every object of the blob store with its size, and the row count of each table above. */
export async function storedState(r: TestRegistry): Promise<{ objects: string[]; rows: Record<string, number> }> {
  const objects: string[] = [];
  for await (const o of r.blobs.list("")) objects.push(`${o.key} ${o.size}`);
  const db = new Database(join(r.dir, "index.sqlite"), { readonly: true, fileMustExist: true });
  try {
    const rows = Object.fromEntries(TABLES.map((t) => [t, db.prepare(`SELECT count(*) FROM ${t}`).pluck().get() as number]));
    return { objects: objects.sort(), rows };
  } finally {
    db.close();
  }
}

/** Temp files a request left behind in the registry's folders (the manifest spool and the store's own). */
export async function leftovers(r: TestRegistry): Promise<string[]> {
  const list = (dir: string): Promise<string[]> => readdir(dir).catch(() => []);
  return [...(await list(join(r.dir, "tmp"))), ...(await list(join(r.dir, "blobs", ".tmp")))];
}
