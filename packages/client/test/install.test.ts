import { digestBytes, isDpkgError, type PackageName } from "@dpkg/core";
import { mkdir, readFile, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir, type TempDir } from "../../registry-server/test/helpers/temp-dir.js";
import { ContentCache } from "../src/cache/content-cache.js";
import { install, type InstallOptions } from "../src/install.js";
import { RegistryClient } from "../src/registry-client.js";
import { file, publish, type Published } from "./helpers/publish.js";
import { startTestRegistryServer, type TestRegistryServer } from "./helpers/registry-server.js";

const PKG: PackageName = { namespace: "lab", name: "cells" };
const FILES = [
  file("README.md", "# cells\n"),
  file("images/a.png", "AAAA", { channel: "dna", label: "cat" }),
  file("images/b.png", "BBBBBB", { channel: "membrane", label: "dog" }),
  file("images/c.png", "CC", { channel: "dna", label: "dog" }),
  file("tables/t.csv", "x,y\n1,2\n", { rows: 1 }),
];

let reg: TestRegistryServer;
let client: RegistryClient;
let published: Published;
const temps: TempDir[] = [];

beforeAll(async () => {
  reg = await startTestRegistryServer();
  client = new RegistryClient({ url: reg.url, token: reg.token });
  published = await publish(client, PKG, FILES);
});
afterAll(async () => {
  await client.close();
  await reg.close();
});
afterEach(async () => {
  for (const t of temps.splice(0)) await t.cleanup();
});

async function tempDir(label: string): Promise<string> {
  const t = await makeTempDir(label);
  temps.push(t);
  return t.path;
}

/** A fresh workspace folder and cache. */
async function setup(): Promise<{ ws: string; cache: ContentCache; run: (o?: Partial<InstallOptions>) => ReturnType<typeof install> }> {
  const ws = await tempDir("dpkg-ws");
  const cache = new ContentCache(await tempDir("dpkg-cache"));
  return { ws, cache, run: (o = {}) => install({ client, cache, cwd: ws, ...o }) };
}

/** Every file under `dir` (relative path → text); `.dpkg` is dpkg's own and left out. */
async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const full = join(e.parentPath, e.name);
    const rel = full.slice(dir.length + 1);
    if (rel.startsWith(".dpkg") || e.isDirectory()) continue;
    out[rel] = await readFile(full, "utf8");
  }
  return out;
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<Error> {
  const err = await promise.then(() => null, (e: unknown) => e);
  expect(isDpkgError(err) ? err.code : err).toBe(code);
  return err as Error;
}

const DEST = "data/lab/cells";
const digestOf = (path: string) => digestBytes(FILES.find((f) => f.path === path)!.bytes);

