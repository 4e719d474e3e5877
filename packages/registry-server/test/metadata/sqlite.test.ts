import Database from "better-sqlite3";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { metadataStoreContract } from "../contract/metadata-store-contract.js";
import { collect, entry, pkgA, push, rejection } from "../contract/metadata-store/fixtures.js";
import { migrate, SCHEMA_VERSION } from "../../src/metadata/sqlite/migrations.js";
import { openSqliteMetadataStore } from "../../src/metadata/sqlite/sqlite-metadata-store.js";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.js";

metadataStoreContract("sqlite file", async () => {
  const dir = await makeTempDir("dpkg-sqlite");
  const store = openSqliteMetadataStore(join(dir.path, "index.sqlite"));
  return {
    store,
    cleanup: async () => {
      await store.close();
      await dir.cleanup();
    },
  };
});

metadataStoreContract("sqlite :memory:", () => {
  const store = openSqliteMetadataStore(":memory:");
  return Promise.resolve({ store, cleanup: () => store.close() });
});

describe("SqliteMetadataStore on a file", () => {
  let dir: TempDir;
  let file: string;
  beforeEach(async () => {
    dir = await makeTempDir("dpkg-sqlite");
    file = join(dir.path, "index.sqlite");
  });
  afterEach(() => dir.cleanup());

  it("runs in WAL mode with foreign keys and a busy timeout", async () => {
    const store = openSqliteMetadataStore(file);
    expect(store.db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(store.db.pragma("foreign_keys", { simple: true })).toBe(1);
    expect(store.db.pragma("busy_timeout", { simple: true })).toBeGreaterThanOrEqual(5_000);
    await store.close();
  });

  it("creates the schema in an empty file, and reopens it without migrating again", async () => {
    await writeFile(file, "");
    const store = openSqliteMetadataStore(file);
    expect(store.db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    const tables = store.db.prepare<[], string>("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all();
    expect(tables).toEqual(
      expect.arrayContaining(["packages", "manifests", "entries", "revisions", "tags", "tag_moves"]),
    );
    await store.close();
    const again = new Database(file);
    expect(migrate(again, file)).toBe(SCHEMA_VERSION);
    again.close();
  });

  it("upgrades an older database step by step, each step all or nothing", () => {
    const db = new Database(file);
    const v1 = ["CREATE TABLE t (x INTEGER)"];
    expect(migrate(db, file, v1)).toBe(0);
    db.prepare("INSERT INTO t (x) VALUES (1)").run();
    const v3 = [...v1, "ALTER TABLE t ADD COLUMN y TEXT DEFAULT 'y'", "CREATE INDEX t_y ON t (y)"];
    expect(migrate(db, file, v3)).toBe(1);
    expect(db.pragma("user_version", { simple: true })).toBe(3);
    expect(db.prepare("SELECT x, y FROM t").all()).toEqual([{ x: 1, y: "y" }]);
    // A step that fails halfway leaves the database at the version before it.
    expect(() => migrate(db, file, [...v3, "CREATE TABLE u (a); CREATE TABLE broken ("])).toThrow();
    expect(db.pragma("user_version", { simple: true })).toBe(3);
    expect(db.prepare("SELECT count(*) FROM sqlite_schema WHERE name = 'u'").pluck().get()).toBe(0);
    db.close();
  });

  it("refuses a database written by a newer registry, with a clear error", async () => {
    const db = new Database(file);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    const err = await rejection(
      Promise.resolve().then(() => openSqliteMetadataStore(file)),
      "E_UNAVAILABLE",
    );
    expect(err.message).toContain(`schema version ${SCHEMA_VERSION + 1}`);
    expect(err.message).toContain("newer than this registry");
    expect(err.details).toMatchObject({ found: SCHEMA_VERSION + 1, supported: SCHEMA_VERSION });
  });

  it("keeps everything across a close and reopen", async () => {
    const entries = [entry("a.csv", 3, { k: 1 }), entry("b/c.txt", 4)];
    const store = openSqliteMetadataStore(file);
    const { revision } = await push(store, pkgA, entries, { meta: { title: "Kept" }, tags: ["v1"] });
    await store.createToken({ id: "t", name: "n", hash: "h", scopes: [{ kind: "admin" }], createdAt: new Date(0) });
    const before = await store.getPackage(pkgA);
    await store.close();

    const reopened = openSqliteMetadataStore(file);
    expect(await reopened.getPackage(pkgA)).toEqual(before);
    expect(await collect(reopened.selectEntries(revision.digest, {}))).toEqual(entries);
    expect(await reopened.findToken("h")).not.toBeNull();
    expect((await reopened.search("kept", { limit: 5, canRead: () => true })).length).toBe(1);
    expect(await reopened.integrityCheck()).toEqual([]);
    await reopened.close();
  });

  it("reports broken references and invariants from integrityCheck", async () => {
    const store = openSqliteMetadataStore(file);
    const { revision } = await push(store, pkgA, [entry("a")]);
    expect(await store.integrityCheck()).toEqual([]);
    store.db.pragma("foreign_keys = OFF");
    store.db.prepare("INSERT INTO tags (package_id, name, manifest_id) VALUES (999, 'x', 1)").run();
    store.db.prepare("UPDATE manifests SET entry_count = 5 WHERE digest = ?").run(revision.digest);
    const problems = await store.integrityCheck();
    expect(problems.some((p) => p.startsWith("foreign_key_check: tags"))).toBe(true);
    expect(problems.some((p) => p.startsWith("complete manifests whose entry count differs"))).toBe(true);
    expect(problems.some((p) => p.startsWith("tags pointing at a manifest"))).toBe(true);
    await store.close();
  });
});

describe("SqliteMetadataStore in memory", () => {
  it("is a private database per store, not in WAL mode", async () => {
    const a = openSqliteMetadataStore(":memory:");
    const b = openSqliteMetadataStore(":memory:");
    await push(a, pkgA, [entry("a")]);
    expect(await b.getPackage(pkgA)).toBeNull();
    expect(a.db.pragma("journal_mode", { simple: true })).toBe("memory");
    expect(a.db.pragma("foreign_keys", { simple: true })).toBe(1);
    await a.close();
    await b.close();
  });
});
