import { digestBytes, isDpkgError } from "@dpkg/core";
import { chmod, lstat, mkdir, readFile, readlink, readdir, rename, rm, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTempDir, type TempDir } from "../../registry-server/test/helpers/temp-dir.js";
import { ContentCache } from "../src/cache/content-cache.js";
import { applyMaterialize, materialize, planMaterialize, type MaterializeEntry } from "../src/materialize.js";
import type { InstalledFile } from "../src/workspace/install-state.js";
import type { LinkMode } from "../src/workspace/package-fields.js";

let tmp: TempDir;
let cache: ContentCache;
let dest: string;
let outside: string;

beforeEach(async () => {
  tmp = await makeTempDir("dpkg-materialize");
  cache = new ContentCache(join(tmp.path, "cache"));
  dest = join(tmp.path, "ws", "data");
  outside = join(tmp.path, "outside");
  await mkdir(outside, { recursive: true });
});
afterEach(async () => tmp.cleanup());

/** An entry whose blob is in the cache. */
async function entry(path: string, text: string): Promise<MaterializeEntry> {
  const bytes = Buffer.from(text);
  const digest = digestBytes(bytes);
  await cache.putBlob(digest, bytes.length, [bytes]);
  return { path, digest, size: bytes.length };
}

function run(entries: MaterializeEntry[], previous?: Map<string, InstalledFile> | null, link: LinkMode = "copy") {
  return materialize({ dest, entries, previous: previous ? { files: previous, link } : null, link, cache });
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<Error> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isDpkgError(err) ? err.code : err).toBe(code);
  return err as Error;
}

describe("materialize: a hostile entry list never writes outside dest", () => {
  for (const bad of ["../escaped.txt", "a/../../escaped.txt", "/etc/escaped.txt", "a\\..\\..\\escaped.txt", "./x", "a//b", "nul\u0000.txt"]) {
    it(`refuses ${JSON.stringify(bad)} before writing anything`, async () => {
      const good = await entry("good.txt", "good");
      const err = await expectCode(run([good, { ...good, path: bad }]), "E_BAD_PATH");
      expect(err.message).toContain(JSON.stringify(bad).slice(1, 4));
      expect(await readdir(outside)).toEqual([]);
      await expect(stat(dest)).rejects.toThrow(); // not even the good file was written
      await expect(stat(join(tmp.path, "ws", "escaped.txt"))).rejects.toThrow();
    });
  }

  it("refuses duplicate paths and a file that is also a folder", async () => {
    const a = await entry("a", "1");
    await expectCode(run([a, { ...a }]), "E_BAD_MANIFEST");
    await expectCode(run([a, await entry("a/b", "2")]), "E_BAD_MANIFEST");
  });

  it("never writes through a symlinked folder planted in dest", async () => {
    await mkdir(dest, { recursive: true });
    await symlink(outside, join(dest, "sub"));
    const err = await expectCode(run([await entry("sub/passwd", "pwned")]), "E_CONFLICT");
    expect(err.message).toContain(join(dest, "sub"));
    expect(err.message).toContain("symlink");
    expect(await readdir(outside)).toEqual([]);
  });

  it("never writes through a symlink planted at a file's path", async () => {
    await mkdir(dest, { recursive: true });
    const victim = join(outside, "victim.txt");
    await writeFile(victim, "precious");
    await symlink(victim, join(dest, "f.txt"));
    await expectCode(run([await entry("f.txt", "pwned")]), "E_CONFLICT");
    expect(await readFile(victim, "utf8")).toBe("precious");
  });

  it("replaces (not writes through) a symlink dpkg itself installed", async () => {
    const first = await run([await entry("f.txt", "v1")], null, "symlink");
    const victimTarget = await readlink(join(dest, "f.txt"));
    const v2 = await entry("f.txt", "v2");
    const second = await run([v2], first.files, "symlink");
    expect(second.written).toBe(1);
    expect(await readlink(join(dest, "f.txt"))).toBe(cache.blobPath(v2.digest));
    expect(await readFile(victimTarget, "utf8")).toBe("v1"); // the old cache blob was not overwritten
  });

  it("does not remove files through a folder swapped for a symlink after install", async () => {
    const first = await run([await entry("d/x.txt", "x")]);
    await rm(join(dest, "d"), { recursive: true, force: true });
    await writeFile(join(outside, "x.txt"), "x");
    await symlink(outside, join(dest, "d"));
    const second = await run([], first.files);
    expect(second.removed).toBe(0);
    expect(await readFile(join(outside, "x.txt"), "utf8")).toBe("x");
  });

  it("a re-install never writes through a folder moved out and linked back, even when its files are the ones recorded", async () => {
    const e = [await entry("d/x.txt", "x"), await entry("d/y.txt", "y")];
    const first = await run(e);
    const moved = join(outside, "d");
    await rename(join(dest, "d"), moved);
    await symlink(moved, join(dest, "d"));
    const before = await readdir(moved);
    // The very files recorded (same inodes, mtimes), reached through the link: nothing to write.
    expect(await run(e, first.files)).toMatchObject({ written: 0, removed: 0, unchanged: 2 });
    // One of them changed: the full plan runs, and refuses the link rather than write through it.
    await chmod(join(moved, "y.txt"), 0o644);
    await writeFile(join(moved, "y.txt"), "changed");
    expect(isDpkgError(await run(e, first.files).catch((err: unknown) => err), "E_CONFLICT")).toBe(true);
    expect(await readFile(join(moved, "y.txt"), "utf8")).toBe("changed");
    expect(await readdir(moved)).toEqual(before);
    expect((await lstat(join(dest, "d"))).isSymbolicLink()).toBe(true);
  });
});

