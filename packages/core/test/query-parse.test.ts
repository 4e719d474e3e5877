import { describe, expect, it } from "vitest";
import { DpkgError, isDpkgError } from "../src/errors.js";
import { MAX_PATTERN_LENGTH, MAX_QUERY_DEPTH, MAX_QUERY_LENGTH, type QueryNode } from "../src/query/ast.js";
import { formatQuery } from "../src/query/format.js";
import { parseQuery } from "../src/query/parser.js";

function syntaxError(text: string): DpkgError {
  try {
    parseQuery(text);
  } catch (e) {
    if (isDpkgError(e, "E_QUERY_SYNTAX")) return e;
    throw e;
  }
  throw new Error(`parsed: ${text}`);
}

const size = { kind: "field", field: "size" } as const;
const num = (value: number) => ({ kind: "literal", value }) as const;

describe("parseQuery", () => {
  it("builds the documented tree for the README example", () => {
    const q = "meta.cell_line = 'AICS-12' AND meta.channel IN ('dna','membrane') AND size < 50000000";
    expect(parseQuery(q)).toEqual({
      kind: "and",
      operands: [
        {
          kind: "compare",
          op: "=",
          left: { kind: "meta", keys: ["cell_line"] },
          right: { kind: "literal", value: "AICS-12" },
        },
        {
          kind: "in",
          negated: false,
          operand: { kind: "meta", keys: ["channel"] },
          list: [
            { kind: "literal", value: "dna" },
            { kind: "literal", value: "membrane" },
          ],
        },
        { kind: "compare", op: "<", left: size, right: num(50000000) },
      ],
    });
  });

  it("binds OR loosest, then AND, then NOT, then comparisons", () => {
    const a = { kind: "compare", op: "=", left: size, right: num(1) };
    const b = { kind: "compare", op: "=", left: size, right: num(2) };
    const c = { kind: "compare", op: "=", left: size, right: num(3) };
    expect(parseQuery("size = 1 OR NOT size = 2 AND size = 3")).toEqual({
      kind: "or",
      operands: [a, { kind: "and", operands: [{ kind: "not", operand: b }, c] }],
    });
    expect(parseQuery("(size = 1 OR size = 2) AND size = 3")).toEqual({
      kind: "and",
      operands: [{ kind: "or", operands: [a, b] }, c],
    });
    // Explicit grouping stays visible in the tree, so formatQuery can reproduce it.
    expect(parseQuery("(size = 1 AND size = 2) AND size = 3")).toEqual({
      kind: "and",
      operands: [{ kind: "and", operands: [a, b] }, c],
    });
  });

  it("reads keywords in any case but field names only in lower case", () => {
    expect(parseQuery("size not between -1 And 5E7")).toEqual({
      kind: "between",
      negated: true,
      operand: size,
      low: num(-1),
      high: num(5e7),
    });
    expect(parseQuery("meta.x Is Not Null")).toEqual({
      kind: "isNull",
      negated: true,
      operand: { kind: "meta", keys: ["x"] },
    });
    expect(parseQuery("size = TRUE")).toEqual({
      kind: "compare",
      op: "=",
      left: size,
      right: { kind: "literal", value: true },
    });
    expect(syntaxError("Size = 1").message).toBe(
      "at column 1: expected a field (path, size, digest, meta or meta.KEY) or a value, found unknown field 'Size'",
    );
  });

  it("reads quoted meta keys, keyword-like keys and escaped quotes", () => {
    const parsed = parseQuery(`meta."cell line"."say ""hi""".and."" IS NULL`);
    expect(parsed).toEqual({
      kind: "isNull",
      negated: false,
      operand: { kind: "meta", keys: ["cell line", 'say "hi"', "and", ""] },
    });
    expect(formatQuery(parsed)).toBe(`meta."cell line"."say ""hi""".and."" IS NULL`);
  });

  it("reads string and number literals exactly", () => {
    const right = (q: string): unknown => (parseQuery(q) as Extract<QueryNode, { kind: "compare" }>).right;
    expect(right("size = 'it''s'")).toEqual({ kind: "literal", value: "it's" });
    expect(right("size = ''")).toEqual({ kind: "literal", value: "" });
    expect(right("size = 5e7")).toEqual(num(50000000));
    expect(right("size = 1.5E-3")).toEqual(num(0.0015));
    expect(right("size = 1e+21")).toEqual(num(1e21));
    expect(right("size = -0")).toEqual(num(0));
    expect(Object.is((right("size = -0.0") as { value: number }).value, 0)).toBe(true);
    expect(right("size <> 1")).toEqual(num(1));
    expect((parseQuery("size <> 1") as { op: string }).op).toBe("!=");
  });

  it("formats canonically", () => {
    expect(formatQuery(parseQuery("not(size<>1)or path like'a%'and meta . x in(1,'b',null,true)"))).toBe(
      "NOT size != 1 OR path LIKE 'a%' AND meta.x IN (1, 'b', null, true)",
    );
    expect(formatQuery(parseQuery("NOT (size = 1 OR size = 2)"))).toBe("NOT (size = 1 OR size = 2)");
    expect(formatQuery(parseQuery("meta.\"a.b\" glob '[]]*' AND size between 1e21 and 0.000001"))).toBe(
      "meta.\"a.b\" GLOB '[]]*' AND size BETWEEN 1e+21 AND 0.000001",
    );
  });
});

