import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { isDpkgError } from "../src/errors.js";
import { evaluateQuery } from "../src/query/evaluate.js";
import { formatQuery } from "../src/query/format.js";
import { parseQuery } from "../src/query/parser.js";
import { entryArb, entryTable, queryArb } from "./query-helpers.js";

/** parseQuery either returns a tree or throws E_QUERY_SYNTAX with a column inside the text. */
function parsesOrRejects(text: string): void {
  try {
    parseQuery(text);
  } catch (e) {
    if (!isDpkgError(e, "E_QUERY_SYNTAX")) throw e;
    const column = e.details.column as number;
    expect(column).toBeGreaterThanOrEqual(1);
    expect(column).toBeLessThanOrEqual(text.length + 1);
  }
}

const TOKENS = [
  "path",
  "size",
  "digest",
  "meta",
  "meta.a",
  'meta."b c"',
  ".",
  ",",
  "(",
  ")",
  "=",
  "!=",
  "<>",
  "<",
  "<=",
  ">",
  ">=",
  "AND",
  "or",
  "Not",
  "IN",
  "BETWEEN",
  "LIKE",
  "GLOB",
  "IS",
  "NULL",
  "true",
  "FALSE",
  "'x'",
  "'it''s'",
  "'",
  '"',
  "5e7",
  "-1",
  "0.5",
  "1.",
  "-",
  "sise",
  "@",
  "meta.",
  "\u0000",
  "\uD800",
  "😀",
];

describe("parseQuery on arbitrary input", () => {
  it("never throws anything but E_QUERY_SYNTAX on random text", () => {
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 40 }), parsesOrRejects), { numRuns: 2000 });
  });

  it("never throws anything but E_QUERY_SYNTAX on random token soups", () => {
    const soup = fc.tuple(fc.array(fc.constantFrom(...TOKENS), { maxLength: 14 }), fc.constantFrom(" ", ""));
    fc.assert(
      fc.property(soup, ([tokens, sep]) => parsesOrRejects(tokens.join(sep))),
      { numRuns: 3000 },
    );
  });
});

describe("formatQuery", () => {
  it("round-trips every tree through parseQuery (and trees through JSON)", () => {
    fc.assert(
      fc.property(queryArb, (node) => {
        const text = formatQuery(node);
        expect(parseQuery(text)).toEqual(node);
        expect(JSON.parse(JSON.stringify(node))).toEqual(node);
        expect(formatQuery(parseQuery(text))).toBe(text);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("in-memory evaluation and SQLite agree", () => {
  const table = entryTable();
  afterAll(() => table.close());

  it("on random queries over random entries", () => {
    fc.assert(
      fc.property(
        fc.array(entryArb, { minLength: 1, maxLength: 8 }),
        fc.array(queryArb, { minLength: 1, maxLength: 5 }),
        (entries, queries) => {
          table.fill(entries);
          for (const node of queries) {
            const inMemory = entries.filter((e) => evaluateQuery(node, e)).map((e) => e.path);
            expect(table.select(node), formatQuery(node)).toEqual(inMemory);
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});
