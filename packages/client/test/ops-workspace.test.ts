import { digestBytes } from "@dpkg/core";
import { mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir, type TempDir } from "../../registry-server/test/helpers/temp-dir.js";
import { ContentCache } from "../src/cache/content-cache.js";
import { cacheListing, parseAge, pinnedDigests, pruneCacheForWorkspace } from "../src/ops/cache-commands.js";
import { openEntry } from "../src/ops/cat.js";
import { verifyWorkspace } from "../src/ops/verify-workspace.js";
import { RegistryClient } from "../src/registry-client.js";
import { writeLockfile } from "../src/workspace/lockfile.js";
import { file, publish, type Published } from "./helpers/publish.js";
import { startTestRegistryServer, type TestRegistryServer } from "./helpers/registry-server.js";

const files = [file("img/a.bin", "alpha", { label: "a" }), file("img/b.bin", "beta"), file("notes.txt", "notes")];

describe("workspace operations: verify and cache", () => {
  let registry: TestRegistryServer;
  let client: RegistryClient;
  let tmp: TempDir;
  let cache: ContentCache;
  let ws: string;
  let published: Published;
  beforeAll(async () => {
    registry = await startTestRegistryServer();
    client = new RegistryClient({ url: registry.url, token: registry.token });
    tmp = await makeTempDir("dpkg-ops-ws");
    cache = new ContentCache(join(tmp.path, "cache"));
    ws = join(tmp.path, "ws");
    published = await publish(client, { namespace: "lab", name: "w" }, files);
    // A workspace as an install leaves it: the lock pins a slice, the files are in place.
    await mkdir(join(ws, "data", "img"), { recursive: true });
    await writeFile(join(ws, "data", "img", "a.bin"), "alpha");
    await writeFile(join(ws, "data", "img", "b.bin"), "beta");
    await writeFile(
      join(ws, "dpkg.json"),
      JSON.stringify({ packages: { "lab/w": { ref: "latest", dest: "data", paths: ["img"] } } }),
    );
    await writeLockfile(ws, {
      lockfileVersion: 1,
      registry: registry.url,
      packages: { "lab/w": { ref: "latest", dest: "data", paths: ["img"], digest: published.digest, link: "copy" } },
    });
  });
  afterAll(async () => {
    await client.close();
    await registry.close();
    await tmp.cleanup();
  });

  it("verifies installed files and reports every mismatch, from the registry or the cache", async () => {
    const clean = await verifyWorkspace({ cwd: join(ws, "data"), cache, client });
    expect(clean).toMatchObject({
      root: ws,
      ok: true,
      packages: [{ name: "lab/w", digest: published.digest, dest: "data", files: 2, bytes: 9, mismatches: [] }],
    });

    await writeFile(join(ws, "data", "img", "a.bin"), "ALPHA");
    await rm(join(ws, "data", "img", "b.bin"));
    await mkdir(join(ws, "data", "img", "b.bin"));
    // Offline: the manifest is in the cache since the first run.
    const bad = await verifyWorkspace({ cwd: ws, cache, client: null });
    expect(bad.ok).toBe(false);
    expect(bad.packages[0]?.mismatches).toEqual([
      {
        path: "img/a.bin",
        file: "data/img/a.bin",
        problem: "modified",
        expected: { digest: digestBytes("alpha"), size: 5 },
        actual: { digest: digestBytes("ALPHA"), size: 5 },
      },
      {
        path: "img/b.bin",
        file: "data/img/b.bin",
        problem: "not-a-file",
        expected: { digest: digestBytes("beta"), size: 4 },
      },
    ]);
    await rm(join(ws, "data", "img", "b.bin"), { recursive: true });
    await symlink(join(ws, "data", "img", "a.bin"), join(ws, "data", "img", "b.bin"));
    expect(
      (await verifyWorkspace({ cwd: ws, cache, client: null })).packages[0]?.mismatches.map((m) => m.problem),
    ).toEqual(["modified", "not-a-file"]);

    // A folder in the workspace narrows the check to what lies in it.
    await rm(join(ws, "data", "img", "b.bin"));
    await writeFile(join(ws, "data", "img", "a.bin"), "alpha");
    const narrowed = await verifyWorkspace({ cwd: ws, dir: "data/img/a.bin", cache, client: null });
    expect(narrowed).toMatchObject({ ok: true, packages: [{ files: 1 }] });
    await writeFile(join(ws, "data", "img", "b.bin"), "beta");

    const empty = await makeTempDir("dpkg-ops-empty");
    await expect(verifyWorkspace({ cwd: empty.path, cache, client })).rejects.toMatchObject({ code: "E_NOT_FOUND" });
    await empty.cleanup();
  });

  it("lists the cache with totals and prunes all but what the workspace pins", async () => {
    for (const path of ["img/a.bin", "notes.txt"]) {
      for await (const _ of (await openEntry(client, cache, "lab/w", path)).bytes) {
        // fetched into the cache
      }
    }
    await publish(client, { namespace: "lab", name: "other" }, [file("x.txt", "unpinned")]);
    for await (const _ of (await openEntry(client, cache, "lab/other", "x.txt")).bytes) {
      // fetched into the cache
    }
    const listing = cacheListing(cache);
    const items = [];
    for await (const item of listing.items) items.push(item);
    // cat reads through the registry's entry index; only verify cached a manifest (lab/w's).
    expect(listing.totals()).toMatchObject({ blobs: 3, blobBytes: 18, manifests: 1 });
    expect(items.map((i) => i.digest)).toEqual(expect.arrayContaining([digestBytes("unpinned"), published.digest]));

    const pinned = await pinnedDigests(cache, ws);
    expect(pinned.has(published.digest) && pinned.has(digestBytes("alpha")) && pinned.has(digestBytes("notes"))).toBe(
      true,
    );
    const result = await pruneCacheForWorkspace(cache, { cwd: join(ws, "data") });
    expect(result).toMatchObject({ removed: 1, bytes: expect.any(Number) as number, kept: 4 });
    expect(await cache.hasBlob(digestBytes("unpinned"))).toBe(false);
    expect(await cache.hasBlob(digestBytes("alpha"))).toBe(true);
    expect((await pruneCacheForWorkspace(cache, { olderThan: new Date(Date.now() - 3_600_000) })).removed).toBe(0);
  });

  it("parses ages with units", () => {
    expect(parseAge("30d")).toBe(30 * 86_400_000);
    expect(parseAge("1.5h")).toBe(5_400_000);
    expect(parseAge("0")).toBe(0);
    expect(() => parseAge("30")).toThrow(/not an age/);
  });
});
