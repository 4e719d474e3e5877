import type Database from "better-sqlite3";
import { DpkgError } from "@dpkg/core";

/**
 * Numbered schema migrations. MIGRATIONS[i] brings `PRAGMA user_version` from i to i + 1; each runs in
 * its own IMMEDIATE transaction together with the version bump, so a crash leaves the database at a
 * whole version. Never edit a step once released: append a new one.
 *
 * Conventions: times are INTEGER milliseconds since the epoch; digests are the `blake3:HEX` text;
 * meta columns hold canonical JSON text (NULL for an entry without meta); every path comparison uses
 * the default BINARY collation, which orders UTF-8 bytes exactly like a manifest orders its paths.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE namespaces (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    public_read INTEGER NOT NULL DEFAULT 0 CHECK (public_read IN (0, 1))
  );

  CREATE TABLE packages (
    id INTEGER PRIMARY KEY,
    namespace_id INTEGER NOT NULL REFERENCES namespaces(id),
    name TEXT NOT NULL,
    -- header meta of the manifest that 'latest' points at ('{}' when it points nowhere)
    meta TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    UNIQUE (namespace_id, name)
  );

  -- complete = 0 while stageManifest is still inserting entries (or crashed doing so);
  -- stage_token says which attempt owns the rows, so two writers never mix their batches.
  CREATE TABLE manifests (
    id INTEGER PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    meta TEXT NOT NULL,
    -- counted while the entries stream in; final once complete = 1
    entry_count INTEGER NOT NULL DEFAULT 0,
    total_size INTEGER NOT NULL DEFAULT 0,
    complete INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
    stage_token TEXT,
    staged_at INTEGER NOT NULL
  );

  -- Keyed (manifest, path) without a rowid: rows are stored in path order, so a manifest's entries
  -- are one contiguous range (fast staging of sorted input, fast ordered and prefix scans).
  CREATE TABLE entries (
    manifest_id INTEGER NOT NULL REFERENCES manifests(id),
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    digest TEXT NOT NULL,
    meta TEXT,
    PRIMARY KEY (manifest_id, path)
  ) WITHOUT ROWID;
  -- Also holds (manifest_id, path), so "does manifest M name digest D" is one seek.
  CREATE INDEX entries_digest ON entries (digest, manifest_id);

  CREATE TABLE revisions (
    id INTEGER PRIMARY KEY,
    package_id INTEGER NOT NULL REFERENCES packages(id),
    manifest_id INTEGER NOT NULL REFERENCES manifests(id),
    parent TEXT,
    message TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX revisions_package_time ON revisions (package_id, created_at, id);
  CREATE INDEX revisions_manifest ON revisions (manifest_id, package_id);

  CREATE TABLE tags (
    package_id INTEGER NOT NULL REFERENCES packages(id),
    name TEXT NOT NULL,
    manifest_id INTEGER NOT NULL REFERENCES manifests(id),
    PRIMARY KEY (package_id, name)
  ) WITHOUT ROWID;

  -- Every set, move and delete of a tag; from/to are NULL for "did not exist" / "deleted".
  CREATE TABLE tag_moves (
    id INTEGER PRIMARY KEY,
    package_id INTEGER NOT NULL REFERENCES packages(id),
    tag TEXT NOT NULL,
    from_digest TEXT,
    to_digest TEXT,
    moved_by TEXT NOT NULL,
    moved_at INTEGER NOT NULL
  );
  CREATE INDEX tag_moves_package ON tag_moves (package_id, tag, id);

  -- A digest may live in several objects (a blob packed twice by concurrent pushes).
  CREATE TABLE blob_locations (
    digest TEXT NOT NULL,
    object_key TEXT NOT NULL,
    start_offset INTEGER NOT NULL CHECK (start_offset >= 0),
    end_offset INTEGER NOT NULL,
    size INTEGER NOT NULL CHECK (size = end_offset - start_offset),
    PRIMARY KEY (digest, object_key, start_offset)
  ) WITHOUT ROWID;
  CREATE INDEX blob_locations_object ON blob_locations (object_key);

  -- Namespaces that proved they hold a blob (uploaded its bytes, or a revision of theirs names it).
  CREATE TABLE blob_grants (
    namespace_id INTEGER NOT NULL REFERENCES namespaces(id),
    digest TEXT NOT NULL,
    PRIMARY KEY (namespace_id, digest)
  ) WITHOUT ROWID;

  CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
  );

  -- Bucket writes owed by committed transactions (see OutboxItem), deleted once written. A tag row
  -- names the tag only: whoever flushes it writes the tag's current target.
  CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('revision', 'tag')),
    package_id INTEGER NOT NULL REFERENCES packages(id),
    revision_id INTEGER REFERENCES revisions(id),
    tag TEXT,
    CHECK (CASE kind WHEN 'revision' THEN revision_id IS NOT NULL AND tag IS NULL
                     ELSE revision_id IS NULL AND tag IS NOT NULL END)
  );

  -- One row per package, rowid = packages.id. paths: newline-separated paths of the latest manifest,
  -- capped (see SEARCH_PATHS_MAX); newline cannot occur inside an entry path.
  CREATE VIRTUAL TABLE package_search USING fts5 (
    name, title, description, readme, paths,
    tokenize = 'unicode61 remove_diacritics 2'
  );
  `,
  `
  -- Objects gc is deleting (deleting = 1) or has deleted. gc forgets an object's locations and inserts
  -- its row in one transaction, and recordBlobs refuses a location in an object whose row is still
  -- deleting or newer than the ticket its writer took before writing (see object-deletions.ts).
  -- AUTOINCREMENT: seq never goes back, even after old rows are pruned.
  CREATE TABLE object_deletions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    object_key TEXT NOT NULL,
    deleting INTEGER NOT NULL CHECK (deleting IN (0, 1)),
    started_at INTEGER NOT NULL
  );
  CREATE INDEX object_deletions_key ON object_deletions (object_key, deleting);
  `,
  `
  -- An index of entry values, so that a selective --where query reads the entries it selects instead
  -- of evaluating JSON on every entry of the manifest (entry-values.ts, value-lookup.ts).
  --
  -- ord: an entry's position in its manifest (0, 1, ... in path order). value_block: the entries per
  -- block of entry_values. Both are NULL for manifests staged before this step: those are scanned.
  ALTER TABLE entries ADD COLUMN ord INTEGER;
  -- With the size, so that a size range filters candidates without reading their rows.
  CREATE INDEX entries_ord ON entries (manifest_id, ord, size);
  ALTER TABLE manifests ADD COLUMN value_block INTEGER;

  -- What an entry_values row is a value of: the size, or a meta key path (value-keys.ts).
  CREATE TABLE value_keys (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
  );

  -- Each scalar field of each entry: its size, and every number, string (its first 64 code points)
  -- and boolean (1 or 0, under a key of its own) in its meta, at any depth of objects. The value
  -- column has no type, hence no affinity: numbers stay numbers, strings stay strings, and every
  -- number sorts before every string. Rows come in blocks of value_block entries by ord, each block
  -- written by one staging batch, so staging appends to the tree instead of inserting all over it,
  -- and a lookup seeks once per block. No foreign key: checking it would cost a lookup per row.
  CREATE TABLE entry_values (
    manifest_id INTEGER NOT NULL,
    block INTEGER NOT NULL,
    key_id INTEGER NOT NULL,
    value NOT NULL,
    ord INTEGER NOT NULL,
    PRIMARY KEY (manifest_id, block, key_id, value, ord)
  ) WITHOUT ROWID;

  -- The distinct digests of each complete manifest (blob-references.ts), written in digest order
  -- when staging completes. It replaces entries_digest, which staging updated at a random place of a
  -- large tree for every entry: that index was half the time of staging 1,000,000 entries.
  CREATE TABLE manifest_blobs (
    digest TEXT NOT NULL,
    manifest_id INTEGER NOT NULL REFERENCES manifests(id),
    PRIMARY KEY (digest, manifest_id)
  ) WITHOUT ROWID;
  INSERT INTO manifest_blobs (digest, manifest_id)
    SELECT DISTINCT e.digest, e.manifest_id FROM entries e JOIN manifests m ON m.id = e.manifest_id
    WHERE m.complete = 1 ORDER BY 1, 2;
  DROP INDEX entries_digest;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the database up to the last of `migrations`; refuses one written by a newer registry.
 * Returns the version it found.
 */
export function migrate(db: Database.Database, file: string, migrations: readonly string[] = MIGRATIONS): number {
  const latest = migrations.length;
  const version = (): number => db.pragma("user_version", { simple: true }) as number;
  const refuseNewer = (seen: number): never => {
    throw new DpkgError(
      "E_UNAVAILABLE",
      `metadata database ${file} has schema version ${seen}, newer than this registry understands (${latest})`,
      { file, found: seen, supported: latest },
      { hint: "Run a newer dpkg-registry on this data folder, or point it at another one." },
    );
  };
  const found = version();
  if (found > latest) refuseNewer(found);
  for (;;) {
    // Re-read inside the write lock: another process may have migrated while we waited for it.
    const done = db
      .transaction(() => {
        const current = version();
        if (current > latest) refuseNewer(current);
        if (current === latest) return true;
        db.exec(migrations[current] ?? "");
        db.pragma(`user_version = ${current + 1}`);
        return false;
      })
      .immediate();
    if (done) return found;
  }
}
