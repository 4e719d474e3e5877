import Database from "better-sqlite3";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { isDpkgError } from "../src/errors.js";
import { MAX_QUERY_DEPTH, MAX_QUERY_LENGTH, type Operand, type QueryNode } from "../src/query/ast.js";
import { evaluateQuery } from "../src/query/evaluate.js";
import { parseQuery } from "../src/query/parser.js";
import { compileQuery } from "../src/query/to-sql.js";
import { COLUMNS, entryTable, queryArb, vectors } from "./query-helpers.js";

const compile = (node: QueryNode) => compileQuery(node, { dialect: "sqlite", columns: COLUMNS });

/** Every string a user controls (literals, patterns, meta keys) rewritten by `f`. */
function mapUserText(node: QueryNode, f: (s: string) => string): QueryNode {
  const op = (o: Operand): Operand =>
    o.kind === "meta"
      ? { kind: "meta", keys: o.keys.map(f) }
      : o.kind === "literal" && typeof o.value === "string"
        ? { kind: "literal", value: f(o.value) }
        : o;
  switch (node.kind) {
    case "and":
    case "or":
      return { kind: node.kind, operands: node.operands.map((n) => mapUserText(n, f)) };
    case "not":
      return { kind: "not", operand: mapUserText(node.operand, f) };
    case "compare":
      return { ...node, left: op(node.left), right: op(node.right) };
    case "in":
      return { ...node, operand: op(node.operand), list: node.list.map(op) };
    case "between":
      return { ...node, operand: op(node.operand), low: op(node.low), high: op(node.high) };
    case "like":
    case "glob":
      return { ...node, operand: op(node.operand), pattern: f(node.pattern) };
    case "isNull":
      return { ...node, operand: op(node.operand) };
  }
}

function compileError(node: QueryNode): unknown {
  try {
    compile(node);
  } catch (e) {
    return e;
  }
  return undefined;
}

