import type Database from "better-sqlite3";
import { timingSafeEqual } from "node:crypto";
import type { Scope, TokenRecord } from "../metadata-store.js";
import { sql } from "./rows.js";

/**
 * API tokens. Only the caller-computed hash of a secret is stored. Revoked tokens stay as rows (so
 * an id is never reused) but are invisible to findToken and listTokens.
 */
interface TokenRow {
  id: string;
  name: string;
  hash: string;
  scopes: string;
  created_at: number;
  last_used_at: number | null;
}

const COLUMNS = "id, name, hash, scopes, created_at, last_used_at";

export function createToken(
  db: Database.Database,
  input: { id: string; name: string; hash: string; scopes: Scope[]; createdAt: Date },
): void {
  sql<[string, string, string, string, number]>(
    db,
    "INSERT INTO tokens (id, name, hash, scopes, created_at) VALUES (?, ?, ?, ?, ?)",
  ).run(input.id, input.name, input.hash, JSON.stringify(input.scopes), input.createdAt.getTime());
}

/**
 * The active token with this hash. The lookup goes through the unique index on the hash: a timing
 * difference there reveals something about a hash, never about a secret, as long as the caller
 * hashes with a cryptographic hash. The final comparison is constant-time anyway.
 */
export function findToken(db: Database.Database, hash: string): TokenRecord | null {
  const row = sql<[string], TokenRow>(db, `SELECT ${COLUMNS} FROM tokens WHERE hash = ? AND revoked_at IS NULL`).get(
    hash,
  );
  if (row === undefined) return null;
  const a = Buffer.from(row.hash);
  const b = Buffer.from(hash);
  return a.length === b.length && timingSafeEqual(a, b) ? toRecord(row) : null;
}

export function touchToken(db: Database.Database, id: string, at: Date): void {
  sql<[number, string]>(db, "UPDATE tokens SET last_used_at = ? WHERE id = ?").run(at.getTime(), id);
}

/** Active tokens, oldest first. */
export function listTokens(db: Database.Database): TokenRecord[] {
  return sql<[], TokenRow>(db, `SELECT ${COLUMNS} FROM tokens WHERE revoked_at IS NULL ORDER BY created_at, id`)
    .all()
    .map(toRecord);
}

/** True when an active token was revoked; false for an unknown or already revoked id. */
export function revokeToken(db: Database.Database, id: string, at: Date): boolean {
  return (
    sql<[number, string]>(db, "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").run(
      at.getTime(),
      id,
    ).changes > 0
  );
}

function toRecord(row: TokenRow): TokenRecord {
  return {
    id: row.id,
    name: row.name,
    scopes: JSON.parse(row.scopes) as Scope[],
    createdAt: new Date(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : new Date(row.last_used_at),
  };
}
