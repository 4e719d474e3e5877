import { describe, expect, it } from "vitest";
import { canonicalJson, compareUtf8, parseCanonicalJson } from "../src/canonical-json.js";
import { isDpkgError } from "../src/errors.js";

describe("canonicalJson", () => {
  it("sorts keys at every depth and drops whitespace", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}',
    );
  });
  it("sorts keys by UTF-8 bytes, not UTF-16 units", () => {
    // U+1F600 (surrogate pair in UTF-16) sorts after U+FF21 in UTF-8.
    expect(canonicalJson({ "\u{1F600}": 1, "\uFF21": 2 })).toBe('{"\uFF21":2,"\u{1F600}":1}');
    expect(compareUtf8("\u{1F600}", "\uFF21")).toBeGreaterThan(0);
  });
  it("rejects non-finite numbers and lone surrogates", () => {
    for (const bad of [NaN, Infinity, "\uD800", { x: undefined }, new Date(0)]) {
      expect(() => canonicalJson(bad)).toThrow();
    }
  });
  it("parses only canonical text", () => {
    expect(parseCanonicalJson('{"a":1}', "line 1")).toEqual({ a: 1 });
    for (const bad of ['{"b":1,"a":2}', '{ "a":1}', '{"a":1.0}', '{"a":"\\u0041"}', '{"a":1,"a":1}']) {
      try {
        parseCanonicalJson(bad, "line 3");
        expect.unreachable(bad);
      } catch (e) {
        expect(isDpkgError(e, "E_BAD_JSON")).toBe(true);
        expect((e as Error).message).toContain("line 3");
      }
    }
  });
});
