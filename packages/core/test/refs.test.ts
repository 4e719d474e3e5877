import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DpkgError, isDpkgError, type ErrorCode } from "../src/errors.js";
import {
  DEFAULT_TAG,
  formatPackageName,
  formatRef,
  isValidPackagePart,
  isValidTag,
  parsePackageName,
  parseRef,
  parseTag,
  type PackageRef,
} from "../src/refs.js";

type RefCase =
  { ref: string; valid: true; expect: PackageRef } | { ref: string; valid: false; code: ErrorCode; reason: string };
interface Vectors {
  refs: RefCase[];
  names: { name: string; valid: boolean; reason?: string }[];
  tags: { tag: string; valid: boolean; reason?: string }[];
}
const vectors = JSON.parse(readFileSync(new URL("./vectors/refs.json", import.meta.url), "utf8")) as Vectors;

function caught(fn: () => unknown): DpkgError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DpkgError) return e;
    throw e;
  }
  return expect.unreachable("expected a DpkgError");
}

describe("ref vectors", () => {
  it("cover valid and invalid refs", () => {
    expect(vectors.refs.filter((c) => c.valid).length).toBeGreaterThanOrEqual(10);
    expect(vectors.refs.filter((c) => !c.valid).length).toBeGreaterThanOrEqual(20);
  });

  it.each(vectors.refs.map((c) => [c.ref.slice(0, 60), c] as const))("ref %j", (_, c) => {
    if (c.valid) {
      expect(parseRef(c.ref)).toEqual(c.expect);
      expect(formatRef(c.expect)).toBe(c.ref);
      return;
    }
    const e = caught(() => parseRef(c.ref));
    expect(e.code).toBe(c.code);
    expect(e.message).toContain(`ref ${JSON.stringify(c.ref)}`);
    expect(e.message).toContain(c.reason);
    expect(e.details).toMatchObject({ ref: c.ref });
  });

  it.each(vectors.names.map((c) => [c.name.slice(0, 60), c] as const))("name %j", (_, c) => {
    if (c.valid) {
      const parsed = parsePackageName(c.name);
      expect(formatPackageName(parsed)).toBe(c.name);
      expect(isValidPackagePart(parsed.namespace) && isValidPackagePart(parsed.name)).toBe(true);
      return;
    }
    const e = caught(() => parsePackageName(c.name));
    expect(e.code).toBe("E_BAD_NAME");
    expect(e.message).toContain(`package name ${JSON.stringify(c.name)}`);
    expect(e.message).toContain(c.reason);
  });

  it.each(vectors.tags.map((c) => [c.tag.slice(0, 60), c] as const))("tag %j", (_, c) => {
    expect(isValidTag(c.tag)).toBe(c.valid);
    if (c.valid) {
      expect(parseTag(c.tag)).toBe(c.tag);
      return;
    }
    const e = caught(() => parseTag(c.tag));
    expect(e.code).toBe("E_BAD_TAG");
    expect(e.message).toContain(c.reason);
  });
});

describe("formatRef", () => {
  it("writes @latest only when it was explicit, and refuses invalid parts", () => {
    const base = { namespace: "a", name: "b" };
    expect(formatRef({ ...base, selector: { kind: "tag", tag: DEFAULT_TAG }, explicit: false })).toBe("a/b");
    // A non-default tag must survive even if `explicit` was left false by hand.
    expect(formatRef({ ...base, selector: { kind: "tag", tag: "v2" }, explicit: false })).toBe("a/b@v2");
    expect(() => formatRef({ ...base, namespace: "A", selector: { kind: "tag", tag: "x" }, explicit: true })).toThrow(
      /lowercase/,
    );
    expect(() =>
      formatRef({ ...base, selector: { kind: "digest", prefix: "abc", full: false }, explicit: true }),
    ).toThrow(/at least 8/);
  });
  it("formatPackageName refuses what parsePackageName would", () => {
    expect(() => formatPackageName({ namespace: "a/b", name: "c" })).toThrow(/has 2 '\/'/);
  });
});

const part = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,63}$/);
const tag = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/);
const prefix = fc.stringMatching(/^[0-9a-f]{8,64}$/);
const validRef = fc
  .tuple(
    part,
    part,
    fc.option(
      fc.oneof(
        tag,
        prefix.map((p) => `blake3:${p}`),
      ),
      { nil: undefined },
    ),
  )
  .map(([ns, name, sel]) => (sel === undefined ? `${ns}/${name}` : `${ns}/${name}@${sel}`));
// Near-misses: mostly valid characters plus the ones the grammar forbids, to reach every error branch.
const refish = fc
  .array(
    fc.constantFrom("a", "Z", "0", "f", "/", "@", ":", ".", "-", "_", "blake3:", "sha256:", " ", "\u00e9", "\ud800"),
    {
      maxLength: 20,
    },
  )
  .map((xs) => xs.join(""));

describe("ref properties", () => {
  it("format(parse(x)) === x for generated valid refs", () => {
    fc.assert(
      fc.property(validRef, (text) => {
        const ref = parseRef(text);
        expect(formatRef(ref)).toBe(text);
        expect(parseRef(formatRef(ref))).toEqual(ref);
        if (ref.selector.kind === "digest") expect(ref.selector.full).toBe(ref.selector.prefix.length === 64);
      }),
    );
  });
  it("random text either parses and round-trips or throws a DpkgError with a name/tag/ref code", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary" }), refish), (text) => {
        let ref: PackageRef;
        try {
          ref = parseRef(text);
        } catch (e) {
          expect(isDpkgError(e)).toBe(true);
          expect(["E_BAD_REF", "E_BAD_NAME", "E_BAD_TAG"]).toContain((e as DpkgError).code);
          return;
        }
        expect(formatRef(ref)).toBe(text);
      }),
    );
  });
  it("parsePackageName and parseTag only ever throw DpkgError", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary" }), refish), (text) => {
        for (const [fn, code] of [
          [parsePackageName, "E_BAD_NAME"],
          [parseTag, "E_BAD_TAG"],
        ] as const) {
          try {
            fn(text);
          } catch (e) {
            expect(isDpkgError(e, code)).toBe(true);
          }
        }
      }),
    );
  });
});
