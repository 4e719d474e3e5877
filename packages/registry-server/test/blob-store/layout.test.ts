import { describe, expect, it } from "vitest";
import { digestBytes, type Digest } from "@dpkg/core";
import { isValidKey } from "../../src/blob-store/blob-store.js";
import {
  blobKey,
  fromKeyTime,
  manifestKey,
  packIndexKey,
  packKey,
  parseKey,
  revisionKey,
  tagKey,
  toKeyTime,
} from "../../src/blob-store/layout.js";

const digest = digestBytes("hello");
const hex = digest.slice("blake3:".length);
const pkg = { namespace: "mypkg", name: "images.v2" };

describe("layout", () => {
  it("builds the keys drawn in the layout", () => {
    expect(blobKey(digest)).toBe(`blobs/${hex.slice(0, 2)}/${hex}`);
    expect(packKey(digest)).toBe(`packs/${hex.slice(0, 2)}/${hex}.pack`);
    expect(packIndexKey(digest)).toBe(`packs/${hex.slice(0, 2)}/${hex}.idx`);
    expect(manifestKey(digest)).toBe(`manifests/${hex}.jsonl`);
    expect(revisionKey(pkg, "2026-11-22T02:05:00.123Z", digest)).toBe(
      `refs/mypkg/images.v2/revisions/2026-11-22T02-05-00.123Z_${hex}.json`,
    );
    expect(tagKey(pkg, "latest")).toBe("refs/mypkg/images.v2/tags/latest.json");
  });

  it("parses every key it builds back to what built it", () => {
    const time = "2026-11-22T02:05:00.123Z";
    expect(parseKey(blobKey(digest))).toEqual({ kind: "blob", digest });
    expect(parseKey(packKey(digest))).toEqual({ kind: "pack", digest });
    expect(parseKey(packIndexKey(digest))).toEqual({ kind: "pack-index", digest });
    expect(parseKey(manifestKey(digest))).toEqual({ kind: "manifest", digest });
    expect(parseKey(revisionKey(pkg, time, digest))).toEqual({ kind: "revision", package: pkg, time, digest });
    expect(parseKey(tagKey(pkg, "v1.0_rc-1.json"))).toEqual({ kind: "tag", package: pkg, tag: "v1.0_rc-1.json" });
    for (let i = 0; i < 50; i++) {
      const d = digestBytes(String(i));
      for (const key of [blobKey(d), packKey(d), packIndexKey(d), manifestKey(d), revisionKey(pkg, new Date(i), d)]) {
        expect(isValidKey(key)).toBe(true);
        expect(parseKey(key)).toMatchObject({ digest: d });
      }
    }
  });

  it("writes revision times in UTC, key-safe, and sortable as strings", () => {
    expect(toKeyTime("2026-11-22T03:05:00.1+01:00")).toBe("2026-11-22T02-05-00.100Z");
    expect(toKeyTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)))).toBe("2026-01-02T03-04-05.006Z");
    expect(fromKeyTime("2026-11-22T02-05-00.123Z")).toBe("2026-11-22T02:05:00.123Z");
    const times = [0, 9, 10, 999, 1000, 59_999, 86_400_000, Date.UTC(2026, 10, 22), Date.UTC(9999, 11, 31)];
    const keys = times.map((t) => revisionKey(pkg, new Date(t), digest));
    expect([...keys].sort()).toEqual(keys);
  });

  it("refuses to build keys from invalid parts", () => {
    expect(() => blobKey("blake3:abc")).toThrow(expect.objectContaining({ code: "E_BAD_DIGEST" }));
    expect(() => manifestKey(digest.toUpperCase() as Digest)).toThrow(
      expect.objectContaining({ code: "E_BAD_DIGEST" }),
    );
    for (const bad of [
      { ...pkg, namespace: "My" },
      { ...pkg, name: ".." },
      { ...pkg, name: "a/b" },
      { ...pkg, name: "" },
    ]) {
      expect(() => tagKey(bad, "latest")).toThrow(expect.objectContaining({ code: "E_BAD_NAME" }));
    }
    for (const tag of ["", ".hidden", "a/b", "a:b", "x".repeat(129)]) {
      expect(() => tagKey(pkg, tag)).toThrow(expect.objectContaining({ code: "E_BAD_TAG" }));
    }
    for (const time of ["yesterday", "", new Date(NaN), new Date(Date.UTC(10000, 0, 1)), new Date(-1e14)]) {
      expect(() => revisionKey(pkg, time, digest)).toThrow(expect.objectContaining({ code: "E_BAD_REQUEST" }));
    }
  });

  it("classifies anything else as unknown", () => {
    const other = hex.startsWith("00") ? "11" : "00";
    const junk = [
      "",
      "blobs",
      `blobs/${hex}`,
      `blobs/${other}/${hex}`,
      `blobs/${hex.slice(0, 2)}/${hex.toUpperCase()}`,
      `blobs/${hex.slice(0, 2)}/${hex.slice(1)}`,
      `blobs/${hex.slice(0, 2)}/${hex}/x`,
      `x/blobs/${hex.slice(0, 2)}/${hex}`,
      `packs/${hex.slice(0, 2)}/${hex}.tar`,
      `packs/${hex.slice(0, 2)}/${hex}`,
      `manifests/${hex}.json`,
      `manifests/${hex.slice(0, 2)}/${hex}.jsonl`,
      `refs/mypkg/images/revisions/2026-13-40T02-05-00.123Z_${hex}.json`,
      `refs/mypkg/images/revisions/2026-11-22T02:05:00.123Z_${hex}.json`,
      `refs/mypkg/images/revisions/${hex}.json`,
      `refs/MyPkg/images/tags/latest.json`,
      "refs/mypkg/images/tags/.latest.json",
      "refs/mypkg/images/tags/latest",
      "refs/mypkg/tags/latest.json",
      "refs/mypkg/images/other/latest.json",
    ];
    for (const key of junk) expect(parseKey(key)).toEqual({ kind: "unknown", key });
  });
});
