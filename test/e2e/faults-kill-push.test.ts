import { digestBytes } from "@dpkg/core";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeTempDir } from "../../packages/registry-server/test/helpers/temp-dir.js";
import { dpkgEnv, runDpkg, spawnDpkg } from "../helpers/dpkg-process.js";
import { startFaultProxy } from "../helpers/fault-proxy.js";
import { reportMeasured } from "../helpers/fault-report.js";
import { startRegistry } from "../helpers/registry.js";
import { digestTree, randomTree, treeBytes, writeTree } from "../helpers/tree.js";
import { observe, waitUntil } from "../helpers/wait.js";

const MIB = 1024 * 1024;

/** Large blobs the folder store holds (`<data>/blobs/blobs/<hex[0:2]>/<hex>`). */
async function storedLargeBlobs(dataDir: string): Promise<string[]> {
  const root = join(dataDir, "blobs", "blobs");
  const found = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return found.filter((e) => e.isFile()).map((e) => e.name);
}

describe("kill -9 of the CLI in the middle of a push", () => {
  it("leaves no revision visible, and the re-run sends only what is missing", async () => {
    await using registry = await startRegistry();
    // The CLI talks to the registry through a proxy that paces uploads, so the kill lands mid-push.
    await using proxy = await startFaultProxy({ upstream: registry.url });
    await using home = await makeTempDir("dpkg-kill-push");
    const tree = randomTree({ small: 40, smallBytes: 3000, large: 5, largeBytes: 5 * MIB });
    const folder = join(home.path, "folder");
    await writeTree(folder, tree);
    const env = dpkgEnv({ home: home.path, registry: proxy.url, token: registry.token });
    const total = treeBytes(tree);

    // What anyone reading the package sees while the pushes run: its revisions, polled directly.
    const revisions = async (): Promise<string[]> => {
      const res = await fetch(`${registry.url}/v1/packages/lab/killed/revisions`, {
        headers: { authorization: `Bearer ${registry.token}` },
      });
      if (res.status === 404) return [];
      expect(res.status).toBe(200);
      return ((await res.json()) as { revisions: { digest: string }[] }).revisions.map((r) => r.digest);
    };

    proxy.setRate(6 * MIB);
    const watcher = observe(revisions);
    // --concurrency 2: one upload at a time, large blobs first, each in its own request.
    const first = spawnDpkg(["push", folder, "lab/killed", "--json", "--concurrency", "2"], { cwd: home.path, env });
    const storedBeforeKill = await waitUntil("two large blobs stored", async () => {
      const stored = await storedLargeBlobs(registry.dataDir);
      return stored.length >= 2 ? stored.length : undefined;
    });
    const killed = await first.kill();
    const seenDuringFirst = await watcher.stop();
    expect(killed.signal).toBe("SIGKILL");
    expect(seenDuringFirst.length).toBeGreaterThan(0);
    expect(seenDuringFirst.every((r) => r.length === 0)).toBe(true);
    expect(await revisions()).toEqual([]);
    const sentBeforeKill = proxy.bytes.request;
    expect(sentBeforeKill).toBeLessThan(total);

    proxy.setRate(null);
    const secondWatcher = observe(revisions);
    const second = await runDpkg(["push", folder, "lab/killed", "--json"], { cwd: home.path, env });
    const seenDuringSecond = await secondWatcher.stop();
    expect(second.code, second.stderr).toBe(0);
    const report = second.json<{
      digest: string;
      bytes: number;
      bytesSent: number;
      blobsSent: number;
      files: number;
    }>();
    expect(report.bytes).toBe(total);
    expect(report.files).toBe(tree.size);
    // The blobs stored before the kill are not sent again.
    expect(report.bytesSent).toBeLessThanOrEqual(total - storedBeforeKill * 5 * MIB);
    expect(report.blobsSent).toBeLessThanOrEqual(tree.size - storedBeforeKill);
    // The only revision anyone ever saw is the complete one, and only once it was committed.
    for (const seen of seenDuringSecond) expect(seen.every((d) => d === report.digest)).toBe(true);
    expect(await revisions()).toEqual([report.digest]);

    const install = await runDpkg(["install", "lab/killed", "--json"], {
      cwd: home.path,
      env: { ...env, DPKG_REGISTRY: registry.url },
    });
    expect(install.code, install.stderr).toBe(0);
    const installed = await digestTree(join(home.path, "data", "lab", "killed"));
    expect(installed.size).toBe(tree.size);
    for (const [path, bytes] of tree) expect(installed.get(path), path).toBe(digestBytes(bytes));
    reportMeasured("kill -9 of the CLI mid-push", {
      totalBytes: total,
      proxiedBeforeKill: sentBeforeKill,
      largeBlobsStoredBeforeKill: storedBeforeKill,
      rerunBytesSent: report.bytesSent,
      rerunBlobsSent: report.blobsSent,
      logPolls: seenDuringFirst.length + seenDuringSecond.length,
    });
  });
});
