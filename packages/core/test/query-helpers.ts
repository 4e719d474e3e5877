/** Shared by the query tests: the vectors, and a real SQLite table to run compiled queries against. */
import { readFileSync } from "node:fs";
import Database from "better-sqlite3";
import fc from "fast-check";
import { canonicalJson, type JsonValue } from "../src/canonical-json.js";
import type { CompareOp, Operand, QueryEntry, QueryNode, ScalarField } from "../src/query/ast.js";
import { compileQuery } from "../src/query/to-sql.js";

export interface QueryVectors {
  entries: QueryEntry[];
  cases: Array<{ query: string; selects?: string[]; error?: { code: string; column: number } }>;
}

export const vectors = JSON.parse(
  readFileSync(new URL("./vectors/queries.json", import.meta.url), "utf8"),
) as QueryVectors;

// Odd column names on purpose: compiled SQL must use exactly the names it is given.
export const COLUMNS = { path: `"p a t h"`, size: "sz", digest: "dg", meta: "[meta json]" };

export interface EntryTable {
  /** Paths of the rows the query selects, in insertion order. */
  select(node: QueryNode): string[];
  /** Replaces the table's rows. */
  fill(entries: readonly QueryEntry[]): void;
  close(): void;
}

export function entryTable(entries: readonly QueryEntry[] = []): EntryTable {
  const db = new Database(":memory:");
  db.exec(
    `CREATE TABLE entries (id INTEGER PRIMARY KEY, ${COLUMNS.path} TEXT, ${COLUMNS.size} INTEGER, ${COLUMNS.digest} TEXT, ${COLUMNS.meta} TEXT)`,
  );
  const insert = db.prepare(
    `INSERT INTO entries (${COLUMNS.path}, ${COLUMNS.size}, ${COLUMNS.digest}, ${COLUMNS.meta}) VALUES (?, ?, ?, ?)`,
  );
  const table: EntryTable = {
    fill(rows) {
      db.exec("DELETE FROM entries");
      for (const e of rows) insert.run(e.path, e.size, e.digest, e.meta === undefined ? null : canonicalJson(e.meta));
    },
    select(node) {
      const { sql, params } = compileQuery(node, { dialect: "sqlite", columns: COLUMNS });
      const rows = db.prepare(`SELECT ${COLUMNS.path} AS path FROM entries WHERE ${sql} ORDER BY id`).all(...params);
      return (rows as Array<{ path: string }>).map((r) => r.path);
    },
    close() {
      db.close();
    },
  };
  table.fill(entries);
  return table;
}

// ---- fast-check arbitraries for random queries and entries ----

/** Characters that exercise every corner of the language: quoting, patterns, byte order, SQLite quirks. */
const CHARS = [
  "a",
  "b",
  "B",
  "z",
  " ",
  ".",
  "'",
  '"',
  "\\",
  "*",
  "?",
  "[",
  "]",
  "^",
  "-",
  "%",
  "_",
  "é",
  "É",
  "😀",
  "\uFFFD",
  "\uFFFF",
  ";",
];
/** Meta keys, including ones SQLite's JSON paths need escapes for. */
export const KEYS = ["a", "b", "n", "and", "b c", "a.b", 'q"x', "x\\y", "c[0]", "", "é", "$", "\u0001"];

const text = (chars: string[], maxLength: number): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...chars), { maxLength }).map((cs) => cs.join(""));
/** Strings that entries and queries share often enough for equality and ordering to matter. */
const COMMON = ["", "a", "B", "ab", "é", "a b", "😀", "\uFFFF", "'", "a.b"];
const str = (chars: string[], maxLength: number): fc.Arbitrary<string> =>
  fc.oneof(text(chars, maxLength), fc.constantFrom(...COMMON));

/** Finite doubles as JSON and the parser keep them: -0 becomes 0. */
const number: fc.Arbitrary<number> = fc
  .oneof(
    fc.integer({ min: -20, max: 20 }),
    fc.constantFrom(0.5, 1.5, -2.25, 1e21, 74768102839268600, 2 ** 53, 0.1),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
  )
  .map((n) => (n === 0 ? 0 : n));

export const literalArb: fc.Arbitrary<Operand> = fc
  .oneof(str(CHARS, 4), number, fc.boolean(), fc.constant(null))
  .map((value): Operand => ({ kind: "literal", value }));

export const operandArb: fc.Arbitrary<Operand> = fc.oneof(
  {
    arbitrary: fc
      .constantFrom<ScalarField>("path", "size", "digest")
      .map((field): Operand => ({ kind: "field", field })),
    weight: 2,
  },
  {
    arbitrary: fc.array(fc.constantFrom(...KEYS), { maxLength: 2 }).map((keys): Operand => ({ kind: "meta", keys })),
    weight: 4,
  },
  { arbitrary: literalArb, weight: 3 },
);

const compareOp = fc.constantFrom<CompareOp>("=", "!=", "<", "<=", ">", ">=");

export const queryArb: fc.Arbitrary<QueryNode> = fc.letrec<{ node: QueryNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.record({ kind: fc.constant("compare"), op: compareOp, left: operandArb, right: operandArb }),
    fc.record({
      kind: fc.constant("in"),
      negated: fc.boolean(),
      operand: operandArb,
      list: fc.array(operandArb, { minLength: 1, maxLength: 4 }),
    }),
    fc.record({
      kind: fc.constant("between"),
      negated: fc.boolean(),
      operand: operandArb,
      low: operandArb,
      high: operandArb,
    }),
    fc.record({
      kind: fc.constantFrom("like", "glob"),
      negated: fc.boolean(),
      operand: operandArb,
      pattern: text(CHARS, 5),
    }),
    fc.record({ kind: fc.constant("isNull"), negated: fc.boolean(), operand: operandArb }),
    fc.record({ kind: fc.constant("not"), operand: tie("node") }),
    fc.record({ kind: fc.constantFrom("and", "or"), operands: fc.array(tie("node"), { minLength: 2, maxLength: 3 }) }),
  ),
})).node;

const jsonValueArb: fc.Arbitrary<JsonValue> = fc.letrec<{ value: JsonValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    str([...CHARS, "\u0000"], 4),
    fc.constant("a\u0000b"),
    number,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 2 }),
    fc.dictionary(fc.constantFrom(...KEYS), tie("value"), { maxKeys: 3 }),
  ),
})).value;

export const entryArb: fc.Arbitrary<QueryEntry> = fc.record(
  {
    path: str(CHARS, 6),
    size: fc.oneof(fc.integer({ min: 0, max: 30 }), fc.maxSafeNat()),
    digest: text(CHARS, 3),
    meta: fc.dictionary(fc.constantFrom(...KEYS), jsonValueArb, { maxKeys: 4 }),
  },
  { requiredKeys: ["path", "size", "digest"] },
);