describe("compileQuery", () => {
  const table = entryTable(vectors.entries);
  afterAll(() => table.close());

  it("never puts user text into the SQL, only into parameters", () => {
    const hostile = (s: string): string => `§${s}'); DROP TABLE entries; --"§`;
    fc.assert(
      fc.property(queryArb, (node) => {
        const marked = mapUserText(node, hostile);
        const { sql, params } = compile(marked);
        expect(sql).not.toContain("§");
        expect(sql).not.toContain("DROP");
        expect(sql.split("?").length - 1).toBe(params.length);
        table.select(marked);
      }),
      { numRuns: 300 },
    );
    expect(table.select(parseQuery("size >= 0"))).toHaveLength(vectors.entries.length);
  });

  it("addresses any meta key exactly, whatever characters it holds", () => {
    const key = fc.string({ unit: "binary", maxLength: 6 }).filter((k) => k.isWellFormed() && !k.includes("\u0000"));
    const keys = fc.uniqueArray(key, { minLength: 2, maxLength: 2 });
    const scratch = entryTable();
    fc.assert(
      fc.property(keys, ([k1, k2]) => {
        const entries = [
          { path: "hit", size: 1, digest: "d", meta: { [k1!]: { [k2!]: "yes" } } },
          { path: "miss", size: 1, digest: "d", meta: { [k1!]: "yes", [k2!]: { [k1!]: "yes" } } },
        ];
        scratch.fill(entries);
        const node: QueryNode = {
          kind: "compare",
          op: "=",
          left: { kind: "meta", keys: [k1!, k2!] },
          right: { kind: "literal", value: "yes" },
        };
        expect(scratch.select(node)).toEqual(["hit"]);
        expect(entries.filter((e) => evaluateQuery(node, e)).map((e) => e.path)).toEqual(["hit"]);
      }),
      { numRuns: 500 },
    );
    scratch.close();
  });

  it("keeps LIKE ASCII case-insensitive and comparisons byte-wise whatever the connection or schema say", () => {
    const db = new Database(":memory:");
    db.pragma("case_sensitive_like = ON");
    db.exec(`CREATE TABLE t (path TEXT COLLATE NOCASE, size INTEGER, digest TEXT, meta TEXT)`);
    const insert = db.prepare("INSERT INTO t VALUES (?, 1, 'd', NULL)");
    for (const p of ["a.txt", "A.TXT", "b.txt"]) insert.run(p);
    const select = (q: string): string[] => {
      const { sql, params } = compileQuery(parseQuery(q), {
        dialect: "sqlite",
        columns: { path: "path", size: "size", digest: "digest", meta: "meta" },
      });
      return db
        .prepare<unknown[], { path: string }>(`SELECT path FROM t WHERE ${sql} ORDER BY rowid`)
        .all(...params)
        .map((r) => r.path);
    };
    expect(select("path LIKE 'a.%'")).toEqual(["a.txt", "A.TXT"]);
    expect(select("path = 'a.txt'")).toEqual(["a.txt"]);
    expect(select("path IN ('A.TXT')")).toEqual(["A.TXT"]);
    expect(select("path < 'a'")).toEqual(["A.TXT"]);
    db.close();
  });

  it("compiles long flat chains and deep nesting into SQL that SQLite accepts", () => {
    const chain = Array.from({ length: 3000 }, (_, i) => `size = ${i}`).join(" OR ");
    const small = vectors.entries.filter((e) => e.size < 3000).map((e) => e.path);
    expect(table.select(parseQuery(chain))).toEqual(small);
    const nots = "NOT ".repeat(MAX_QUERY_DEPTH) + "size = 0";
    expect(table.select(parseQuery(nots))).toEqual(["dir/c.csv"]);
    let nested = "meta.n IN (1, 2)";
    for (let i = 0; i < MAX_QUERY_DEPTH; i++) nested = `(meta.label LIKE 'x%' OR ${nested}) AND size >= 0`;
    expect(table.select(parseQuery(nested))).toEqual(["a.txt", "b.txt"]);
  });

  it("refuses what SQLite could not run with E_QUERY_SYNTAX, never a database error", () => {
    const runsOrRefuses = (node: QueryNode): "ran" | "refused" => {
      const error = compileError(node);
      if (error === undefined) {
        table.select(node);
        return "ran";
      }
      expect(isDpkgError(error, "E_QUERY_SYNTAX")).toBe(true);
      return "refused";
    };
    // The deepest SQL the parser admits: at every nesting level a long OR list around the next level.
    const outcomes = [2, 9, 33, 48].map((width) => {
      const level = Array.from({ length: width }, (_, i) => `meta.n=${i % 10}`).join(" OR ");
      let text = "size = 1";
      for (let i = 0; i < MAX_QUERY_DEPTH && text.length + level.length + 6 < MAX_QUERY_LENGTH; i++)
        text = `(${level} OR ${text})`;
      return runsOrRefuses(parseQuery(text));
    });
    expect(outcomes.slice(0, 2)).toEqual(["ran", "ran"]);
    // Trees no parse produces, built by hand, just past each of SQLite's limits.
    const nest = (levels: number, wrap: (n: QueryNode) => QueryNode): QueryNode => {
      let node = parseQuery("meta.n < meta.score");
      for (let i = 0; i < levels; i++) node = wrap(node);
      return node;
    };
    const leaf = parseQuery("size = 1");
    expect(runsOrRefuses(nest(1000, (n) => ({ kind: "not", operand: n })))).toBe("refused");
    expect(runsOrRefuses(nest(840, (n) => ({ kind: "or", operands: [leaf, n] })))).toBe("refused");
    expect(runsOrRefuses(nest(700, (n) => ({ kind: "and", operands: [leaf, n] })))).toBe("ran");
    const list: Operand[] = Array.from({ length: 40_000 }, (_, i) => ({ kind: "literal", value: i }));
    expect(compileError({ kind: "in", negated: false, operand: { kind: "field", field: "size" }, list })).toMatchObject(
      {
        code: "E_QUERY_SYNTAX",
        details: { column: 1 },
      },
    );
  });

  it("binds each distinct IN value once", () => {
    const repeated = parseQuery(`size IN (${Array.from({ length: 20_000 }, () => "7").join(",")}, '7', 7.0)`);
    expect(compile(repeated).params).toEqual([7]);
    expect(table.select(repeated)).toEqual(["g.json"]);
  });
});
