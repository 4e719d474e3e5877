import { isDpkgError } from "@dpkg/core";
import { execFileSync } from "node:child_process";
import { statfsSync } from "node:fs";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { onLocalDisk } from "../src/local-disk.js";
import { walkFolder } from "../src/push/walk.js";
import { makeTempDir, type TempDir } from "../../registry-server/test/helpers/temp-dir.js";

async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const path = join(root, ...rel.split("/"));
    await mkdir(join(path, ".."), { recursive: true });
    await writeFile(path, content);
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (err: unknown) => err,
  );
}

describe("walkFolder", () => {
  let tmp: TempDir;
  let dir: string;
  beforeEach(async () => {
    tmp = await makeTempDir("dpkg-push-walk");
    dir = join(tmp.path, "data");
    await mkdir(dir);
  });
  afterEach(async () => tmp.cleanup());

  it("lists regular files by entry path, NFC, sorted by UTF-8 bytes", async () => {
    await writeTree(dir, { "b.txt": "b", "a/z.txt": "zz", "a/été.csv": "", "cafe\u0301.txt": "nfd", "日本/ファイル.bin": "x" });
    const files = await walkFolder(dir);
    expect(files.map((f) => f.path)).toEqual(["a/z.txt", "a/été.csv", "b.txt", "café.txt", "日本/ファイル.bin"]);
    expect(files.find((f) => f.path === "café.txt")?.source).toBe(join(dir, "cafe\u0301.txt"));
    // A name the entry path spells the same way: its source is the folder's path plus the entry path.
    expect(files.find((f) => f.path === "a/z.txt")?.source).toBe(join(dir, "a", "z.txt"));
    expect(files.find((f) => f.path === "a/été.csv")?.size).toBe(0);
  });

  it("stores links to files inside the folder and skips every other link with a warning", async () => {
    await writeTree(dir, { "real/v3.csv": "v3", "other.txt": "o" });
    await writeTree(tmp.path, { "outside/secret.txt": "secret" });
    await symlink("real/v3.csv", join(dir, "latest.csv"));
    await symlink(join(tmp.path, "outside", "secret.txt"), join(dir, "escape.txt"));
    await symlink("../outside", join(dir, "escape-dir"));
    await symlink("real", join(dir, "real-again"));
    await symlink("missing.txt", join(dir, "dangling.txt"));
    const warnings: string[] = [];
    const files = await walkFolder(dir, { warn: (m) => warnings.push(m) });
    expect(files.map((f) => f.path)).toEqual(["latest.csv", "other.txt", "real/v3.csv"]);
    expect(files[0]?.source).toBe(join(dir, "real", "v3.csv"));
    expect(warnings).toHaveLength(4);
    expect(warnings.find((w) => w.includes("escape.txt"))).toMatch(/outside the folder/);
    expect(warnings.find((w) => w.includes("escape-dir"))).toMatch(/outside the folder/);
    expect(warnings.find((w) => w.includes("real-again"))).toMatch(/points to a folder/);
    expect(warnings.find((w) => w.includes("dangling.txt"))).toMatch(/dangling/);
  });

  it("skips FIFOs with a warning", async () => {
    await writeTree(dir, { "a.txt": "a" });
    execFileSync("mkfifo", [join(dir, "pipe")]); // Linux and macOS have mkfifo
    const warnings: string[] = [];
    const files = await walkFolder(dir, { warn: (m) => warnings.push(m) });
    expect(files.map((f) => f.path)).toEqual(["a.txt"]);
    expect(warnings).toEqual([`skipping FIFO ${JSON.stringify(join(dir, "pipe"))}: only regular files are pushed`]);
  });

  it("leaves out excluded paths and does not enter excluded folders", async () => {
    await writeTree(dir, { "keep.csv": "k", "x.tmp": "t", "deep/y.tmp": "t", "cache/z.csv": "c", ".git/HEAD": "ref" });
    const files = await walkFolder(dir, { exclude: ["**/*.tmp", "cache", ".git/"] });
    expect(files.map((f) => f.path)).toEqual(["keep.csv"]);
  });

  it("an excluded file may have a name no entry path could have", async () => {
    await writeTree(dir, { "ok.txt": "o", "bad\\name.tmp": "b" });
    expect((await walkFolder(dir, { exclude: ["*.tmp"] })).map((f) => f.path)).toEqual(["ok.txt"]);
  });

  it("refuses a name that cannot be an entry path, naming the file", async () => {
    await writeTree(dir, { "sub/line\nbreak.txt": "x" });
    const err = await rejection(walkFolder(dir));
    expect(isDpkgError(err, "E_BAD_PATH")).toBe(true);
    expect((err as Error).message).toContain(JSON.stringify(join(dir, "sub", "line\nbreak.txt")));
    expect((err as Error).message).toMatch(/control character/);
  });

  it("refuses two names that are one entry path after NFC", async () => {
    await writeTree(dir, { "café.txt": "nfc", "cafe\u0301.txt": "nfd" });
    const err = await rejection(walkFolder(dir));
    expect(isDpkgError(err, "E_BAD_PATH")).toBe(true);
    expect((err as Error).message).toMatch(/both become entry path "café.txt"/);
  });

  it("refuses a missing folder or a file with E_IO", async () => {
    expect(isDpkgError(await rejection(walkFolder(join(dir, "nope"))), "E_IO")).toBe(true);
    await writeTree(dir, { "f.txt": "f" });
    const err = await rejection(walkFolder(join(dir, "f.txt")));
    expect(isDpkgError(err, "E_IO")).toBe(true);
    expect((err as Error).message).toMatch(/not a folder/);
  });

  it("finds the same files, links and warnings with synchronous system calls (a local disk)", async () => {
    await writeTree(dir, { "b.txt": "b", "a/z.txt": "zz", "real/v3.csv": "v3", "x.tmp": "t" });
    await symlink("real/v3.csv", join(dir, "latest.csv"));
    await symlink("missing.txt", join(dir, "dangling.txt"));
    execFileSync("mkfifo", [join(dir, "pipe")]);
    const walk = async (syncIo: boolean): Promise<unknown> => {
      const warnings: string[] = [];
      const files = await walkFolder(dir, { exclude: ["*.tmp"], warn: (m) => warnings.push(m), syncIo });
      return { files, warnings: warnings.sort() };
    };
    const sync = await walk(true);
    expect(sync).toEqual(await walk(false));
    expect((sync as { files: { path: string }[] }).files.map((f) => f.path)).toEqual(["a/z.txt", "b.txt", "latest.csv", "real/v3.csv"]);
    expect(isDpkgError(await rejection(walkFolder(join(dir, "nope"), { syncIo: true })), "E_IO")).toBe(true);
  });

  it("tells a local disk from a file system it cannot vouch for", async () => {
    expect(await onLocalDisk("/proc")).toBe(false);
    expect(await onLocalDisk(join(dir, "missing"))).toBe(false);
    if (process.platform === "linux" && (statfsSync(dir).type === 0xef53 || statfsSync(dir).type === 0x01021994)) {
      expect(await onLocalDisk(dir)).toBe(true);
    }
  });

  it("walks a folder given through a symlink", async () => {
    await writeTree(dir, { "a.txt": "a" });
    await symlink(dir, join(tmp.path, "link"));
    expect((await walkFolder(join(tmp.path, "link"))).map((f) => f.path)).toEqual(["a.txt"]);
  });
});