describe("install NAME", () => {
  it("installs the whole package, records dpkg.json and dpkg.lock", async () => {
    const { ws, cache, run } = await setup();
    const phases = new Set<string>();
    let last = { bytes: 0, blobs: 0, totalBlobs: 0 };
    const report = await run({
      spec: "lab/cells",
      onProgress: (p) => {
        phases.add(p.phase);
        if (p.phase === "materialize") last = p;
      },
    });
    expect([...phases].sort()).toEqual(["fetch", "materialize"]);
    expect(last).toMatchObject({ blobs: 5, totalBlobs: 5 });
    expect(report.packages).toEqual([
      expect.objectContaining({ name: "lab/cells", ref: "lab/cells@latest", digest: published.digest, dest: DEST, entries: 5, written: 5, unchanged: 0, removed: 0 }),
    ]);
    expect(report.packages[0]!.fetchedBytes).toBe(FILES.reduce((n, f) => n + f.bytes.length, 0));
    expect(await tree(join(ws, DEST))).toEqual(Object.fromEntries(FILES.map((f) => [f.path, Buffer.from(f.bytes).toString()])));
    expect((await stat(join(ws, DEST, "README.md"))).mode & 0o777).toBe(0o444);
    expect(await readFile(join(ws, "dpkg.json"), "utf8")).toBe(
      `{\n  "packages": {\n    "lab/cells": {\n      "dest": "data/lab/cells",\n      "ref": "latest"\n    }\n  }\n}\n`,
    );
    expect(JSON.parse(await readFile(join(ws, "dpkg.lock"), "utf8"))).toEqual({
      lockfileVersion: 1,
      registry: reg.url,
      packages: { "lab/cells": { ref: "latest", digest: published.digest, dest: DEST, link: "copy" } },
    });
    expect(await readFile(join(ws, ".dpkg/.gitignore"), "utf8")).toBe("*\n");
    expect(await cache.hasManifest(published.digest)).toBe(true);
  });

  it("installs a subset by --path and by --where, fetching only the selected blobs", async () => {
    const byPath = await setup();
    await byPath.run({ spec: "lab/cells", paths: ["images/*.png", "README.md"], where: "meta.label = 'dog' OR path = 'README.md'" });
    expect(Object.keys(await tree(join(byPath.ws, DEST))).sort()).toEqual(["README.md", "images/b.png", "images/c.png"]);
    expect(await byPath.cache.hasBlob(digestOf("images/a.png"))).toBe(false);
    expect(await byPath.cache.hasBlob(digestOf("tables/t.csv"))).toBe(false);
    const lock = JSON.parse(await readFile(join(byPath.ws, "dpkg.lock"), "utf8"));
    expect(lock.packages["lab/cells"]).toMatchObject({ paths: ["README.md", "images/*.png"], where: "meta.label = 'dog' OR path = 'README.md'" });

    const byWhere = await setup();
    const report = await byWhere.run({ spec: "lab/cells", where: "meta.channel = 'dna'" });
    expect(report.packages[0]).toMatchObject({ entries: 2, written: 2, fetchedBytes: 6 });
    expect(Object.keys(await tree(join(byWhere.ws, DEST))).sort()).toEqual(["images/a.png", "images/c.png"]);
    expect(await byWhere.cache.hasBlob(digestOf("images/b.png"))).toBe(false);
  });

  it("re-installing is a no-op: nothing fetched or written, mtimes unchanged", async () => {
    const { ws, run } = await setup();
    await run({ spec: "lab/cells" });
    const before = await stat(join(ws, DEST, "images/a.png"), { bigint: true });
    const lockBefore = await stat(join(ws, "dpkg.lock"));
    const again = await run({ spec: "lab/cells" });
    expect(again.packages[0]).toMatchObject({ written: 0, unchanged: 5, removed: 0, fetchedBytes: 0 });
    expect((await stat(join(ws, DEST, "images/a.png"), { bigint: true })).mtimeNs).toBe(before.mtimeNs);
    expect((await stat(join(ws, "dpkg.lock"))).mtimeMs).toBe(lockBefore.mtimeMs);
    // Nor is the install state written again: same file, same inode.
    const stateFile = join(ws, ".dpkg/state/lab/cells.jsonl");
    const stateBefore = await stat(stateFile, { bigint: true });
    await run();
    const stateAfter = await stat(stateFile, { bigint: true });
    expect([stateAfter.ino, stateAfter.mtimeNs]).toEqual([stateBefore.ino, stateBefore.mtimeNs]);
    // A file put back by hand with the same bytes is adopted: that changes the state, which is written.
    await rm(join(ws, DEST, "images/a.png"));
    await writeFile(join(ws, DEST, "images/a.png"), "AAAA");
    expect((await run()).packages[0]).toMatchObject({ written: 0, unchanged: 5 });
    expect((await stat(stateFile, { bigint: true })).ino).not.toBe(stateBefore.ino);
  });

  it("two installs in one workspace run one after the other: the second waits for the lock, then finds nothing to do", async () => {
    const { ws, run } = await setup();
    const waits: string[] = [];
    const onWait = (lock: string): number => waits.push(lock);
    const [a, b] = await Promise.all([run({ spec: "lab/cells", onWait }), run({ spec: "lab/cells", onWait })]);
    // Which one got the lock first is up to the scheduler; one waited, and only one wrote files.
    expect(waits).toEqual([join(ws, ".dpkg/install.lock")]);
    expect([a.packages[0]!.written, b.packages[0]!.written].sort()).toEqual([0, 5]);
    expect(await tree(join(ws, DEST))).toMatchObject({ "README.md": "# cells\n", "images/a.png": "AAAA" });
    await expect(stat(join(ws, ".dpkg/install.lock"))).rejects.toThrow();
  });

  it("a lock left by a killed install is taken over once stale, without waiting", async () => {
    const { ws, run } = await setup();
    await mkdir(join(ws, ".dpkg/install.lock"), { recursive: true });
    const old = new Date(Date.now() - 60_000);
    await utimes(join(ws, ".dpkg/install.lock"), old, old);
    const waits: string[] = [];
    const report = await run({ spec: "lab/cells", onWait: (lock) => waits.push(lock) });
    expect(waits).toEqual([]);
    expect(report.packages[0]!.written).toBe(5);
  });

  it("a changed selection removes the files that left it and keeps the user's files", async () => {
    const { ws, run } = await setup();
    await run({ spec: "lab/cells" });
    await writeFile(join(ws, DEST, "images/notes.txt"), "mine");
    await writeFile(join(ws, DEST, "tables/mine.csv"), "mine");
    const report = await run({ spec: "lab/cells", paths: ["images"] });
    expect(report.packages[0]).toMatchObject({ entries: 3, written: 0, unchanged: 3, removed: 2 });
    expect(Object.keys(await tree(join(ws, DEST))).sort()).toEqual(["images/a.png", "images/b.png", "images/c.png", "images/notes.txt", "tables/mine.csv"]);
    await rm(join(ws, DEST, "tables/mine.csv"));
    // Back to the whole package: the removed files come back from the cache, no network needed for them.
    const back = await run({ spec: "lab/cells" });
    expect(back.packages[0]).toMatchObject({ written: 2, fetchedBytes: 0 });
  });

  it("refuses to overwrite a file it did not install, and records nothing", async () => {
    const { ws, run } = await setup();
    await mkdir(join(ws, DEST), { recursive: true });
    await writeFile(join(ws, DEST, "README.md"), "my own readme");
    const err = await rejectsWith(run({ spec: "lab/cells" }), "E_CONFLICT");
    expect(err.message).toContain(join(ws, DEST, "README.md"));
    expect(await readFile(join(ws, DEST, "README.md"), "utf8")).toBe("my own readme");
    await expect(stat(join(ws, "dpkg.json"))).rejects.toThrow();
  });

  it("installs with each link mode and records it in the lock", async () => {
    for (const link of ["copy", "hardlink", "symlink"] as const) {
      const { ws, cache, run } = await setup();
      await run({ spec: "lab/cells", paths: ["README.md"], link });
      const st = await stat(join(ws, DEST, "README.md"));
      if (link === "hardlink") expect(st.ino).toBe((await stat(cache.blobPath(digestOf("README.md")))).ino);
      expect(await readFile(join(ws, DEST, "README.md"), "utf8")).toBe("# cells\n");
      expect(JSON.parse(await readFile(join(ws, "dpkg.lock"), "utf8")).packages["lab/cells"].link).toBe(link);
    }
  });

  it("--dest is relative to cwd and must stay inside the workspace; the root is found upwards", async () => {
    const { ws, run } = await setup();
    await writeFile(join(ws, "dpkg.json"), '{"packages": {}}\n');
    await mkdir(join(ws, "src/deep"), { recursive: true });
    await install({ client, cache: new ContentCache(await tempDir("c")), cwd: join(ws, "src/deep"), spec: "lab/cells", dest: "../../vendor/cells", paths: ["README.md"] });
    expect(await readFile(join(ws, "vendor/cells/README.md"), "utf8")).toBe("# cells\n");
    expect(JSON.parse(await readFile(join(ws, "dpkg.json"), "utf8")).packages["lab/cells"].dest).toBe("vendor/cells");
    await rejectsWith(run({ spec: "lab/cells", dest: "../elsewhere" }), "E_USAGE");
    await rejectsWith(run({ spec: "lab/cells", dest: "." }), "E_USAGE");
  });

  it("--lazy pins and caches the manifest but fetches and writes nothing", async () => {
    const { ws, cache, run } = await setup();
    const report = await run({ spec: "lab/cells", lazy: true });
    expect(report.packages[0]).toMatchObject({ lazy: true, entries: 5, written: 0, fetchedBytes: 0 });
    expect(await cache.hasManifest(published.digest)).toBe(true);
    expect(await cache.hasBlob(digestOf("README.md"))).toBe(false);
    await expect(stat(join(ws, DEST))).rejects.toThrow();
    expect(JSON.parse(await readFile(join(ws, "dpkg.lock"), "utf8")).packages["lab/cells"]).toMatchObject({ digest: published.digest, lazy: true });
  });
});

