import { digestBytes } from "@dpkg/core";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir, type TempDir } from "../../packages/registry-server/test/helpers/temp-dir.js";
import { withWorkspaceLock } from "../../packages/client/src/workspace/workspace-lock.js";
import { dpkgEnv, spawnDpkg, type DpkgProcess } from "../helpers/dpkg-process.js";
import { runRegistryCommand, startRegistry, type RunningRegistry } from "../helpers/registry.js";
import { waitUntil } from "../helpers/wait.js";
import { bytesOf, dpkgAgainst, explain, readTree, storedBlobs, writeTree, type Tree } from "./concurrency-fixtures.js";

const PUSHERS = 8;
const INSTALLERS = 4;
/** Over the CLI's and the registry's 4 MiB threshold: sent and stored as an object of its own. */
const LARGE = bytesOf("shared large", 4 * 1024 * 1024 + 1);
// Half the pushers in another namespace: a blob packed for one is granted to the other without a second copy.
const packageOf = (i: number): string => `${i % 2 === 0 ? "lab" : "corp"}/set-${i}`;

/** 60 small files and one large file every pusher has, and 5 small files of its own. */
function overlappingTree(i: number): Tree {
  const tree: Tree = { "big/shared.bin": LARGE };
  for (let f = 0; f < 60; f++) tree[`shared/${f}.bin`] = bytesOf(`shared ${f}`, 100 + f * 37);
  for (let f = 0; f < 5; f++) tree[`own/${f}.txt`] = `pusher ${i} own file ${f}\n`;
  return tree;
}

