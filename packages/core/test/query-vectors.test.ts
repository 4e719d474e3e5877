import { afterAll, describe, expect, it } from "vitest";
import { isDpkgError } from "../src/errors.js";
import { evaluateQuery } from "../src/query/evaluate.js";
import { formatQuery } from "../src/query/format.js";
import { parseQuery } from "../src/query/parser.js";
import { entryTable, vectors } from "./query-helpers.js";

const table = entryTable(vectors.entries);
afterAll(() => table.close());

const selecting = vectors.cases.filter((c) => c.selects !== undefined);
const failing = vectors.cases.filter((c) => c.error !== undefined);

describe("query vectors", () => {
  it("are many and cover both outcomes", () => {
    expect(selecting.length).toBeGreaterThanOrEqual(80);
    expect(failing.length).toBeGreaterThanOrEqual(15);
    expect(vectors.entries.length).toBeGreaterThanOrEqual(12);
  });

  describe.each(selecting)("$query", ({ query, selects }) => {
    const expected = [...(selects ?? [])].sort();

    it("selects the expected entries in memory", () => {
      const node = parseQuery(query);
      const selected = vectors.entries.filter((e) => evaluateQuery(node, e)).map((e) => e.path);
      expect(selected.sort()).toEqual(expected);
    });

    it("selects the same entries in SQLite", () => {
      expect(table.select(parseQuery(query)).sort()).toEqual(expected);
    });

    it("round-trips through formatQuery", () => {
      const node = parseQuery(query);
      expect(parseQuery(formatQuery(node))).toEqual(node);
    });
  });

  describe.each(failing)("$query", ({ query, error }) => {
    it(`is rejected at column ${error?.column}`, () => {
      let thrown: unknown;
      try {
        parseQuery(query);
      } catch (e) {
        thrown = e;
      }
      expect(isDpkgError(thrown, "E_QUERY_SYNTAX")).toBe(true);
      if (!isDpkgError(thrown)) return;
      expect(thrown.details).toMatchObject({ column: error?.column });
      expect(thrown.details.expected).toEqual(expect.any(String));
      expect(thrown.details.found).toEqual(expect.any(String));
      expect(thrown.message).toMatch(new RegExp(`^at column ${error?.column}: expected .+, found .+`));
    });
  });
});
