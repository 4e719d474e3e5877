import { ContentCache, install, RegistryClient } from "@dpkg/client";
import { randomBytes } from "node:crypto";
import { open, rm, stat, truncate } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { createTestBucket, S3RVER_CREDENTIALS } from "../../packages/registry-server/test/helpers/s3rver.js";
import { makeTempDir, type TempDir } from "../../packages/registry-server/test/helpers/temp-dir.js";
import { reportMeasured } from "../helpers/fault-report.js";
import { pushFolder } from "../helpers/push-folder.js";
import { runRegistryCommand, startRegistry, type RunningRegistry } from "../helpers/registry.js";
import { revisionDigests } from "../helpers/registry-reads.js";
import { digestTree, randomTree, writeTree } from "../helpers/tree.js";

const S3_ENV = {
  AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
};
const PACKAGES = ["lab/cells", "lab/labels", "other/maps"];

/** Two revisions per package (a tag on the first), in two namespaces. */
async function publishAll(registry: RunningRegistry, home: TempDir): Promise<void> {
  for (const [i, pkg] of PACKAGES.entries()) {
    const folder = join(home.path, pkg);
    const tree = randomTree({
      small: 5 + i,
      smallBytes: 500,
      large: i === 0 ? 1 : 0,
      largeBytes: 4 * 1024 * 1024 + 10,
    });
    await writeTree(folder, tree);
    await pushFolder(registry.url, registry.token, folder, pkg, { message: `first of ${pkg}`, tags: ["v1"] });
    await writeTree(folder, randomTree({ small: 2, smallBytes: 700, prefix: "more" }));
    await pushFolder(registry.url, registry.token, folder, pkg, { message: `second of ${pkg}`, tags: ["prod"] });
  }
}

/** Every answer of the read API about the packages: info, log, tags, refs, and each revision's entries and manifest. */
async function snapshot(registry: RunningRegistry): Promise<Record<string, string>> {
  const get = async (path: string): Promise<string> => {
    const res = await fetch(registry.url + path, { headers: { authorization: `Bearer ${registry.token}` } });
    return `${res.status} ${await res.text()}`;
  };
  const out: Record<string, string> = {};
  for (const pkg of PACKAGES) {
    for (const path of ["", "/revisions", "/tags", "/resolve/v1", "/resolve/prod", "/resolve/latest"])
      out[pkg + path] = await get(`/v1/packages/${pkg}${path}`);
    for (const digest of await revisionDigests(registry.url, registry.token, pkg)) {
      out[`${pkg}@${digest}/entries`] = await get(`/v1/packages/${pkg}/revisions/${digest}/entries`);
      out[`${pkg}@${digest}/manifest`] = await get(`/v1/packages/${pkg}/revisions/${digest}/manifest`);
    }
  }
  out.search = await get("/v1/search?q=lab");
  return out;
}

type Damage = "deleted" | "truncated" | "garbage";

async function damageIndex(dataDir: string, damage: Damage): Promise<void> {
  const file = join(dataDir, "index.sqlite");
  // The registry was stopped cleanly, so the WAL is checkpointed into the main file.
  if (damage === "deleted") {
    for (const side of ["", "-wal", "-shm"]) await rm(file + side, { force: true });
  } else if (damage === "truncated") {
    await truncate(file, Math.floor((await stat(file)).size / 2));
  } else {
    const handle = await open(file, "r+");
    try {
      // Garbage over the header and the first pages, where the schema lives.
      await handle.write(randomBytes(16 * 1024), 0, 16 * 1024, 0);
    } finally {
      await handle.close();
    }
  }
}

async function reindexScenario(damage: Damage, store: { args: string[]; env: NodeJS.ProcessEnv }): Promise<void> {
  await using home = await makeTempDir("dpkg-reindex");
  // Disposed last: after the restarted registry (same data folder), it removes the temp folder.
  await using first = await startRegistry({ args: store.args, env: store.env });
  await publishAll(first, home);
  const before = await snapshot(first);
  expect(await first.stop("SIGTERM")).toBe(0);
  await damageIndex(first.dataDir, damage);

  const rebuilt = await runRegistryCommand(["reindex", "--data", first.dataDir, ...store.args], store.env);
  expect(rebuilt.code, rebuilt.stderr).toBe(0);
  const report = JSON.parse(rebuilt.stdout) as { revisions: number; tags: number; problems: unknown[] };
  expect(report).toMatchObject({ revisions: 2 * PACKAGES.length, tags: 3 * PACKAGES.length, problems: [] });
  const verify = await runRegistryCommand(["verify", "--data", first.dataDir, ...store.args], store.env);
  expect(verify.code, verify.stdout).toBe(0);

  // Tokens live only in the index: the restarted registry makes a new admin token.
  await rm(join(first.dataDir, "admin-token"));
  await using again = await startRegistry({ dataDir: first.dataDir, args: store.args, env: store.env });
  expect(await snapshot(again)).toEqual(before);

  // The blob locations are back too: an install of the newest revision gets every byte, verified.
  const client = new RegistryClient({ url: again.url, token: again.token });
  try {
    await install({ client, cache: new ContentCache(join(home.path, "cache")), cwd: home.path, spec: "lab/cells" });
  } finally {
    await client.close();
  }
  const installed = await digestTree(join(home.path, "data", "lab", "cells"));
  // The first push's five small files and one large, and the two the second push added.
  expect(installed.size).toBe(8);
  reportMeasured(`index ${damage}, reindex (${store.args.length === 0 ? "folder store" : "s3rver"})`, {
    answersCompared: Object.keys(before).length,
    reindex: report,
  });
}

describe("dpkg-registry reindex after the index is lost", () => {
  it("restores every package, revision, tag and entry when index.sqlite is deleted (folder store)", async () => {
    await reindexScenario("deleted", { args: [], env: {} });
  });

  it("restores them when index.sqlite is truncated (folder store)", async () => {
    await reindexScenario("truncated", { args: [], env: {} });
  });

  it("restores them from the bucket when garbage is written over index.sqlite (S3 on s3rver)", async () => {
    const endpoint = inject("s3Endpoint");
    const bucket = await createTestBucket(endpoint);
    await reindexScenario("garbage", {
      args: ["--s3-bucket", bucket, "--s3-endpoint", endpoint, "--s3-prefix", "dpkg"],
      env: S3_ENV,
    });
  });
});
