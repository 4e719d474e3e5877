import { digestBytes, isDpkgError, type Digest, type ManifestEntry } from "@dpkg/core";
import { execFileSync } from "node:child_process";
import { symlink } from "node:fs/promises";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { push, type PushProgress } from "../src/push/push.js";
import { RegistryClient } from "../src/registry-client.js";
import type { TempDir } from "../../registry-server/test/helpers/temp-dir.js";
import { useRegistryAndFolder } from "./helpers/registry-fixture.js";
import { bigBytes, collect as all, writeTree } from "./helpers/test-utils.js";

const MIB = 1024 * 1024;

describe("push", () => {
  const fixture = useRegistryAndFolder("dpkg-push");
  let client: RegistryClient;
  let tmp: TempDir;
  let dir: string;
  beforeEach(() => void ({ client, tmp, dir } = fixture));

  it("pushes a folder: nested non-ASCII names, empty files, a large file, metadata; skips what it must", async () => {
    const large = bigBytes(5 * MIB, 1);
    await writeTree(dir, {
      "images/chat-été.png": "cat pixels",
      "images/dog.png": "dog pixels",
      "images/dup.png": "dog pixels", // same content: one blob, two entries
      "日本/データ.csv": "a,b\n1,2\n",
      "empty.txt": "",
      "sub/empty-too.txt": "",
      "big/volume.bin": large,
      "scratch/tmp.bin": "excluded",
      "notes.tmp": "excluded",
    });
    await writeTree(tmp.path, { "outside/secret.txt": "never pushed" });
    await symlink(join(tmp.path, "outside", "secret.txt"), join(dir, "secret-link.txt"));
    execFileSync("mkfifo", [join(dir, "fifo")]);
    const warnings: string[] = [];
    const phases = new Set<PushProgress["phase"]>();
    const report = await push({
      client,
      dir,
      pkg: { namespace: "lab", name: "full" },
      message: "first",
      tags: ["v1"],
      meta: { title: "Full test", description: "everything at once" },
      entryMeta: new Map([
        ["images/chat-été.png", { label: "cat", score: 0.9 }],
        ["images/dog.png", { label: "dog", score: 0.5 }],
      ]),
      exclude: ["scratch", "*.tmp"],
      onProgress: (p) => phases.add(p.phase),
      warn: (m) => warnings.push(m),
    });

    const texts = ["cat pixels", "dog pixels", "a,b\n1,2\n", ""].map((t) => new TextEncoder().encode(t));
    const sentBytes = texts.reduce((n, t) => n + t.length, 0) + large.length;
    expect(report).toMatchObject({ unchanged: false, files: 7, bytes: sentBytes + "dog pixels".length, bytesSent: sentBytes, blobsSent: 5, caseCollisions: [] });
    expect(report.ref).toBe(`lab/full@${report.digest}`);
    expect(report.tags).toEqual(expect.arrayContaining(["v1", "latest"]));
    expect([...phases]).toEqual(["hash", "upload", "commit"]);
    expect(warnings.some((w) => w.includes("secret-link.txt") && w.includes("outside the folder"))).toBe(true);
    expect(warnings.some((w) => w.includes("FIFO"))).toBe(true);

    const pkg = { namespace: "lab", name: "full" };
    expect(await client.resolve(pkg, "v1")).toBe(report.digest);
    const entries = await all(client.entries(pkg, report.digest));
    expect(entries.map((e) => e.path)).toEqual([
      "big/volume.bin",
      "empty.txt",
      "images/chat-été.png",
      "images/dog.png",
      "images/dup.png",
      "sub/empty-too.txt",
      "日本/データ.csv",
    ]);
    const byPath = new Map<string, ManifestEntry>(entries.map((e) => [e.path, e]));
    expect(byPath.get("big/volume.bin")).toEqual({ path: "big/volume.bin", size: large.length, digest: digestBytes(large) });
    expect(byPath.get("images/dup.png")?.digest).toBe(byPath.get("images/dog.png")?.digest);
    const cats = await all(client.entries(pkg, report.digest, { where: "meta.label = 'cat' AND meta.score > 0.8" }));
    expect(cats).toEqual([{ path: "images/chat-été.png", size: 10, digest: digestBytes("cat pixels"), meta: { label: "cat", score: 0.9 } }]);
    const info = await client.packageInfo(pkg);
    expect(info.meta).toEqual({ title: "Full test", description: "everything at once" });
    expect(info.latest?.message).toBe("first");
    expect(await client.missing(pkg, entries.map((e) => e.digest))).toEqual([]);
  });

  it("a second push of the same folder sends nothing and records nothing", async () => {
    await writeTree(dir, { "a.txt": "a", "b/c.bin": bigBytes(5 * MIB, 2) });
    const pkg = { namespace: "lab", name: "again" };
    const first = await push({ client, dir, pkg });
    expect(first.bytesSent).toBe(1 + 5 * MIB);
    const second = await push({ client, dir, pkg });
    expect(second).toMatchObject({ digest: first.digest, unchanged: true, bytesSent: 0, blobsSent: 0, files: 2 });
    expect(await client.log(pkg)).toHaveLength(1);
  });

  it("reports paths that differ only in case, without failing", async () => {
    await writeTree(dir, { "Data/x.csv": "1", "data/y.csv": "2", "README.md": "r", "readme.md": "r" });
    const warnings: string[] = [];
    const report = await push({ client, dir, pkg: { namespace: "lab", name: "cases" }, warn: (m) => warnings.push(m) });
    expect(report.caseCollisions).toEqual([["Data", "data"], ["README.md", "readme.md"]]);
    expect(report.files).toBe(4);
    expect(warnings.filter((w) => w.includes("differ only in case"))).toHaveLength(2);
  });

  it("refuses entry metadata for a path that is not pushed, before sending anything", async () => {
    await writeTree(dir, { "a.txt": "only in badmeta", "b.tmp": "b" });
    const pkg = { namespace: "badmeta", name: "x" };
    const err = await push({ client, dir, pkg, exclude: ["*.tmp"], entryMeta: new Map([["b.tmp", { k: 1 }]]) }).catch((e: unknown) => e);
    expect(isDpkgError(err, "E_BAD_REQUEST")).toBe(true);
    expect((err as Error).message).toContain('"b.tmp"');
    const digest: Digest = digestBytes("only in badmeta");
    expect(await client.missing(pkg, [digest])).toEqual([digest]);
  });

  it("refuses a bad tag or package meta before reading the folder", async () => {
    const pkg = { namespace: "lab", name: "args" };
    const missingDir = join(dir, "does-not-exist");
    expect(isDpkgError(await push({ client, dir: missingDir, pkg, tags: ["not a tag"] }).catch((e: unknown) => e), "E_BAD_TAG")).toBe(true);
    const badMeta = { n: Number.NaN };
    expect(isDpkgError(await push({ client, dir: missingDir, pkg, meta: badMeta }).catch((e: unknown) => e), "E_BAD_JSON")).toBe(true);
  });

  it("pushes an empty folder as an empty revision, with a warning", async () => {
    const warnings: string[] = [];
    const report = await push({ client, dir, pkg: { namespace: "lab", name: "empty" }, warn: (m) => warnings.push(m) });
    expect(report).toMatchObject({ files: 0, bytes: 0, bytesSent: 0 });
    expect(warnings[0]).toMatch(/no files to push/);
  });
});
