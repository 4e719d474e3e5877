import { describe, expect, it } from "vitest";
import { compilePathGlobs } from "../src/path-glob.js";

const paths = [
  "README.md",
  ".hidden/x.txt",
  "images/a.tif",
  "images/2026-01/b.tif",
  "images/2026-02/c.png",
  "imagesX/d.tif",
  "labels/a.csv",
];
const select = (...globs: string[]) => paths.filter(compilePathGlobs(globs));

describe("compilePathGlobs", () => {
  it("matches files, folders and their contents", () => {
    expect(select("README.md")).toEqual(["README.md"]);
    expect(select("images")).toEqual(["images/a.tif", "images/2026-01/b.tif", "images/2026-02/c.png"]);
    expect(select("images/")).toEqual(["images/a.tif", "images/2026-01/b.tif", "images/2026-02/c.png"]);
    expect(select("images/2026-*")).toEqual(["images/2026-01/b.tif", "images/2026-02/c.png"]);
  });
  it("keeps * inside one segment and lets ** cross segments", () => {
    expect(select("images/*.tif")).toEqual(["images/a.tif"]);
    expect(select("**/*.tif")).toEqual(["images/a.tif", "images/2026-01/b.tif", "imagesX/d.tif"]);
    expect(select("*.md")).toEqual(["README.md"]);
  });
  it("matches dot files and unions several globs", () => {
    expect(select("**/*.txt")).toEqual([".hidden/x.txt"]);
    expect(select("labels", "*.md")).toEqual(["README.md", "labels/a.csv"]);
    expect(select("{labels,imagesX}/*")).toEqual(["imagesX/d.tif", "labels/a.csv"]);
  });
  it("reports literal prefixes for index narrowing", () => {
    expect(compilePathGlobs(["images/2026-*/*.tif", "**/*.csv", "labels"]).prefixes).toEqual(["images", "", "labels"]);
  });
  it("rejects globs that can never be meant", () => {
    for (const bad of ["", "/", "/abs/*", "!images", "a\u0000b"]) {
      expect(() => compilePathGlobs([bad]), bad).toThrow(expect.objectContaining({ code: "E_BAD_PATH" }));
    }
  });
});