describe("install from dpkg.lock", () => {
  it("reproduces exactly what the lock pins, also into a fresh workspace and cache", async () => {
    const { ws, run } = await setup();
    await run({ spec: "lab/cells", where: "size < 5" });
    const expected = await tree(join(ws, DEST));
    await rm(join(ws, DEST), { recursive: true, force: true });
    const again = await run();
    expect(again.packages[0]).toMatchObject({ entries: 2, written: 2, fetchedBytes: 0 });
    expect(await tree(join(ws, DEST))).toEqual(expected);

    const other = await setup();
    for (const f of ["dpkg.json", "dpkg.lock"]) await writeFile(join(other.ws, f), await readFile(join(ws, f)));
    await other.run();
    expect(await tree(join(other.ws, DEST))).toEqual(expected);
  });

  it("needs no network when the blobs are cached: a dead registry, or none at all", async () => {
    const { ws, cache, run } = await setup();
    await run({ spec: "lab/cells" });
    await rm(join(ws, DEST), { recursive: true, force: true });
    const dead = new RegistryClient({ url: "http://127.0.0.1:9", attempts: 1 });
    const report = await install({ client: dead, cache, cwd: ws });
    await dead.close();
    expect(report.packages[0]).toMatchObject({ written: 5, fetchedBytes: 0 });
    const offline = await install({ client: null, cache, cwd: ws });
    expect(offline.packages[0]).toMatchObject({ written: 0, unchanged: 5 });
  });

  it("offline: installs a full digest from the cache, and says clearly what is missing", async () => {
    const first = await setup();
    // A lazy install caches the manifest; the subset install then fetches only the images.
    await first.run({ spec: "lab/cells", lazy: true });
    await first.run({ spec: "lab/cells", paths: ["images"] });
    const other = await setup();
    const offline = (o: Partial<InstallOptions>) => install({ client: null, cache: first.cache, cwd: other.ws, ...o });
    await offline({ spec: `lab/cells@${published.digest}`, paths: ["images"] });
    expect(Object.keys(await tree(join(other.ws, DEST))).length).toBe(3);
    const err = await rejectsWith(offline({ spec: `lab/cells@${published.digest}` }), "E_OFFLINE");
    expect(err.message).toContain("not in the cache");
    await rejectsWith(offline({ spec: "lab/cells@v9" }), "E_OFFLINE");
  });

  it("--frozen fails with E_LOCK_MISMATCH naming the package and field", async () => {
    const { ws, run } = await setup();
    await run({ spec: "lab/cells", paths: ["README.md"] });
    const wanted = JSON.parse(await readFile(join(ws, "dpkg.json"), "utf8")) as { packages: Record<string, Record<string, unknown>> };
    const edit = async (change: (p: Record<string, unknown>) => void) => {
      const copy = structuredClone(wanted);
      change(copy.packages["lab/cells"]!);
      await writeFile(join(ws, "dpkg.json"), JSON.stringify(copy));
    };
    await edit((p) => (p.ref = "v2"));
    let err = await rejectsWith(run({ frozen: true }), "E_LOCK_MISMATCH");
    expect(err.message).toMatch(/lab\/cells\.ref.*"v2".*"latest"/);
    await edit((p) => (p.where = "size > 1"));
    err = await rejectsWith(run({ frozen: true }), "E_LOCK_MISMATCH");
    expect(err.message).toContain("lab/cells.where");
    await writeFile(join(ws, "dpkg.json"), '{"packages": {}}');
    err = await rejectsWith(run({ frozen: true }), "E_LOCK_MISMATCH");
    expect(err.message).toContain("not wanted in dpkg.json");
    await writeFile(join(ws, "dpkg.json"), JSON.stringify(wanted));
    expect((await run({ frozen: true })).packages[0]).toMatchObject({ unchanged: 1 });
  });

  it("without --frozen, a changed dpkg.json is resolved again; a dropped package is uninstalled", async () => {
    const { ws, run } = await setup();
    await run({ spec: "lab/cells", paths: ["README.md"] });
    await writeFile(join(ws, "dpkg.json"), JSON.stringify({ packages: { "lab/cells": { ref: "latest", dest: DEST, paths: ["tables"] } } }));
    const report = await run();
    expect(report.packages[0]).toMatchObject({ written: 1, removed: 1 });
    expect(Object.keys(await tree(join(ws, DEST)))).toEqual(["tables/t.csv"]);
    expect(JSON.parse(await readFile(join(ws, "dpkg.lock"), "utf8")).packages["lab/cells"].paths).toEqual(["tables"]);

    // A new dest in dpkg.json moves the files there.
    await writeFile(join(ws, "dpkg.json"), JSON.stringify({ packages: { "lab/cells": { ref: "latest", dest: "vendor/cells", paths: ["tables"] } } }));
    const moved = await run();
    expect(moved.packages[0]).toMatchObject({ dest: "vendor/cells", written: 1 });
    await expect(stat(join(ws, "data"))).rejects.toThrow();
    expect(Object.keys(await tree(join(ws, "vendor/cells")))).toEqual(["tables/t.csv"]);

    await writeFile(join(ws, "dpkg.json"), '{"packages": {}}');
    const dropped = await run();
    expect(dropped.uninstalled).toEqual([{ name: "lab/cells", dest: "vendor/cells", removed: 1, keptModified: [] }]);
    expect(await readdir(ws)).toEqual([".dpkg", "dpkg.json", "dpkg.lock"]);
    expect(JSON.parse(await readFile(join(ws, "dpkg.lock"), "utf8")).packages).toEqual({});
  });
});

describe("install from an S3-backed registry", () => {
  it("reads blobs through presigned ranges and installs them intact", async () => {
    const s3 = await startTestRegistryServer({ store: "s3" });
    const s3client = new RegistryClient({ url: s3.url, token: s3.token });
    try {
      const big = new Uint8Array(5 * 1024 * 1024).map((_, i) => (i * 7) % 251);
      await publish(s3client, PKG, [...FILES, file("big.bin", big)]);
      const { ws, cache } = await setup();
      const report = await install({ client: s3client, cache, cwd: ws, spec: "lab/cells", where: "path != 'README.md'" });
      expect(report.packages[0]).toMatchObject({ entries: 5, written: 5 });
      expect(Buffer.compare(await readFile(join(ws, DEST, "big.bin")), Buffer.from(big))).toBe(0);
      expect(await readFile(join(ws, DEST, "tables/t.csv"), "utf8")).toBe("x,y\n1,2\n");
    } finally {
      await s3client.close();
      await s3.close();
    }
  });
});