describe("materialize: ownership", () => {
  it("writes read-only files, then keeps them without rewriting", async () => {
    const e = [await entry("a.txt", "A"), await entry("d/e/b.txt", "B")];
    const first = await run(e);
    expect(first).toMatchObject({ written: 2, unchanged: 0, removed: 0 });
    const st = await stat(join(dest, "d/e/b.txt"));
    expect(st.mode & 0o777).toBe(0o444);
    const second = await run(e, first.files);
    expect(second).toMatchObject({ written: 0, unchanged: 2, removed: 0 });
    expect((await stat(join(dest, "d/e/b.txt"))).mtimeMs).toBe(st.mtimeMs);
  });

  it("a re-install whose entries are the recorded files but repeat a path is refused, not taken for unchanged", async () => {
    const e = [await entry("a.txt", "A"), await entry("b.txt", "B")];
    const first = await run(e);
    await expectCode(run([e[0]!, { ...e[0]! }], first.files), "E_BAD_MANIFEST");
  });

  it("a recorded path that is not a valid entry path is refused on re-install, never looked up outside dest", async () => {
    const a = await entry("a.txt", "A");
    const first = await run([a]);
    const record = first.files.get("a.txt")!;
    const bad = { ...a, path: "../outside/a.txt" };
    await expectCode(run([bad], new Map([[bad.path, record]])), "E_BAD_PATH");
  });

  it("rewrites its own changed file, and adopts a user's file with the right content", async () => {
    const a = await entry("a.txt", "A");
    const first = await run([a]);
    await chmod(join(dest, "a.txt"), 0o644);
    await writeFile(join(dest, "a.txt"), "tampered");
    await writeFile(join(dest, "mine.txt"), "M");
    const m = await entry("mine.txt", "M");
    const second = await run([a, m], first.files);
    expect(second).toMatchObject({ written: 1, unchanged: 1 });
    expect(await readFile(join(dest, "a.txt"), "utf8")).toBe("A");
    expect(second.files.has("mine.txt")).toBe(true);
  });

  it("refuses to overwrite a user's file with other content, naming it", async () => {
    await mkdir(join(dest, "d"), { recursive: true });
    await writeFile(join(dest, "d/mine.txt"), "user data");
    const err = await expectCode(run([await entry("d/mine.txt", "package data"), await entry("z.txt", "z")]), "E_CONFLICT");
    expect(err.message).toContain(join(dest, "d/mine.txt"));
    expect(await readFile(join(dest, "d/mine.txt"), "utf8")).toBe("user data");
    await expect(stat(join(dest, "z.txt"))).rejects.toThrow(); // nothing written when anything conflicts
  });

  it("removes files that left the selection, prunes emptied folders, keeps user files and changed files", async () => {
    const keep = await entry("keep.txt", "K");
    const first = await run([keep, await entry("gone/deep/x.txt", "X"), await entry("mixed/y.txt", "Y"), await entry("edited.txt", "E")]);
    await writeFile(join(dest, "mixed/user.txt"), "mine");
    await chmod(join(dest, "edited.txt"), 0o644);
    await writeFile(join(dest, "edited.txt"), "my edit");
    const plan = await planMaterialize({ dest, entries: [keep], previous: { files: first.files, link: "copy" }, link: "copy", cache });
    expect(plan.remove).toEqual(["gone/deep/x.txt", "mixed/y.txt"]);
    expect(plan.modified).toEqual(["edited.txt"]);
    const second = await run([keep], first.files);
    expect(second).toMatchObject({ removed: 2, unchanged: 1, written: 0, modified: ["edited.txt"] });
    expect((await readdir(dest)).sort()).toEqual(["edited.txt", "keep.txt", "mixed"]);
    expect(await readdir(join(dest, "mixed"))).toEqual(["user.txt"]);
    expect([...second.files.keys()]).toEqual(["keep.txt"]);
  });
});

