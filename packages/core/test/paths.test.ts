import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isDpkgError } from "../src/errors.js";
import { findCaseCollisions, parentDirs, pathProblem, toEntryPath, validatePath } from "../src/paths.js";

interface PathCase {
  path: string;
  valid: boolean;
  reason?: string;
  note?: string;
}

const vectors = JSON.parse(readFileSync(new URL("./vectors/paths.json", import.meta.url), "utf8")) as {
  cases: PathCase[];
};

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return expect.unreachable("expected a throw");
}

describe("path vectors", () => {
  it("has the cases the rules need", () => {
    expect(vectors.cases.length).toBeGreaterThanOrEqual(40);
    // The escapes must survive JSON.parse as real lone surrogates and NFD text.
    expect(vectors.cases.some((c) => c.path === "a\ud800b")).toBe(true);
    expect(vectors.cases.some((c) => c.path === "cafe\u0301")).toBe(true);
  });

  it.each(vectors.cases.map((c) => [JSON.stringify(c.path).slice(0, 40), c] as const))("%s", (_, c) => {
    const problem = pathProblem(c.path);
    if (c.valid) {
      expect(problem).toBeNull();
      expect(validatePath(c.path)).toBe(c.path);
      return;
    }
    expect(problem).toContain(c.reason);
    const err = caught(() => validatePath(c.path, "manifest line 7"));
    expect(isDpkgError(err, "E_BAD_PATH")).toBe(true);
    const e = err as Error & { details: Record<string, unknown> };
    expect(e.message).toContain("manifest line 7: path ");
    expect(e.message).toContain(c.reason);
    expect(e.details).toEqual({ where: "manifest line 7", path: c.path, reason: problem });
  });
});

describe("validatePath", () => {
  it("quotes the path so control characters are visible, and shortens huge ones", () => {
    expect(() => validatePath("a\u0000b")).toThrow(
      'entry: path "a\\u0000b" contains control character U+0000 at index 1',
    );
    const long = caught(() => validatePath("x".repeat(5000))) as Error & { details: { path: string } };
    expect(long.message.length).toBeLessThan(400);
    expect(long.message).toContain("5000 bytes of UTF-8, over the 4096-byte limit");
    expect(long.details.path).toHaveLength(5000);
  });
});

describe("toEntryPath", () => {
  it("normalises to NFC, as macOS hands out NFD names", () => {
    expect(toEntryPath("cafe\u0301/x.txt")).toBe("caf\u00e9/x.txt");
  });
  it("converts '\\' only when it is the platform separator", () => {
    expect(toEntryPath("a\\b\\c.csv", { separator: "\\" })).toBe("a/b/c.csv");
    expect(() => toEntryPath("a\\b")).toThrow(`file: path "a\\\\b" contains '\\' at index 1: the separator is '/'`);
  });
  it("still rejects what no conversion can fix", () => {
    for (const bad of ["..\\x", "a\\\\b", "\\abs"]) {
      expect(() => toEntryPath(bad, { separator: "\\", where: "walk" })).toThrow(/^walk: path /);
    }
  });
});

describe("parentDirs", () => {
  it("lists implied directories outermost first", () => {
    expect(parentDirs("a/b/c.txt")).toEqual(["a", "a/b"]);
    expect(parentDirs("top.txt")).toEqual([]);
  });
});

describe("findCaseCollisions", () => {
  it("reports files and implied directories equal ignoring case", () => {
    expect(findCaseCollisions(["A/x", "a/y", "R.csv", "r.csv", "r.CSV", "other"])).toEqual([
      ["A", "a"],
      ["R.csv", "r.CSV", "r.csv"],
    ]);
  });
  it("compares NFC forms, and a file can collide with a directory", () => {
    expect(findCaseCollisions(["\u00c9t\u00e9/1", "e\u0301te\u0301/2", "DATA", "data/3"])).toEqual([
      ["DATA", "data"],
      ["e\u0301te\u0301", "\u00c9t\u00e9"],
    ]);
  });
  it("ignores exact duplicates and returns nothing when all is distinct", () => {
    expect(findCaseCollisions(["a/b", "a/c", "a/b"])).toEqual([]);
  });
});

// Strings mixing the characters the rules care about, so the generator hits every branch.
const tricky = fc.constantFrom(
  "a",
  "B",
  "/",
  ".",
  "..",
  "\\",
  "\u0000",
  "\u007f",
  "\u0085",
  "\ud800",
  "\udc00",
  "e\u0301",
  "\u00e9",
  "\u{1F600}",
  " ",
);
const trickyString = fc.array(tricky, { maxLength: 12 }).map((parts) => parts.join(""));
const anyString = fc.oneof(fc.string({ unit: "binary" }), fc.string({ unit: "grapheme" }), trickyString);
const segment = fc.string({ unit: "grapheme", minLength: 1, maxLength: 8 }).map((s) => s.normalize("NFC"));

describe("pathProblem properties", () => {
  it("never throws and returns a string or null", () => {
    fc.assert(
      fc.property(anyString, (s) => {
        const p = pathProblem(s);
        expect(p === null || typeof p === "string").toBe(true);
      }),
    );
  });
  it("accepts only NFC paths without empty, '.' or '..' segments, and they re-validate", () => {
    fc.assert(
      fc.property(anyString, (s) => {
        if (pathProblem(s) !== null) return;
        expect(s.normalize("NFC")).toBe(s);
        expect(s.isWellFormed()).toBe(true);
        for (const seg of s.split("/")) expect(["", ".", ".."]).not.toContain(seg);
        expect(new TextEncoder().encode(s).length).toBeLessThanOrEqual(4096);
        expect(validatePath(s)).toBe(s);
      }),
    );
  });
  it("keeps valid segments valid when joined with '/'", () => {
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 6 }), (segs) => {
        const valid = segs.filter((s) => pathProblem(s) === null);
        fc.pre(valid.length > 0);
        // '/' is a starter that composes with nothing, so joining NFC segments stays NFC.
        expect(pathProblem(valid.join("/"))).toBeNull();
      }),
    );
  });
});
