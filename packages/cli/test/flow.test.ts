import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { digestBytes } from "@dpkg/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRegistryServer, type TestRegistryServer } from "../../client/test/helpers/registry-server.js";
import { dpkgUser, type DpkgUser } from "./helpers/run-dpkg.js";

const DIGEST = /blake3:[0-9a-f]{64}/;

async function writeTree(root: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, ".."), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

describe("dpkg as a process: push → ls → install → verify → cat → diff → tag → log → search → update", () => {
  let registry: TestRegistryServer;
  let user: DpkgUser;
  beforeAll(async () => {
    registry = await startTestRegistryServer();
    user = await dpkgUser({ DPKG_REGISTRY: registry.url, DPKG_TOKEN: registry.token });
  });
  afterAll(async () => {
    await user[Symbol.asyncDispose]();
    await registry.close();
  });

  it("pushes a folder with metadata, lists it, and pushing again sends nothing", async () => {
    const src = join(user.home, "src");
    await writeTree(src, {
      "images/a.png": "aaaa",
      "images/b.png": "bbbbbb",
      "labels.csv": "id,label\n1,cat\n2,dog\n",
    });
    await writeFile(
      join(user.home, "meta.json"),
      JSON.stringify({ title: "Zebrafish images", description: "two images and labels" }),
    );
    await writeFile(
      join(user.home, "em.jsonl"),
      [
        { path: "images/a.png", meta: { label: "cat" } },
        { path: "images/b.png", meta: { label: "dog" } },
      ]
        .map((l) => JSON.stringify(l))
        .join("\n") + "\n",
    );

    const pushed = await user.run([
      "push",
      src,
      "lab/images",
      "-m",
      "first",
      "--tag",
      "v1",
      "--meta",
      "../meta.json",
      "--entry-meta",
      "../em.jsonl",
    ]);
    expect(pushed.code, pushed.stderr).toBe(0);
    const [ref, summary] = pushed.stdout.split("\n");
    expect(ref).toMatch(/^lab\/images@blake3:[0-9a-f]{64}$/);
    expect(summary).toMatch(/^pushed 3 files, 31 B; sent 3 blobs \(31 B\)$/);
    expect(pushed.stdout).toContain("tags: ");

    const again = await user.run([
      "push",
      src,
      "lab/images",
      "--meta",
      "../meta.json",
      "--entry-meta",
      "../em.jsonl",
      "--json",
    ]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json()).toMatchObject({ ref, unchanged: true, files: 3, bytesSent: 0, blobsSent: 0 });
    expect(again.stderr).toBe("");

    const ls = await user.run(["ls", "lab/images"]);
    expect(ls.stdout).toBe("images/a.png\nimages/b.png\nlabels.csv\n");
    const long = await user.run(["ls", "lab/images@v1", "--long", "--where", "meta.label = 'cat'"]);
    expect(long.code, long.stderr).toBe(0);
    expect(long.stdout).toMatch(
      /^\s+4 B {2}blake3:[0-9a-f]{12} {2}images\/a\.png {2}\{"label":"cat"\}\n1 entry, 4 B in lab\/images@blake3:/,
    );
    const json = (await user.run(["ls", "lab/images", "--path", "images", "--json"])).json<{
      digest: string;
      entries: { path: string }[];
      totals: unknown;
    }>();
    expect(json.digest).toBe(ref?.split("@")[1]);
    expect(json.entries.map((e) => e.path)).toEqual(["images/a.png", "images/b.png"]);
    expect(json.totals).toEqual({ entries: 2, bytes: 10 });
  });

  it("installs a slice, verifies it, reports every damaged file, and cats an entry", async () => {
    const installed = await user.run(["install", "lab/images", "--path", "images"]);
    expect(installed.code, installed.stderr).toBe(0);
    expect(installed.stdout).toContain("lab/images@blake3:");
    const dest = join(user.workspace, "data", "lab", "images");
    expect(await readFile(join(dest, "images", "a.png"), "utf8")).toBe("aaaa");
    const lock = JSON.parse(await readFile(join(user.workspace, "dpkg.lock"), "utf8")) as {
      packages: Record<string, { digest: string }>;
    };
    expect(lock.packages["lab/images"]?.digest).toMatch(DIGEST);

    const ok = await user.run(["verify"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/lab\/images → data\/lab\/images: 2 files \(10 B\) ok/);

    await rm(join(dest, "images", "a.png"), { force: true });
    await writeFile(join(dest, "images", "a.png"), "tampered");
    await rm(join(dest, "images", "b.png"), { force: true });
    const bad = await user.run(["verify"]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/modified +data\/lab\/images\/images\/a\.png/);
    expect(bad.stdout).toMatch(/missing +data\/lab\/images\/images\/b\.png/);
    expect(bad.stderr).toMatch(/^dpkg: E_INTEGRITY: 2 installed files do not match dpkg\.lock\nhint: /);
    const badJson = await user.run(["verify", "--json"]);
    expect(badJson.code).toBe(1);
    const report = badJson.json<{ ok: boolean; packages: { mismatches: { path: string; problem: string }[] }[] }>();
    expect(report.ok).toBe(false);
    expect(report.packages[0]?.mismatches.map((m) => [m.path, m.problem])).toEqual([
      ["images/a.png", "modified"],
      ["images/b.png", "missing"],
    ]);

    const reinstalled = await user.run(["install"]);
    expect(reinstalled.code, reinstalled.stderr).toBe(0);
    expect((await user.run(["verify", "data/lab/images"])).code).toBe(0);

    const cat = await user.run(["cat", "lab/images", "labels.csv"]);
    expect(cat.code, cat.stderr).toBe(0);
    expect(cat.stdout).toBe("id,label\n1,cat\n2,dog\n");
    const missing = await user.run(["cat", "lab/images", "nope.csv"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("E_NOT_FOUND");
  });

  it("diffs two revisions, tags, logs, searches and updates the pin", async () => {
    const src = join(user.home, "src");
    await writeFile(join(src, "labels.csv"), "id,label\n1,cat\n2,dog\n3,eel\n");
    await rm(join(src, "images", "b.png"));
    await writeTree(src, { "images/c.png": "cccccccc" });
    await writeFile(
      join(user.home, "meta.json"),
      JSON.stringify({ title: "Zebrafish images", description: "three images" }),
    );
    const second = await user.run(["push", src, "lab/images", "-m", "second", "--meta", "../meta.json"]);
    expect(second.code, second.stderr).toBe(0);

    const diff = await user.run(["diff", "lab/images@v1", "latest"]);
    expect(diff.code, diff.stderr).toBe(0);
    const lines = diff.stdout.split("\n");
    expect(lines).toContain('meta ~ description: "two images and labels" → "three images"');
    expect(lines).toContain("M  images/a.png  meta label");
    expect(lines).toContain("D  images/b.png");
    expect(lines).toContain("A  images/c.png  8 B");
    expect(lines).toContain("M  labels.csv  content 21 B → 27 B");
    expect(diff.stdout).toContain("1 added, 1 removed, 2 modified, 0 unchanged; 1 metadata key changed");
    const diffJson = (await user.run(["diff", "lab/images@v1", "lab/images", "--json"])).json<{
      totals: unknown;
      entries: { change: string; path: string }[];
    }>();
    expect(diffJson.totals).toEqual({ added: 1, removed: 1, modified: 2, unchanged: 0 });
    expect(diffJson.entries.map((e) => `${e.change} ${e.path}`)).toEqual([
      "modified images/a.png",
      "removed images/b.png",
      "added images/c.png",
      "modified labels.csv",
    ]);

    const tag = await user.run(["tag", "lab/images@v1", "stable"]);
    expect(tag.code, tag.stderr).toBe(0);
    expect(tag.stdout).toMatch(/^lab\/images@stable → blake3:[0-9a-f]{64} \(new tag\)\n$/);
    const log = await user.run(["log", "lab/images"]);
    expect(log.code, log.stderr).toBe(0);
    expect(log.stdout.match(/^revision blake3:/gm)).toHaveLength(2);
    expect(log.stdout).toMatch(/revision blake3:[0-9a-f]{64} \(latest\)\n/);
    expect(log.stdout).toMatch(/revision blake3:[0-9a-f]{64} \(stable, v1\)\n/);
    expect(log.stdout).toContain("    second");
    const untag = await user.run(["tag", "--delete", "lab/images", "stable", "--json"]);
    expect(untag.json()).toMatchObject({ name: "lab/images", tag: "stable", to: null });

    const search = await user.run(["search", "zebrafish", "--json"]);
    expect(search.json<{ hits: { package: string }[] }>().hits.map((h) => h.package)).toContain("lab/images");
    expect((await user.run(["search", "zebrafish"])).stdout).toContain("lab/images  Zebrafish images — three images");

    const update = await user.run(["update"]);
    expect(update.code, update.stderr).toBe(0);
    expect(update.stdout).toMatch(/^lab\/images: blake3:[0-9a-f]{12} → blake3:[0-9a-f]{12}\n/);
    const dest = join(user.workspace, "data", "lab", "images", "images");
    expect(await readFile(join(dest, "c.png"), "utf8")).toBe("cccccccc");
    expect((await user.run(["verify"])).code).toBe(0);
    expect((await user.run(["update"])).stdout).toContain("everything is up to date");
  });

  it("lists and prunes the cache, keeping what dpkg.lock pins, so the workspace reinstalls offline", async () => {
    const path = await user.run(["cache", "path"]);
    expect(path.stdout).toBe(`${join(user.home, "cache")}
`);
    const listed = (await user.run(["cache", "ls", "--json"])).json<{
      items: { kind: string; digest: string }[];
      totals: { blobs: number; manifests: number };
    }>();
    expect(listed.totals.blobs).toBeGreaterThanOrEqual(3);
    expect(listed.items.filter((i) => i.kind === "manifest").length).toBe(listed.totals.manifests);

    const pruned = await user.run(["cache", "prune", "--json"]);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.json()).toMatchObject({ removed: expect.any(Number) as number, kept: expect.any(Number) as number });
    expect(pruned.json<{ removed: number }>().removed).toBeGreaterThan(0); // v1's manifest and blobs were not pinned

    await rm(join(user.workspace, "data"), { recursive: true });
    const offline = await user.run(["install", "--frozen"], { env: { DPKG_OFFLINE: "1" } });
    expect(offline.code, offline.stderr).toBe(0);
    expect((await user.run(["verify", "-q"], { env: { DPKG_OFFLINE: "1" } })).code).toBe(0);
    const stale = await user.run(["cat", "lab/images@v1", "labels.csv"], { env: { DPKG_OFFLINE: "1" } });
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/^dpkg: E_OFFLINE: /);
  });

  it("cache verify re-hashes the cache and removes a damaged blob, which the next install fetches again", async () => {
    const intact = await user.run(["cache", "verify"]);
    expect(intact.code, intact.stderr).toBe(0);
    expect(intact.stdout).toMatch(/all intact/);

    // Damage the cached copy of an installed file in place, as a failing disk would: same size, other bytes.
    const installed = join(user.workspace, "data", "lab", "images", "images", "c.png");
    const digest = digestBytes(await readFile(installed));
    const hex = digest.slice("blake3:".length);
    const blob = join(user.home, "cache", "blobs", hex.slice(0, 2), hex);
    const bytes = await readFile(blob);
    await chmod(blob, 0o644);
    await writeFile(blob, Buffer.from(bytes.map((b) => b ^ 1)));

    const kept = await user.run(["cache", "verify", "--keep-damaged", "--json"]);
    expect(kept.code).toBe(1);
    expect(kept.json()).toMatchObject({ damaged: [{ kind: "blob", digest }], removed: 0 });
    const found = await user.run(["cache", "verify"]);
    expect(found.code).toBe(1);
    expect(found.stderr).toMatch(/^dpkg: E_INTEGRITY: 1 cached file does not match its digest: removed/);
    expect(found.stdout).toContain(`damaged  blob      ${digest}`);
    expect((await user.run(["cache", "verify"])).code).toBe(0);

    await rm(join(user.workspace, "data"), { recursive: true });
    const again = await user.run(["install"]);
    expect(again.code, again.stderr).toBe(0);
    expect((await user.run(["verify"])).code).toBe(0);
  });
});
