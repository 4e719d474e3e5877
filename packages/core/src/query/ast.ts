/**
 * The syntax tree of a `--where` query. Plain data (no classes, no undefined fields) so it can be
 * JSON-serialised, compared with deep equality and rebuilt by hand in tests.
 *
 * Invariants that parseQuery guarantees and every consumer relies on: `and`/`or` nodes have at least
 * two operands; `in` lists are non-empty; numbers are finite and never -0; strings are well-formed
 * Unicode without U+0000.
 */
import type { JsonObject, JsonPrimitive } from "../canonical-json.js";

/** The entry fields a query may name; `meta` alone is the whole meta object. */
export const QUERY_FIELDS = ["path", "size", "digest", "meta"] as const;

export type ScalarField = "path" | "size" | "digest";

export type Operand =
  | { kind: "field"; field: ScalarField }
  /** `keys` is empty for the whole meta object, else the key path into it (`meta.a."b c"` → ["a", "b c"]). */
  | { kind: "meta"; keys: string[] }
  | { kind: "literal"; value: JsonPrimitive };

/** `<>` is parsed as `!=`. */
export type CompareOp = "=" | "!=" | "<" | "<=" | ">" | ">=";

export type QueryNode =
  | { kind: "and"; operands: QueryNode[] }
  | { kind: "or"; operands: QueryNode[] }
  | { kind: "not"; operand: QueryNode }
  | { kind: "compare"; op: CompareOp; left: Operand; right: Operand }
  | { kind: "in"; negated: boolean; operand: Operand; list: Operand[] }
  | { kind: "between"; negated: boolean; operand: Operand; low: Operand; high: Operand }
  | { kind: "like"; negated: boolean; operand: Operand; pattern: string }
  | { kind: "glob"; negated: boolean; operand: Operand; pattern: string }
  | { kind: "isNull"; negated: boolean; operand: Operand };

/** What a query is evaluated against: one manifest entry. */
export interface QueryEntry {
  path: string;
  size: number;
  digest: string;
  meta?: JsonObject;
}

/** SQL three-valued logic: `null` is UNKNOWN. */
export type Truth = boolean | null;

/** Longest query text accepted, in UTF-16 code units. */
export const MAX_QUERY_LENGTH = 64 * 1024;
/** Deepest nesting of parentheses and NOTs accepted. */
export const MAX_QUERY_DEPTH = 128;
/**
 * Longest LIKE/GLOB pattern, in UTF-16 code units. SQLite refuses patterns over 50,000 bytes and a
 * LIKE pattern grows up to 4x when compiled for SQLite (`a` → `[aA]`), so 10,000 keeps every query
 * that parses compilable.
 */
export const MAX_PATTERN_LENGTH = 10_000;