describe("materialize: files created in place", () => {
  it("a file or link that appears at a free path between plan and apply is refused, never written through", async () => {
    const entries = [await entry("a.txt", "package a"), await entry("b.txt", "package b")];
    const plan = await planMaterialize({ dest, entries, link: "copy", cache });
    expect(plan.write.map((w) => w.absent)).toEqual([true, true]);
    await mkdir(dest, { recursive: true });
    await writeFile(join(dest, "a.txt"), "someone else's");
    const victim = join(outside, "victim.txt");
    await symlink(victim, join(dest, "b.txt"));

    const err = await expectCode(applyMaterialize(plan, { cache, concurrency: 2 }), "E_CONFLICT");
    expect(err.message).toContain(join(dest, "a.txt"));
    expect(await readFile(join(dest, "a.txt"), "utf8")).toBe("someone else's");
    expect(await readdir(outside)).toEqual([]);
  });

  it("the plan owns the files it is about to write, so a run stopped half way leaves none the next run calls the user's", async () => {
    const entries = [await entry("x/a.txt", "package a"), await entry("x/b.txt", "package b")];
    const plan = await planMaterialize({ dest, entries, link: "copy", cache });
    // As a killed install would leave it: the state as written before applying, one file cut short.
    const pending = new Map(plan.files);
    expect([...pending.keys()]).toEqual(["x/a.txt", "x/b.txt"]);
    await mkdir(join(dest, "x"), { recursive: true });
    await writeFile(join(dest, "x", "a.txt"), "pack");

    const result = await run(entries, pending);
    expect(result.written).toBe(2);
    expect(await readFile(join(dest, "x", "a.txt"), "utf8")).toBe("package a");
    expect(await readFile(join(dest, "x", "b.txt"), "utf8")).toBe("package b");

    // A pending file that was written whole is adopted without a rewrite.
    const again = await run(entries, pending);
    expect(again.written).toBe(0);
    expect(again.unchanged).toBe(2);
  });
});

