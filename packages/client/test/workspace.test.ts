import { isDpkgError } from "@dpkg/core";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTempDir, type TempDir } from "../../registry-server/test/helpers/temp-dir.js";
import { findWorkspaceRoot } from "../src/workspace/find-root.js";
import { writeFileAtomic } from "../src/workspace/json-file.js";
import { listInstallStates, readInstallState, writeInstallState, type InstalledFile, type InstallState } from "../src/workspace/install-state.js";
import { parseLockfile, readLockfile, writeLockfile, type Lockfile } from "../src/workspace/lockfile.js";
import { reconcile } from "../src/workspace/reconcile.js";
import { parseWanted, readWanted, writeWanted } from "../src/workspace/wanted.js";

const DIGEST = `blake3:${"ab".repeat(32)}` as const;
let tmp: TempDir;
beforeEach(async () => {
  tmp = await makeTempDir("dpkg-workspace");
});
afterEach(async () => tmp.cleanup());

function failure(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (err) {
    if (isDpkgError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error("expected a DpkgError");
}

describe("findWorkspaceRoot", () => {
  it("finds the nearest folder up holding dpkg.json, else returns cwd", async () => {
    await mkdir(join(tmp.path, "a/b/c"), { recursive: true });
    expect(await findWorkspaceRoot(join(tmp.path, "a/b/c"))).toBe(join(tmp.path, "a/b/c"));
    await writeFile(join(tmp.path, "a/dpkg.json"), "{}");
    expect(await findWorkspaceRoot(join(tmp.path, "a/b/c"))).toBe(join(tmp.path, "a"));
    await mkdir(join(tmp.path, "a/b/dpkg.json")); // a folder of that name does not count
    expect(await findWorkspaceRoot(join(tmp.path, "a/b/c"))).toBe(join(tmp.path, "a"));
  });
});

describe("dpkg.json", () => {
  it("round-trips with sorted keys and stable formatting, keeping unknown top-level keys", async () => {
    await writeWanted(tmp.path, {
      packages: { "z/z": { ref: "latest", dest: "data/z/z" }, "a/a": { ref: "v1", dest: "data/a", paths: ["b", "a"].sort(), where: "size > 1", link: "symlink" } },
      extra: { description: "my project" },
    });
    const text = await readFile(join(tmp.path, "dpkg.json"), "utf8");
    expect(text).toBe(
      [
        "{",
        '  "description": "my project",',
        '  "packages": {',
        '    "a/a": {',
        '      "dest": "data/a",',
        '      "link": "symlink",',
        '      "paths": [',
        '        "a",',
        '        "b"',
        "      ],",
        '      "ref": "v1",',
        '      "where": "size > 1"',
        "    },",
        '    "z/z": {',
        '      "dest": "data/z/z",',
        '      "ref": "latest"',
        "    }",
        "  }",
        "}",
        "",
      ].join("\n"),
    );
    const back = await readWanted(tmp.path);
    expect(back?.extra).toEqual({ description: "my project" });
    expect(back?.packages["a/a"]).toEqual({ ref: "v1", dest: "data/a", paths: ["a", "b"], where: "size > 1", link: "symlink" });
    expect(await readdir(tmp.path)).toEqual(["dpkg.json"]); // no temp file left behind
    expect(await readWanted(join(tmp.path, "nowhere"))).toBeNull();
  });

  it("names the file and the field of every problem", () => {
    const bad = (pkg: unknown, name = "a/b") => failure(() => parseWanted({ packages: { [name]: pkg } }, "/w/dpkg.json"));
    expect(bad({ ref: "latest", dest: "../up" })).toMatchObject({ code: "E_BAD_PATH", message: expect.stringContaining('/w/dpkg.json: packages["a/b"].dest') });
    expect(bad({ ref: "latest", dest: ".dpkg/x" }).message).toContain(".dpkg/");
    expect(bad({ ref: "no good", dest: "d" })).toMatchObject({ code: "E_BAD_REF", message: expect.stringContaining(".ref") });
    expect(bad({ ref: "latest", dest: "d", where: "size >" })).toMatchObject({ code: "E_QUERY_SYNTAX", message: expect.stringContaining(".where") });
    expect(bad({ ref: "latest", dest: "d", paths: "x" }).message).toContain(".paths must be a list");
    expect(bad({ ref: "latest", dest: "d", link: "teleport" }).message).toContain(".link must be one of copy, reflink, hardlink, symlink");
    expect(bad({ ref: "latest", dest: "d", colour: "red" }).message).toContain('packages["a/b"].colour is not a known field');
    expect(bad({ ref: "latest", dest: "d" }, "NoSlash")).toMatchObject({ code: "E_BAD_NAME" });
    expect(failure(() => parseWanted([], "/w/dpkg.json")).message).toContain("/w/dpkg.json: the top level");
    const overlap = failure(() => parseWanted({ packages: { "a/b": { ref: "latest", dest: "data" }, "c/d": { ref: "latest", dest: "data/c" } } }));
    expect(overlap).toMatchObject({ code: "E_USAGE", message: expect.stringContaining("would share a folder") });
  });

  it("reports JSON syntax errors with the file name", async () => {
    await writeFile(join(tmp.path, "dpkg.json"), "{ nope");
    const err = await readWanted(tmp.path).catch((e: unknown) => e);
    expect(isDpkgError(err, "E_BAD_JSON") && err.message).toContain(join(tmp.path, "dpkg.json"));
  });
});

describe("dpkg.lock", () => {
  const lock: Lockfile = {
    lockfileVersion: 1,
    registry: "http://127.0.0.1:7777",
    packages: { "a/b": { ref: "latest", digest: DIGEST, dest: "data/a/b", link: "copy", where: "size < 3" } },
  };

  it("round-trips", async () => {
    await writeLockfile(tmp.path, lock);
    expect(await readLockfile(tmp.path)).toEqual(lock);
    const text = await readFile(join(tmp.path, "dpkg.lock"), "utf8");
    expect(text.endsWith("}\n")).toBe(true);
    expect(text.indexOf('"lockfileVersion"')).toBeLessThan(text.indexOf('"packages"'));
  });

  it("validates the version and every pin", () => {
    expect(failure(() => parseLockfile({ ...lock, lockfileVersion: 2 }, "L")).message).toContain("L: lockfileVersion is 2");
    const pin = (p: object) => failure(() => parseLockfile({ ...lock, packages: { "a/b": { ...lock.packages["a/b"], ...p } } }, "L"));
    expect(pin({ digest: "blake3:abc" })).toMatchObject({ code: "E_BAD_DIGEST", message: expect.stringContaining('L: packages["a/b"].digest') });
    expect(pin({ dest: "/abs" })).toMatchObject({ code: "E_BAD_PATH" });
  });
});

describe("reconcile", () => {
  const locked = (p: object = {}): Lockfile => ({
    lockfileVersion: 1,
    registry: "r",
    packages: { "a/b": { ref: "latest", digest: DIGEST, dest: "d", link: "copy", ...p } },
  });
  const wanted = (p: object = {}) => ({ packages: { "a/b": { ref: "latest", dest: "d", ...p } } });

  it("keeps pins that agree (a missing link is copy) and re-resolves the rest", () => {
    expect(reconcile(wanted(), locked(), true)[0]?.pin?.digest).toBe(DIGEST);
    expect(reconcile(wanted({ paths: ["x"] }), locked(), false)[0]?.pin).toBeUndefined();
    expect(reconcile(null, locked(), true)[0]).toMatchObject({ name: "a/b", fields: { ref: "latest", dest: "d" } });
  });

  it("frozen: any difference is E_LOCK_MISMATCH naming package and field", () => {
    for (const [field, change] of [["ref", { ref: "v2" }], ["dest", { dest: "e" }], ["paths", { paths: ["x"] }], ["where", { where: "size > 1" }], ["link", { link: "symlink" }]] as const) {
      const err = failure(() => reconcile(wanted(change), locked(), true));
      expect(err.code).toBe("E_LOCK_MISMATCH");
      expect(err.message).toContain(`a/b.${field}`);
    }
    expect(failure(() => reconcile({ packages: {} }, locked(), true)).message).toContain("not wanted in dpkg.json");
    expect(failure(() => reconcile(wanted(), null, true)).message).toContain("not pinned in dpkg.lock");
  });
});

describe("install state", () => {
  it("round-trips as JSON Lines under .dpkg/state and is listed", async () => {
    const state: InstallState = {
      package: "a/b",
      dest: "data/a/b",
      digest: DIGEST,
      where: "size > 1",
      link: "copy",
      complete: true,
      files: new Map([["x/y.txt", { digest: DIGEST, size: 3, mtimeNs: "1712345678901234567", ino: "18446744073709551615", symlink: false }]]),
    };
    await writeInstallState(tmp.path, state);
    expect(await readInstallState(tmp.path, "a/b")).toEqual(state);
    expect(await listInstallStates(tmp.path)).toEqual(["a/b"]);
    expect(await readInstallState(tmp.path, "c/d")).toBeNull();
    await writeFile(join(tmp.path, ".dpkg/state/a/b.jsonl"), '{"version":1}\n');
    const err = await readInstallState(tmp.path, "a/b").catch((e: unknown) => e);
    expect(isDpkgError(err, "E_BAD_JSON") && err.hint).toContain("Delete");
  });

  it("reads a state larger than one read chunk (4 MiB): lines and multi-byte characters cut at a chunk's end come back whole", async () => {
    // The first path's length is chosen so that byte 4 MiB is the second byte of an "é".
    let state: InstallState | undefined;
    let text = Buffer.alloc(0);
    for (let pad = 0; pad < 8 && !(text.length > 4 << 20 && (text[4 << 20]! & 0xc0) === 0x80); pad++) {
      const files = new Map<string, InstalledFile>();
      for (let i = 0; i < 2_500; i++) {
        const path = `données/${"x".repeat(i === 0 ? pad : 0)}${"é".repeat(1000)}${String(i).padStart(6, "0")}.tif`;
        files.set(path, { digest: DIGEST, size: i, mtimeNs: String(1e18 + i), ino: String(i), symlink: i % 2 === 0 });
      }
      state = { package: "a/big", dest: "data/a/big", digest: DIGEST, link: "copy", complete: true, files };
      await writeInstallState(tmp.path, state);
      text = await readFile(join(tmp.path, ".dpkg/state/a/big.jsonl"));
    }
    expect(text[4 << 20]! & 0xc0).toBe(0x80);
    expect(await readInstallState(tmp.path, "a/big")).toEqual(state);

    // The last line without its newline is still read; a damaged line is named by its number.
    await writeFile(join(tmp.path, ".dpkg/state/a/big.jsonl"), text.subarray(0, text.length - 1));
    expect((await readInstallState(tmp.path, "a/big"))?.files.size).toBe(2_500);
    const lines = text.toString("utf8").split("\n");
    lines[2_000] = lines[2_000]!.slice(0, 10);
    await writeFile(join(tmp.path, ".dpkg/state/a/big.jsonl"), lines.join("\n"));
    const err = await readInstallState(tmp.path, "a/big").catch((e: unknown) => e);
    expect(isDpkgError(err, "E_BAD_JSON") && err.message).toContain("line 2001 is damaged");
  });
});

describe("writeFileAtomic", () => {
  it("writes text given in pieces (more than one write chunk of ~1 MiB) exactly as the joined text", async () => {
    const pieces = Array.from({ length: 3_000 }, (_, i) => `${i}:${"é".repeat(400)}${"x".repeat(i % 7)}\n`);
    const file = join(tmp.path, "pieces.jsonl");
    await writeFileAtomic(file, pieces);
    expect(await readFile(file, "utf8")).toBe(pieces.join(""));
    await writeFileAtomic(file, []);
    expect(await readFile(file, "utf8")).toBe("");
    expect(await readdir(tmp.path)).toEqual(["pieces.jsonl"]); // no temp file left
  });
});