describe("parseQuery errors", () => {
  it("names the column, what was expected and what was found", () => {
    const e = syntaxError("meta.label = 'cat' AND size =");
    expect(e.message).toBe("at column 30: expected a value or field after '=', found end of query");
    expect(e.details).toEqual({ column: 30, expected: "a value or field", found: "end of query" });
    expect(e.status).toBe(400);
  });

  it("counts columns in UTF-16 code units", () => {
    expect(syntaxError("path = '😀' sise").details.column).toBe(13);
  });

  it("rejects NUL, lone surrogates and control characters", () => {
    expect(syntaxError("path = 'a\u0000'").details).toMatchObject({ column: 10, found: "NUL" });
    expect(syntaxError("path = '\uDC00'").details).toMatchObject({ column: 9, found: "a lone surrogate" });
    expect(syntaxError("size = 1 \u0007").details).toMatchObject({ column: 10, found: "control character U+0007" });
  });

  it("caps the length of the query", () => {
    const atLimit = "size = 1" + " ".repeat(MAX_QUERY_LENGTH - 8);
    expect(parseQuery(atLimit)).toEqual({ kind: "compare", op: "=", left: size, right: num(1) });
    expect(syntaxError(atLimit + " ").message).toMatch(
      /^at column 65537: expected a query of at most 65536 characters/,
    );
  });

  it("caps nesting depth instead of overflowing the stack", () => {
    const nested = (n: number): string => "(".repeat(n) + "size = 1" + ")".repeat(n);
    expect(parseQuery(nested(MAX_QUERY_DEPTH))).toEqual({ kind: "compare", op: "=", left: size, right: num(1) });
    expect(syntaxError(nested(MAX_QUERY_DEPTH + 1)).details).toMatchObject({ column: MAX_QUERY_DEPTH + 1 });
    expect(syntaxError("NOT ".repeat(MAX_QUERY_DEPTH + 1) + "size = 1").details.column).toBe(4 * MAX_QUERY_DEPTH + 1);
    expect(syntaxError("(".repeat(30_000)).message).toMatch(/nested parentheses/);
    expect(syntaxError("NOT ".repeat(15_000)).message).toMatch(/nested parentheses and NOTs/);
  });

  it("caps pattern length", () => {
    expect(parseQuery(`path GLOB '${"a".repeat(MAX_PATTERN_LENGTH)}'`)).toMatchObject({ kind: "glob" });
    expect(syntaxError(`path LIKE '${"a".repeat(MAX_PATTERN_LENGTH + 1)}'`).details).toMatchObject({ column: 11 });
  });

  it("parses long flat chains without deep recursion", () => {
    const chain = Array.from({ length: 4000 }, (_, i) => `size = ${i}`).join(" OR ");
    const parsed = parseQuery(chain);
    expect(parsed).toMatchObject({ kind: "or" });
    expect((parsed as { operands: unknown[] }).operands).toHaveLength(4000);
  });
});