describe("materialize: a long plan leaves the event loop turning", () => {
  it("timers (the workspace lock's refresh, progress) run while thousands of files are checked", async () => {
    const blob = await entry("x", "same bytes");
    const entries = Array.from({ length: 5000 }, (_, i) => ({ ...blob, path: `d/${String(i).padStart(4, "0")}.txt` }));
    const first = await run(entries);
    let ticks = 0;
    const timer = setInterval(() => (ticks += 1), 0);
    try {
      const plan = await planMaterialize({ dest, entries, previous: { files: first.files, link: "copy" }, link: "copy", cache });
      expect(plan.unchanged).toBe(5000);
    } finally {
      clearInterval(timer);
    }
    // A turn of the loop per 1,024 entries (4 here); planned in one chain of microtasks, 1 or 2.
    expect(ticks).toBeGreaterThanOrEqual(3);

    // The last file changed: the quick check finds it only at the end, and the full plan runs after it.
    await rm(join(dest, "d/4999.txt"));
    ticks = 0;
    const again = setInterval(() => (ticks += 1), 0);
    try {
      const plan = await planMaterialize({ dest, entries, previous: { files: first.files, link: "copy" }, link: "copy", cache });
      expect(plan).toMatchObject({ unchanged: 4999, write: [{ path: "d/4999.txt", absent: true }] });
    } finally {
      clearInterval(again);
    }
    expect(ticks).toBeGreaterThanOrEqual(6);
  });
});

describe("materialize: link modes", () => {
  it("copy: an independent read-only file", async () => {
    const a = await entry("a.bin", "copy me");
    await run([a], null, "copy");
    const st = await lstat(join(dest, "a.bin"));
    expect(st.isFile()).toBe(true);
    expect(st.ino).not.toBe((await stat(cache.blobPath(a.digest))).ino);
    expect(st.mode & 0o777).toBe(0o444);
  });

  it("copy: read-only even when the cached file was made writable, and recorded as placed", async () => {
    const a = await entry("a.bin", "writable source");
    await chmod(cache.blobPath(a.digest), 0o644);
    const result = await run([a], null, "copy");
    const st = await lstat(join(dest, "a.bin"), { bigint: true });
    expect(Number(st.mode) & 0o777).toBe(0o444);
    expect(result.files.get("a.bin")).toMatchObject({ ino: st.ino.toString(), mtimeNs: st.mtimeNs.toString(), size: a.size });
  });

  it("hardlink: the cache's own inode", async () => {
    const a = await entry("a.bin", "link me");
    await run([a], null, "hardlink");
    expect((await lstat(join(dest, "a.bin"))).ino).toBe((await stat(cache.blobPath(a.digest))).ino);
  });

  it("symlink: a link to the cache path", async () => {
    const a = await entry("a.bin", "point at me");
    await run([a], null, "symlink");
    expect((await lstat(join(dest, "a.bin"))).isSymbolicLink()).toBe(true);
    expect(await readlink(join(dest, "a.bin"))).toBe(cache.blobPath(a.digest));
    expect(await readFile(join(dest, "a.bin"), "utf8")).toBe("point at me");
  });

  it("reflink: a clone where the file system has them, else a clear E_IO", async () => {
    const a = await entry("a.bin", "clone me");
    const outcome = await run([a], null, "reflink").then(
      () => "ok",
      (e: unknown) => e,
    );
    if (outcome === "ok") {
      expect(await readFile(join(dest, "a.bin"), "utf8")).toBe("clone me");
    } else {
      expect(isDpkgError(outcome, "E_IO")).toBe(true);
      expect((outcome as Error).message).toContain("reflink");
      expect((outcome as { hint: string }).hint).toContain("--link copy");
    }
  });

  it("switching modes rewrites files into the new form", async () => {
    const a = await entry("a.bin", "shape-shifter");
    const first = await run([a], null, "copy");
    const second = await materialize({ dest, entries: [a], previous: { files: first.files, link: "copy" }, link: "symlink", cache });
    expect(second.written).toBe(1);
    expect((await lstat(join(dest, "a.bin"))).isSymbolicLink()).toBe(true);
    const third = await materialize({ dest, entries: [a], previous: { files: second.files, link: "symlink" }, link: "hardlink", cache });
    expect(third.written).toBe(1);
    expect((await lstat(join(dest, "a.bin"))).ino).toBe((await stat(cache.blobPath(a.digest))).ino);
  });
});
