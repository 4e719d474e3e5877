import Database from "better-sqlite3";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { compileGlob, compileLike, likeToGlob, matchPattern } from "../src/query/glob-like.js";

const db = new Database(":memory:");
afterAll(() => db.close());
const sqliteGlob = db.prepare<[string, string], { m: number }>("SELECT ? GLOB ? AS m");
const sqliteLike = db.prepare<[string, string], { m: number }>("SELECT ? LIKE ? AS m");
const glob = (text: string, pattern: string): boolean => matchPattern(compileGlob(pattern), text);
const like = (text: string, pattern: string): boolean => matchPattern(compileLike(pattern), text);

// Pattern syntax, case pairs, non-ASCII, and the code points SQLite reads specially.
const ALPHABET = [
  "a",
  "b",
  "A",
  "z",
  "*",
  "?",
  "[",
  "]",
  "^",
  "-",
  "%",
  "_",
  "\\",
  "é",
  "😀",
  "\uFFFD",
  "\uFFFE",
  "\uFFFF",
];
const textArb = (extra: string[] = []) =>
  fc.array(fc.constantFrom(...ALPHABET, ...extra), { maxLength: 8 }).map((cs) => cs.join(""));

describe("GLOB", () => {
  it.each([
    ["abc", "a*", true],
    ["abc", "a?c", true],
    ["abc", "A*", false],
    ["b", "[a-c]", true],
    ["d", "[a-c]", false],
    ["d", "[^a-c]", true],
    ["]", "[]]", true],
    ["]", "[^]]", false],
    ["-", "[a-]", true],
    ["-", "[]-a]", true],
    ["b", "[]-a]", false],
    ["-", "[a-c-e]", true],
    ["d", "[a-c-e]", false],
    ["x", "[z-a]", false],
    ["ab", "a[", false],
    ["a[", "a[", false],
    ["a[", "a[[]", true],
    ["😀", "?", true],
    ["😀", "[😀]", true],
    ["\uFFFF", "\uFFFD", true],
    ["a\u0000b", "a", true],
    ["", "*", true],
    ["", "?", false],
  ])("%j GLOB %j is %s, as in SQLite", (text, pattern, expected) => {
    expect(glob(text, pattern)).toBe(expected);
    expect(sqliteGlob.get(text, pattern)?.m).toBe(expected ? 1 : 0);
  });

  it("agrees with SQLite's GLOB on random texts and patterns", () => {
    fc.assert(
      fc.property(textArb(["\u0000"]), textArb(), (text, pattern) => {
        expect(glob(text, pattern)).toBe(sqliteGlob.get(text, pattern)?.m === 1);
      }),
      { numRuns: 5000 },
    );
  });

  it("takes polynomial time on patterns that make backtracking matchers explode", () => {
    const text = "a".repeat(20_000);
    expect(glob(text, "*a".repeat(30) + "*b")).toBe(false);
    expect(like(text, "%a".repeat(30) + "%b")).toBe(false);
    expect(glob(text + "b", "*a".repeat(30) + "*b")).toBe(true);
  });
});

describe("LIKE", () => {
  it.each([
    ["Cat", "cat", true],
    ["CAT", "c_t", true],
    ["cat", "%A%", true],
    ["école", "_cole", true],
    ["École", "école", false],
    ["a*b", "a*b", true],
    ["axb", "a*b", false],
    ["a[b]", "a[b]", true],
    ["a\\b", "a\\_", true],
    ["a_", "a\\_", false],
    ["50%", "50%", true],
  ])("%j LIKE %j is %s, as in SQLite", (text, pattern, expected) => {
    expect(like(text, pattern)).toBe(expected);
    expect(sqliteLike.get(text, pattern)?.m).toBe(expected ? 1 : 0);
  });

  it("agrees with SQLite's own LIKE, and with SQLite's GLOB of likeToGlob()", () => {
    fc.assert(
      fc.property(textArb(["\u0000", "B", "Z"]), textArb(["B", "Z"]), (text, pattern) => {
        const expected = sqliteLike.get(text, pattern)?.m === 1;
        expect(like(text, pattern)).toBe(expected);
        expect(sqliteGlob.get(text, likeToGlob(pattern))?.m === 1).toBe(expected);
      }),
      { numRuns: 5000 },
    );
  });
});
