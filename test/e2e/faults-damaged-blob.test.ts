import { digestBytes, digestHex, type Digest } from "@dpkg/core";
import { randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  createTestBucket,
  S3RVER_CREDENTIALS,
  startS3rver,
} from "../../packages/registry-server/test/helpers/s3rver.js";
import { makeTempDir } from "../../packages/registry-server/test/helpers/temp-dir.js";
import { dpkgEnv, runDpkg } from "../helpers/dpkg-process.js";
import { reportMeasured } from "../helpers/fault-report.js";
import { pushFolder } from "../helpers/push-folder.js";
import { runRegistryCommand, startRegistry, type RunningRegistry } from "../helpers/registry.js";
import { flipStoredBlob, folderStoreFiles, s3rverFiles, type ObjectFiles } from "../helpers/stored-objects.js";
import { damagedCacheBlobs, digestTree, writeTree } from "../helpers/tree.js";

const MIB = 1024 * 1024;
const S3_ENV = {
  AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
};

/**
 * One byte flipped in a packed blob and in a blob stored as its own object: install refuses each
 * with E_INTEGRITY naming its entry and writes nothing of it, the intact entry still installs, and
 * `dpkg-registry verify` reports both objects.
 */
async function damagedBlobScenario(
  registry: RunningRegistry,
  files: ObjectFiles,
  registryArgs: string[],
  label: string,
): Promise<void> {
  await using home = await makeTempDir("dpkg-damaged");
  const tree = new Map([
    ["good.txt", randomBytes(2000)],
    ["bad/small.txt", randomBytes(3000)],
    ["bad/large.bin", randomBytes(5 * MIB)],
  ]);
  await writeTree(join(home.path, "folder"), tree);
  await pushFolder(registry.url, registry.token, join(home.path, "folder"), "lab/damaged");
  const digestOf = (path: string): Digest => digestBytes(tree.get(path)!);
  const damagedKeys = [
    await flipStoredBlob(files, digestOf("bad/small.txt"), 100),
    await flipStoredBlob(files, digestOf("bad/large.bin"), 4 * MIB),
  ];
  expect(damagedKeys[0]).toMatch(/^packs\//);
  expect(damagedKeys[1]).toMatch(/^blobs\//);

  const env = dpkgEnv({ home: home.path, registry: registry.url, token: registry.token });
  const cache = join(home.path, "cache");
  const refused: Record<string, string> = {};
  for (const path of ["bad/small.txt", "bad/large.bin"]) {
    const install = await runDpkg(["install", "lab/damaged", "--path", path, "--json"], { cwd: home.path, env });
    expect(install.code).toBe(1);
    const error = install.json<{ code: string; message: string; details: { path?: string } }>();
    expect(error.code, install.stdout + install.stderr).toBe("E_INTEGRITY");
    expect(error.details.path).toBe(path);
    expect(error.message).toContain(path);
    refused[path] = error.code;
    // Nothing of it was written: not in the workspace, not in the cache.
    expect(await digestTree(join(home.path, "data"))).toEqual(new Map());
    const hex = digestHex(digestOf(path));
    expect(await readdir(join(cache, "blobs", hex.slice(0, 2))).catch(() => [])).not.toContain(hex);
  }
  const good = await runDpkg(["install", "lab/damaged", "--path", "good.txt"], { cwd: home.path, env });
  expect(good.code, good.stderr).toBe(0);
  expect(await digestTree(join(home.path, "data", "lab", "damaged"))).toEqual(
    new Map([["good.txt", digestOf("good.txt")]]),
  );
  expect((await damagedCacheBlobs(cache)).damaged).toEqual([]);

  const verify = await runRegistryCommand(["verify", "--data", registry.dataDir, ...registryArgs], S3_ENV);
  expect(verify.code, verify.stderr).toBe(1);
  const report = JSON.parse(verify.stdout) as { problems: { kind: string; key: string; expected?: string }[] };
  const mismatches = report.problems.filter((p) => p.kind === "mismatch");
  // The packed blob's own range, the pack as a whole, and the large blob's object.
  expect(mismatches.map((p) => p.key).sort()).toEqual(
    [...new Set(damagedKeys)].flatMap((k) => (k.startsWith("packs/") ? [k, k] : [k])).sort(),
  );
  expect(mismatches.map((p) => p.expected)).toEqual(
    expect.arrayContaining([digestOf("bad/small.txt"), digestOf("bad/large.bin")]),
  );
  reportMeasured(`flipped byte in a stored blob (${label})`, {
    refused,
    verifyProblems: report.problems.map((p) => `${p.kind} ${p.key}`),
  });
}

describe("a flipped byte in a stored blob", () => {
  it("in the folder store: install refuses the entry with E_INTEGRITY, verify reports it", async () => {
    await using registry = await startRegistry();
    await damagedBlobScenario(registry, folderStoreFiles(registry.dataDir), [], "folder store");
  });

  it("in s3rver's folder: install refuses the entry with E_INTEGRITY, verify reports it", async () => {
    // An s3rver of this test's own, to know the folder it keeps objects in.
    const s3 = await startS3rver();
    try {
      const bucket = await createTestBucket(s3.endpoint);
      const args = ["--s3-bucket", bucket, "--s3-endpoint", s3.endpoint, "--s3-prefix", "dpkg"];
      await using registry = await startRegistry({ args, env: S3_ENV });
      await damagedBlobScenario(registry, s3rverFiles(s3.directory, bucket, "dpkg"), args, "s3rver");
    } finally {
      await s3.stop();
    }
  });
});
