import { digestBytes } from "@dpkg/core";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeTempDir } from "../../packages/registry-server/test/helpers/temp-dir.js";
import { dpkgEnv, runDpkg, spawnDpkg } from "../helpers/dpkg-process.js";
import { startFaultProxy, type FaultProxy } from "../helpers/fault-proxy.js";
import { grantedBlobsNow, inspectIndex, stagedRowsNow } from "../helpers/index-db.js";
import { reportMeasured } from "../helpers/fault-report.js";
import { runRegistryCommand, startRegistry, type RunningRegistry } from "../helpers/registry.js";
import { entryDigests, revisionDigests } from "../helpers/registry-reads.js";
import { digestTree, randomTree, treeBytes, writeTree, type Tree } from "../helpers/tree.js";
import { waitUntil } from "../helpers/wait.js";

const MIB = 1024 * 1024;
const ENTRIES = 6_000;
/** A manifest line of the commit test: {"digest":"blake3:<64>","path":"d/f-00000.bin","size":16} and a newline. */
const ENTRY_LINE_BYTES = '{"digest":"blake3:","path":"d/f-00000.bin","size":16}'.length + 64 + 1;

/**
 * After a `kill -9` of the registry: the index passes SQLite's checks and the registry's own
 * (`dpkg-registry verify`), and shows no revision. Returns the registry restarted on the same data,
 * with the proxy pointed at it.
 */
async function afterCrash(registry: RunningRegistry, proxy: FaultProxy, pkg: string): Promise<RunningRegistry> {
  const state = inspectIndex(registry.dataDir);
  expect(state.problems).toEqual([]);
  expect(state.revisions).toBe(0);
  const verified = await runRegistryCommand(["verify", "--data", registry.dataDir]);
  expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  const restarted = await startRegistry({ dataDir: registry.dataDir });
  proxy.setUpstream(restarted.url);
  expect(await revisionDigests(restarted.url, restarted.token, pkg)).toEqual([]);
  return restarted;
}

function expectEntries(listed: Map<string, string>, tree: Tree): void {
  expect(listed.size).toBe(tree.size);
  for (const [path, bytes] of tree) expect(listed.get(path), path).toBe(digestBytes(bytes));
}