describe("overlapping content pushed and installed by several processes at once", () => {
  let registry: RunningRegistry;
  let dir: TempDir;
  let dpkg: ReturnType<typeof dpkgAgainst>;
  const trees = Array.from({ length: PUSHERS }, (_, i) => overlappingTree(i));

  beforeAll(async () => {
    registry = await startRegistry();
    dir = await makeTempDir("dpkg-conc-shared");
    dpkg = dpkgAgainst(registry, dir.path);
  });
  afterAll(async () => {
    await registry[Symbol.asyncDispose]();
    await dir.cleanup();
  });

  it("8 processes push overlapping content: every blob is stored exactly once", async () => {
    const srcs = await Promise.all(
      trees.map(async (tree, i) => {
        const src = join(dir.path, "src", String(i));
        await writeTree(src, tree);
        return src;
      }),
    );
    const pushes = await Promise.all(srcs.map((src, i) => dpkg(["push", src, packageOf(i), "--json"])));
    for (const p of pushes) expect(p.code, explain(p)).toBe(0);

    const distinct = new Set(trees.flatMap((t) => Object.values(t).map((bytes) => digestBytes(bytes))));
    expect(distinct.size).toBe(1 + 60 + PUSHERS * 5);
    const { packed, whole } = await storedBlobs(registry.dataDir);
    // Every digest in exactly one place: one pack index entry, or one whole-blob object.
    const places = [...packed, ...whole];
    expect(places.length - new Set(places).size, "blobs stored more than once").toBe(0);
    expect(new Set(places)).toEqual(distinct);
    expect(whole).toEqual([digestBytes(LARGE)]);

    const verify = await runRegistryCommand(["verify", "--data", registry.dataDir]);
    expect(verify.code, verify.stderr).toBe(0);
  });

  it("4 processes install into one shared cache at once: no failure, every cached byte matches its digest", async () => {
    const cache = join(dir.path, "shared-cache");
    const workspaces = Array.from({ length: INSTALLERS }, (_, i) => join(dir.path, "ws", String(i)));
    await Promise.all(workspaces.map((ws) => writeTree(ws, { "README.txt": "a workspace\n" })));
    const env = { DPKG_CACHE_DIR: cache };
    const installs = await Promise.all(
      workspaces.map((ws, i) => dpkg(["install", packageOf(i), "--dest", "data", "--json"], { cwd: ws, env })),
    );
    for (const r of installs) expect(r.code, explain(r)).toBe(0);

    for (const [i, ws] of workspaces.entries()) {
      const installed = await readTree(join(ws, "data"));
      expect([...installed.keys()].sort()).toEqual(Object.keys(trees[i]!).sort());
      for (const [path, bytes] of installed) expect(digestBytes(bytes), path).toBe(digestBytes(trees[i]![path]!));
      const verify = await dpkg(["verify", "--json"], { cwd: ws, env });
      expect(verify.code, explain(verify)).toBe(0);
    }

    // The cache holds each blob and manifest once, under the digest of its bytes, and nothing half-written.
    const cached = await readTree(cache);
    const blobs = [...cached].filter(([path]) => path.startsWith("blobs/"));
    const manifests = [...cached].filter(([path]) => path.startsWith("manifests/"));
    for (const [path, bytes] of [...blobs, ...manifests]) {
      expect(digestBytes(bytes), path).toBe(`blake3:${path.split("/").at(-1)!.replace(/\.jsonl$/, "")}`);
    }
    const wanted = new Set(trees.slice(0, INSTALLERS).flatMap((t) => Object.values(t).map((bytes) => digestBytes(bytes))));
    expect(new Set(blobs.map(([path]) => `blake3:${path.split("/").at(-1)!}`))).toEqual(wanted);
    expect(manifests).toHaveLength(INSTALLERS);
    expect([...cached.keys()].filter((p) => p.startsWith("tmp/") || p.startsWith("partial/"))).toEqual([]);
  });

  it("4 processes install into one workspace at once: they take turns on its lock, and the workspace ends whole", async () => {
    const ws = join(dir.path, "one-ws");
    await writeTree(ws, { "README.txt": "one workspace\n" });
    const installs = await Promise.all(Array.from({ length: INSTALLERS }, () => dpkg(["install", packageOf(0), "--dest", "data", "--json"], { cwd: ws })));
    for (const r of installs) expect(r.code, explain(r)).toBe(0);
    // One wrote the files; the others waited for it, then found them in place.
    const written = installs.map((r) => r.json<{ packages: { written: number }[] }>().packages[0]!.written).sort((a, b) => a - b);
    expect(written).toEqual([0, 0, 0, Object.keys(trees[0]!).length]);
    const installed = await readTree(join(ws, "data"));
    expect([...installed.keys()].sort()).toEqual(Object.keys(trees[0]!).sort());
    const verify = await dpkg(["verify"], { cwd: ws });
    expect(verify.code, explain(verify)).toBe(0);
    const again = await dpkg(["install", "--json"], { cwd: ws });
    expect(again.json<{ packages: { written: number; unchanged: number }[] }>().packages[0]).toMatchObject({ written: 0 });
  });

  it("an install that finds the workspace lock held says it waits, then finishes once the lock is given back", async () => {
    const ws = join(dir.path, "held-ws");
    await writeTree(ws, { "README.txt": "a held workspace\n" });
    const env = dpkgEnv({ home: dir.path, registry: registry.url, token: registry.token });
    let second: DpkgProcess | undefined;
    await withWorkspaceLock(ws, async () => {
      second = spawnDpkg(["install", packageOf(1), "--dest", "data"], { cwd: ws, env });
      let stderr = "";
      second.child.stderr!.on("data", (s: string) => (stderr += s));
      await waitUntil("the waiting note", () => (stderr.includes("waiting for another dpkg working in this workspace") ? true : undefined));
      expect(stderr).toContain(join(ws, ".dpkg", "install.lock"));
      expect(second.child.exitCode).toBeNull(); // still waiting while the lock is held
    });
    const result = await second!.result;
    expect(result.code, result.stderr).toBe(0);
    expect([...(await readTree(join(ws, "data"))).keys()].sort()).toEqual(Object.keys(trees[1]!).sort());
  });
});
