import type Database from "better-sqlite3";

/**
 * SQLite's own checks (page structure, foreign keys, the FTS index) plus the invariants this schema
 * relies on but cannot declare. Returns one line per problem; empty when the database is sound.
 */
export function integrityCheck(db: Database.Database): string[] {
  const problems: string[] = [];
  for (const line of db.pragma("integrity_check", { simple: false }) as { integrity_check: string }[]) {
    if (line.integrity_check !== "ok") problems.push(`integrity_check: ${line.integrity_check}`);
  }
  const fk = db.pragma("foreign_key_check") as { table: string; rowid: number | null; parent: string }[];
  for (const row of fk) {
    problems.push(`foreign_key_check: ${row.table} row ${row.rowid ?? "?"} refers to a missing ${row.parent} row`);
  }
  try {
    db.prepare("INSERT INTO package_search (package_search) VALUES ('integrity-check')").run();
  } catch (e) {
    problems.push(`package_search: ${e instanceof Error ? e.message : String(e)}`);
  }
  const invariants: [string, string][] = [
    [
      "revisions of manifests that are not completely staged",
      `SELECT count(*) FROM revisions r JOIN manifests m ON m.id = r.manifest_id WHERE m.complete = 0`,
    ],
    [
      "tags pointing at a manifest no revision of their package has",
      `SELECT count(*) FROM tags t WHERE NOT EXISTS
         (SELECT 1 FROM revisions r WHERE r.package_id = t.package_id AND r.manifest_id = t.manifest_id)`,
    ],
    [
      "complete manifests whose entry count differs from their rows",
      `SELECT count(*) FROM manifests m WHERE m.complete = 1
         AND m.entry_count != (SELECT count(*) FROM entries e WHERE e.manifest_id = m.id)`,
    ],
    [
      "entries of complete manifests missing from their manifest's digest list",
      `SELECT count(*) FROM manifests m JOIN entries e ON e.manifest_id = m.id WHERE m.complete = 1
         AND NOT EXISTS (SELECT 1 FROM manifest_blobs b WHERE b.digest = e.digest AND b.manifest_id = m.id)`,
    ],
    [
      "manifests with entry_values whose entries lack an ord or a size value",
      `SELECT count(*) FROM manifests m WHERE m.value_block IS NOT NULL AND m.entry_count != (
         SELECT count(*) FROM entries e JOIN entry_values v ON v.manifest_id = e.manifest_id
           AND v.block = e.ord / m.value_block AND v.key_id = (SELECT id FROM value_keys WHERE name = 'size')
           AND v.value = e.size AND v.ord = e.ord
         WHERE e.manifest_id = m.id)`,
    ],
  ];
  for (const [label, query] of invariants) {
    const count = db.prepare<[], number>(query).pluck().get() ?? 0;
    if (count > 0) problems.push(`${label}: ${count}`);
  }
  return problems;
}
