import { digestBytes, digestHex } from "@dpkg/core";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeTempDir } from "../../packages/registry-server/test/helpers/temp-dir.js";
import { dpkgEnv, runDpkg, spawnDpkg } from "../helpers/dpkg-process.js";
import { startFaultProxy } from "../helpers/fault-proxy.js";
import { reportMeasured } from "../helpers/fault-report.js";
import { pushFolder } from "../helpers/push-folder.js";
import { startRegistry } from "../helpers/registry.js";
import { damagedCacheBlobs, digestFile, digestTree, randomTree, writeTree } from "../helpers/tree.js";
import { waitUntil } from "../helpers/wait.js";

const MIB = 1024 * 1024;
/** The client reads large blobs in ranges of this size, and records each one done in a sidecar. */
const RANGE = 8 * MIB;

describe("kill -9 of dpkg install in the middle of a large download", () => {
  it("resumes from the ranges already fetched, ends with verified files, and never caches unverified bytes", async () => {
    await using registry = await startRegistry();
    await using home = await makeTempDir("dpkg-kill-install");
    const big = randomBytes(64 * MIB);
    const small = randomBytes(3000);
    const digest = digestBytes(big);
    await writeTree(
      join(home.path, "folder"),
      new Map([
        ["big.bin", big],
        ["small.txt", small],
      ]),
    );
    await pushFolder(registry.url, registry.token, join(home.path, "folder"), "lab/big");

    // The registry serves the bytes through a proxy that paces them, so the kill lands mid-download.
    await using proxy = await startFaultProxy({ upstream: registry.url });
    const env = dpkgEnv({ home: home.path, registry: proxy.url, token: registry.token });
    const cache = join(home.path, "cache");
    const sidecar = join(cache, "partial", `${digestHex(digest)}.json`);
    proxy.setRate(16 * MIB);
    // --concurrency 2: two ranges at a time, so some finish while others have not begun.
    const first = spawnDpkg(["install", "lab/big", "--concurrency", "2"], { cwd: home.path, env });
    const doneAtKill = await waitUntil("three ranges done", async () => {
      const text = await readFile(sidecar, "utf8").catch(() => null);
      const done = text === null ? [] : (JSON.parse(text) as { done: number[] }).done;
      return done.length >= 3 ? done.length : undefined;
    });
    const killed = await first.kill();
    expect(killed.signal).toBe("SIGKILL");
    const firstRunBytes = proxy.bytes.response;

    // Killed: the blob is not in the cache, nothing of it was installed, and every cached blob verifies.
    const afterKill = await damagedCacheBlobs(cache);
    expect(afterKill.damaged).toEqual([]);
    expect(await readdir(join(cache, "blobs", digestHex(digest).slice(0, 2))).catch(() => [])).not.toContain(
      digestHex(digest),
    );
    expect(await readdir(join(home.path, "data", "lab", "big")).catch(() => [])).toEqual([]);

    proxy.reset();
    proxy.setRate(null);
    const second = await runDpkg(["install", "lab/big", "--json"], { cwd: home.path, env });
    expect(second.code, second.stdout + second.stderr).toBe(0);
    const objectBytes = proxy.log
      .filter((r) => r.path.startsWith("/v1/objects/"))
      .reduce((n, r) => n + r.responseBytes, 0);
    const report = second.json<{ packages: { fetchedBytes: number }[] }>();
    // The second run reads only the ranges the first one had not finished.
    expect(objectBytes).toBeLessThanOrEqual(big.byteLength - doneAtKill * RANGE);
    expect(report.packages[0]!.fetchedBytes).toBeLessThanOrEqual(big.byteLength - doneAtKill * RANGE);

    expect((await digestFile(join(home.path, "data", "lab", "big", "big.bin"))).digest).toBe(digest);
    expect((await digestFile(join(home.path, "data", "lab", "big", "small.txt"))).digest).toBe(digestBytes(small));
    const verify = await runDpkg(["verify"], { cwd: home.path, env });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const atEnd = await damagedCacheBlobs(cache);
    expect(atEnd).toEqual({ checked: 2, damaged: [] });
    expect(await readdir(join(cache, "partial"))).toEqual([]);
    reportMeasured("kill -9 of dpkg install mid-download", {
      blobBytes: big.byteLength,
      rangesDoneAtKill: doneAtKill,
      firstRunProxiedBytes: firstRunBytes,
      secondRunObjectBytes: objectBytes,
      secondRunFetchedBytes: report.packages[0]!.fetchedBytes,
    });
  });
});

describe("kill -9 of dpkg install while it places files", () => {
  it("leaves files the next install knows as its own: it finishes without a conflict, and leaves no temp files", async () => {
    await using registry = await startRegistry();
    await using home = await makeTempDir("dpkg-kill-place");
    const tree = randomTree({ small: 2000, smallBytes: 2000 });
    await writeTree(join(home.path, "folder"), tree);
    await pushFolder(registry.url, registry.token, join(home.path, "folder"), "lab/many");
    const env = dpkgEnv({ home: home.path, registry: registry.url, token: registry.token });
    const dest = join(home.path, "data", "lab", "many", "d");

    // Every blob is cached first (by an install in another workspace, same cache); the kill then lands
    // while files are being created, one at a time.
    await mkdir(join(home.path, "other"));
    const warm = await runDpkg(["install", "lab/many"], { cwd: join(home.path, "other"), env });
    expect(warm.code, warm.stderr).toBe(0);
    let placedAtKill = 0;
    for (let attempt = 0; attempt < 5 && (placedAtKill === 0 || placedAtKill === tree.size); attempt++) {
      const first = spawnDpkg(["install", "lab/many", "--concurrency", "1"], { cwd: home.path, env });
      placedAtKill = await waitUntil("the first placed file", async () => {
        const n = (await readdir(dest).catch(() => [])).length;
        return n > 0 ? n : undefined;
      }, { intervalMs: 1 });
      await first.kill();
    }
    expect(placedAtKill, "the kill landed while files were being placed").toBeLessThan(tree.size);

    const second = await runDpkg(["install", "lab/many", "--json"], { cwd: home.path, env });
    expect(second.code, second.stdout + second.stderr).toBe(0);
    const installed = await digestTree(dest);
    expect(installed.size).toBe(tree.size);
    for (const [path, bytes] of tree) expect(installed.get(path.slice("d/".length)), path).toBe(digestBytes(bytes));
    expect((await readdir(dest)).filter((name) => name.startsWith("."))).toEqual([]);
    const verify = await runDpkg(["verify"], { cwd: home.path, env });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    reportMeasured("kill -9 of dpkg install while placing files", { files: tree.size, placedAtKill });
  });
});