describe("kill -9 of the registry", () => {
  it("in the middle of an upload: the index stays sound, nothing is visible, the retried push completes", async () => {
    // Disposed last: after the restarted registry (same data folder), it removes the temp folder.
    await using registry = await startRegistry();
    await using proxy = await startFaultProxy({ upstream: registry.url });
    await using home = await makeTempDir("dpkg-kill-registry");
    const tree = randomTree({ small: 20, smallBytes: 2000, large: 3, largeBytes: 6 * MIB });
    const folder = join(home.path, "folder");
    await writeTree(folder, tree);
    const env = dpkgEnv({ home: home.path, registry: proxy.url, token: registry.token });

    proxy.setRate(6 * MIB);
    const push = spawnDpkg(["push", folder, "lab/upload", "--json", "--concurrency", "2"], { cwd: home.path, env });
    // One large blob through, the next one half way.
    await waitUntil("9 MiB uploaded", () => (proxy.bytes.request >= 9 * MIB ? true : undefined));
    expect(await registry.stop("SIGKILL")).toBe(null);
    const proxiedBeforeKill = proxy.bytes.request;
    const failed = await push.result;
    expect(failed.code, failed.stdout).toBe(1);
    expect(failed.errorCode, failed.stdout).toBe("E_NETWORK");

    await using restarted = await afterCrash(registry, proxy, "lab/upload");
    proxy.setRate(null);
    const retried = await runDpkg(["push", folder, "lab/upload", "--json"], { cwd: home.path, env });
    expect(retried.code, retried.stderr).toBe(0);
    const report = retried.json<{ digest: string; bytesSent: number }>();
    // The blob stored before the crash is not sent again.
    expect(report.bytesSent).toBeLessThanOrEqual(treeBytes(tree) - 6 * MIB);
    expect(await revisionDigests(restarted.url, restarted.token, "lab/upload")).toEqual([report.digest]);

    reportMeasured("kill -9 of the registry mid-upload", {
      totalBytes: treeBytes(tree),
      proxiedBeforeKill,
      cliError: failed.errorCode,
      rerunBytesSent: report.bytesSent,
    });
    const install = await runDpkg(["install", "lab/upload"], { cwd: home.path, env });
    expect(install.code, install.stderr).toBe(0);
    const installed = await digestTree(join(home.path, "data", "lab", "upload"));
    expectEntries(installed, tree);
  });

  it("in the middle of a commit: staged rows of the crashed commit stay invisible, the retried push completes", async () => {
    await using registry = await startRegistry();
    await using proxy = await startFaultProxy({ upstream: registry.url });
    await using home = await makeTempDir("dpkg-kill-commit");
    // 6,000 entries (one blob: the same bytes in every file): the registry stages a manifest in
    // batches of 5,000 rows while it streams in, so the first batch is in the index mid-commit.
    const same = randomBytes(16);
    const tree: Tree = new Map(
      Array.from({ length: ENTRIES }, (_, i) => [`d/f-${String(i).padStart(5, "0")}.bin`, same]),
    );
    const folder = join(home.path, "folder");
    await writeTree(folder, tree);
    const env = dpkgEnv({ home: home.path, registry: proxy.url, token: registry.token });

    // The manifest streams at full speed up to about entry 5,200, then trickles. It travels when the
    // push stages it (PUT .../manifests/DIGEST); a push whose staging failed sends it with the commit.
    proxy.setRules([
      {
        method: "PUT",
        path: /\/manifests\//,
        fault: { kind: "slow", bytesPerSecond: 20_000, direction: "request", after: 5_200 * ENTRY_LINE_BYTES },
      },
    ]);
    const push = spawnDpkg(["push", folder, "lab/commit", "--json"], { cwd: home.path, env });
    // The manifest is staged while the blob may still be on its way: wait for both, so that the retry
    // below finds the blob stored.
    const staged = await waitUntil(
      "staged rows of the manifest, and the blob stored",
      () => {
        try {
          const n = stagedRowsNow(registry.dataDir);
          return n > 0 && grantedBlobsNow(registry.dataDir) > 0 ? n : undefined;
        } catch {
          return undefined; // the index is still being created
        }
      },
      { timeoutMs: 90_000, intervalMs: 25 },
    );
    expect(await registry.stop("SIGKILL")).toBe(null);
    const failed = await push.result;
    expect(failed.code).toBe(1);
    expect(failed.errorCode, failed.stdout).toBe("E_NETWORK");
    const crashed = inspectIndex(registry.dataDir);
    expect(crashed.incompleteManifests).toBe(1);
    expect(crashed.stagedRows).toBeGreaterThanOrEqual(staged);
    expect(crashed.stagedRows).toBeLessThan(ENTRIES);

    await using restarted = await afterCrash(registry, proxy, "lab/commit");
    proxy.setRules([]);
    const retried = await runDpkg(["push", folder, "lab/commit", "--json"], { cwd: home.path, env });
    expect(retried.code, retried.stderr).toBe(0);
    const report = retried.json<{ digest: string; bytesSent: number }>();
    // The one blob was stored before the crash: the retry only commits.
    expect(report.bytesSent).toBe(0);
    expect(await revisionDigests(restarted.url, restarted.token, "lab/commit")).toEqual([report.digest]);
    expectEntries(await entryDigests(restarted.url, restarted.token, "lab/commit", report.digest), tree);
    reportMeasured("kill -9 of the registry mid-commit", {
      entries: ENTRIES,
      stagedRowsAtKill: crashed.stagedRows,
      cliError: failed.errorCode,
      rerunBytesSent: report.bytesSent,
    });
    await restarted.stop();
    expect(inspectIndex(registry.dataDir)).toMatchObject({ problems: [], revisions: 1, incompleteManifests: 0 });
  });
});
