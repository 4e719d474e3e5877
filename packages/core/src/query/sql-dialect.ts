/**
 * What differs between SQL databases when compiling a query: how to address a JSON value inside
 * the meta column and learn its type, how to compare strings by bytes, how to run GLOB and LIKE, and
 * the database's limits. to-sql.ts is written against this interface only; SQLite is implemented,
 * and a PostgreSQL dialect (jsonb_typeof, #>, COLLATE "C", regular expressions) can be added here.
 */
import { likeToGlob } from "./glob-like.js";
import { param, sql, trusted, type SqlFragment } from "./sql-fragment.js";

/**
 * The type class of a value as the compiled SQL sees it: number, string, boolean, composite (array
 * or object), or `z` for NULL (missing or JSON null). One letter each, so two classes concatenate
 * into a pair that one CASE can switch on.
 */
export type ValueClass = "n" | "s" | "b" | "c" | "z";

export interface SqlDialect {
  readonly name: string;
  /** Most bound parameters one statement may have. */
  readonly maxParams: number;
  /** Deepest expression (as SqlFragment.depth counts it) the database is known to accept. */
  readonly maxDepth: number;
  readonly true: SqlFragment;
  readonly false: SqlFragment;
  readonly null: SqlFragment;
  /** Collation suffix that makes string comparison byte-wise (UTF-8 order), whatever the column says. */
  readonly bytewise: SqlFragment;
  /** The parameter value addressing `keys` (non-empty) inside the meta JSON. */
  jsonPath(keys: readonly string[]): string;
  /** SQL yielding the ValueClass of the JSON value at `path` (a placeholder bound to jsonPath()). */
  jsonClass(meta: SqlFragment, path: SqlFragment): SqlFragment;
  /** SQL yielding the JSON value at `path`, known to be of class `cls`, as a comparable SQL value. */
  jsonValue(meta: SqlFragment, path: SqlFragment, cls: ValueClass): SqlFragment;
  /** 1 or 0: does the string `value` match the GLOB `pattern` (glob-like.ts semantics)? */
  glob(value: SqlFragment, pattern: string): SqlFragment;
  /** 1 or 0: does the string `value` match the LIKE `pattern` (glob-like.ts semantics)? */
  like(value: SqlFragment, pattern: string): SqlFragment;
}

/**
 * SQLite (3.45 or later, for JSON path keys with escapes). Booleans are 1 and 0. json_extract()
 * returns true/false as 1/0, so json_type() tells booleans from numbers; it parses JSON integers as
 * 64-bit integers, so numbers are cast to REAL to compare as the doubles JavaScript reads them as.
 */
export const sqliteDialect: SqlDialect = {
  name: "sqlite",
  maxParams: 32_766, // SQLITE_MAX_VARIABLE_NUMBER's default since 3.32
  // SQLite caps expression depth at 1000, and its parser stack gives out at about 830 nested
  // AND/ORs (SqlFragment.depth tracks both closely; query-sql.test.ts probes the real limits).
  maxDepth: 750,
  true: trusted("1"),
  false: trusted("0"),
  null: trusted("NULL"),
  bytewise: trusted(" COLLATE BINARY"),
  jsonPath(keys) {
    return "$" + keys.map((k) => `."${escapePathKey(k)}"`).join("");
  },
  jsonClass(meta, path) {
    return sql`(CASE json_type(${meta}, ${path}) WHEN 'integer' THEN 'n' WHEN 'real' THEN 'n' WHEN 'text' THEN 's' WHEN 'true' THEN 'b' WHEN 'false' THEN 'b' WHEN 'array' THEN 'c' WHEN 'object' THEN 'c' ELSE 'z' END)`;
  },
  jsonValue(meta, path, cls) {
    return cls === "n" ? sql`CAST(json_extract(${meta}, ${path}) AS REAL)` : sql`json_extract(${meta}, ${path})`;
  },
  glob(value, pattern) {
    return sql`(${value} GLOB ${param(pattern)})`;
  },
  like(value, pattern) {
    // SQLite's LIKE can be switched to case-sensitive by a pragma or replaced by ICU; GLOB cannot.
    return sql`(${value} GLOB ${param(likeToGlob(pattern))})`;
  },
};

/**
 * A quoted key in a SQLite JSON path ends at the first `"` whatever precedes it, but when the key
 * contains a backslash SQLite reads JSON string escapes in it: so `"` and `\` (and control
 * characters, for safety) are written as \uXXXX escapes, which addresses every key exactly.
 */
function escapePathKey(key: string): string {
  let out = "";
  for (const ch of key) {
    const code = ch.charCodeAt(0);
    out += ch === '"' || ch === "\\" || code < 0x20 ? `\\u${code.toString(16).padStart(4, "0")}` : ch;
  }
  return out;
}

export const SQL_DIALECTS = { sqlite: sqliteDialect } as const satisfies Record<string, SqlDialect>;

export type SqlDialectName = keyof typeof SQL_DIALECTS;
