import type Database from "better-sqlite3";
import { sql } from "./rows.js";

/**
 * Names of what entry_values rows hold, shared by staging (entry-values.ts) and lookups
 * (value-lookup.ts): `size`; `meta` + the JSON key path for the numbers and strings at that path;
 * `bool` + the key path for its booleans, stored as 1 and 0 under their own name so that they never
 * meet the numbers 1 and 0. Names are JSON, so every key (quotes, dots, empty) is named exactly.
 */
export const SIZE_KEY = "size";

export function metaKey(keys: readonly string[]): string {
  return "meta" + JSON.stringify(keys);
}

export function booleanKey(keys: readonly string[]): string {
  return "bool" + JSON.stringify(keys);
}

/**
 * Strings are indexed by their first 64 code points, so a long description costs the index no more
 * than a label. Cutting by code points keeps each stored prefix a prefix in UTF-8 byte order too, so
 * lookups stay exact supersets: v = s implies cut(v) = cut(s), v < s implies cut(v) <= cut(s), and
 * v starting with p implies cut(v) starting with cut(p).
 */
export const INDEXED_CODE_POINTS = 64;

export function indexedText(text: string): string {
  if (text.length <= INDEXED_CODE_POINTS) return text;
  let end = 0;
  for (let n = 0; n < INDEXED_CODE_POINTS && end < text.length; n++) {
    const unit = text.charCodeAt(end);
    end += unit >= 0xd800 && unit <= 0xdbff && end + 1 < text.length ? 2 : 1;
  }
  return text.slice(0, end);
}

/** Key ids by name: created on first use while staging, only looked up while querying. */
export class ValueKeys {
  readonly #ids = new Map<string, number>();

  constructor(private readonly db: Database.Database) {}

  /** The key's id, creating it; call inside the write transaction that stores rows under it. */
  ensure(name: string): number {
    const cached = this.#ids.get(name);
    if (cached !== undefined) return cached;
    sql<[string]>(this.db, "INSERT INTO value_keys (name) VALUES (?) ON CONFLICT (name) DO NOTHING").run(name);
    const id = this.find(name);
    if (id === undefined) throw new Error(`value key ${name} vanished inside a transaction`);
    // Manifests whose entries all have different keys would otherwise grow the cache without bound.
    if (this.#ids.size >= 100_000) this.#ids.clear();
    this.#ids.set(name, id);
    return id;
  }

  /** The key's id, or undefined when no entry ever had it (then nothing has a value under it). */
  find(name: string): number | undefined {
    return sql<[string], number>(this.db, "SELECT id FROM value_keys WHERE name = ?").pluck().get(name);
  }
}
