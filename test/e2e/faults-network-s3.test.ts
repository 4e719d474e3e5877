import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTestBucket, S3RVER_CREDENTIALS } from "../../packages/registry-server/test/helpers/s3rver.js";
import { GARBLED_ANSWER_CODES, onEachCall, runFaultCase, type FaultCase } from "../helpers/fault-case.js";
import { startFaultProxy, type FaultProxy, type FaultRule } from "../helpers/fault-proxy.js";
import { reportMeasured } from "../helpers/fault-report.js";
import { runRegistryCommand, startRegistry, type RunningRegistry } from "../helpers/registry.js";

const S3_ENV = {
  AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
};

/**
 * What a push and an install ask of S3, through the proxy: the registry's HEADs before writing, its
 * writes of blobs, packs, manifests and records, its reads of manifests, and the client's reads of
 * blobs and packs through presigned URLs (which name the proxy, as the registry's S3 endpoint).
 */
const S3_CALLS = [
  { method: "HEAD", path: /./ },
  { method: "PUT", path: /\/blobs\// },
  { method: "PUT", path: /\/packs\// },
  { method: "PUT", path: /\/manifests\// },
  { method: "PUT", path: /\/refs\// },
  { method: "GET", path: /\/manifests\// },
  { method: "GET", path: /\/(blobs|packs)\// },
];
const S3_READS = S3_CALLS.filter((c) => c.method === "GET");
const S3_WRITES = S3_CALLS.filter((c) => c.method === "PUT");

/**
 * Each fault between the registry and S3 (s3rver). Not here: flipped bytes in uploads to S3. Real
 * S3 refuses a body that does not match its signed SHA-256 (x-amz-content-sha256); s3rver does not
 * check it, so a test against s3rver could only show s3rver storing what it was sent.
 */
const CASES: FaultCase[] = [
  { name: "dropped connections", rules: onEachCall({ kind: "drop" }, S3_CALLS, [1, 2]), expect: "success" },
  { name: "delayed answers", rules: [{ fault: { kind: "delay", ms: 150 } }], expect: "success" },
  { name: "HTTP 503", rules: onEachCall({ kind: "status", status: 503 }, S3_CALLS, [1, 2]), expect: "success" },
  { name: "HTTP 500", rules: onEachCall({ kind: "status", status: 500 }, S3_CALLS), expect: "success" },
  { name: "truncated responses", rules: onEachCall({ kind: "truncate" }, S3_READS), expect: "success" },
  {
    name: "truncated uploads",
    rules: onEachCall({ kind: "truncate", direction: "request" }, S3_WRITES),
    expect: "success",
  },
  // Every attempt of the registry's S3 client cut: s3rver keeps the partial object, which the
  // client's retry of the upload must replace rather than trust.
  {
    name: "truncated uploads, all of the registry's attempts",
    rules: onEachCall(
      { kind: "truncate", direction: "request" },
      S3_WRITES.filter((c) => /blobs|packs/.test(c.path.source)),
      [1, 2, 3],
    ),
    expect: "success",
  },
  { name: "flipped bytes in downloads", rules: onEachCall({ kind: "flip" }, S3_READS), expect: ["E_INTEGRITY"] },
  ...[1, 2, 3].map((seed) => ({
    name: `all of them at random (seed ${seed})`,
    seed,
    rules: [
      { fault: { kind: "drop" }, probability: 0.05 },
      { fault: { kind: "status", status: 503 }, probability: 0.05 },
      { fault: { kind: "status", status: 500 }, probability: 0.05 },
      { fault: { kind: "truncate" }, probability: 0.05 },
      { fault: { kind: "truncate", direction: "request" }, probability: 0.05 },
      { fault: { kind: "flip" }, method: "GET", probability: 0.05 },
      { fault: { kind: "delay", ms: 50 }, probability: 0.1 },
    ] satisfies FaultRule[],
    expect: GARBLED_ANSWER_CODES,
  })),
];

describe("a fault proxy between the registry and S3", () => {
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  let storeArgs: string[];
  beforeAll(async () => {
    const endpoint = inject("s3Endpoint");
    const bucket = await createTestBucket(endpoint);
    proxy = await startFaultProxy({ upstream: endpoint });
    storeArgs = ["--s3-bucket", bucket, "--s3-prefix", "dpkg"];
    registry = await startRegistry({ args: [...storeArgs, "--s3-endpoint", proxy.url], env: S3_ENV });
  });
  afterAll(async () => {
    await registry?.[Symbol.asyncDispose]();
    await proxy?.close();
  });

  for (const [i, c] of CASES.entries()) {
    it(`${c.name}: push and install ${c.expect === "success" ? "succeed after retries" : `succeed or fail with ${c.expect.join("/")}`}, never with wrong data`, async () => {
      proxy.reset();
      const outcome = await runFaultCase(
        { clientUrl: registry.url, registryUrl: registry.url, token: registry.token, proxy },
        c,
        `s3/case-${i}`,
      );
      const faults = proxy.log.filter((r) => r.fault !== null).length;
      expect(faults).toBeGreaterThan(0);
      reportMeasured(`registry↔S3: ${c.name}`, {
        ...outcome,
        requests: proxy.log.length,
        faults,
        log: process.env.DPKG_FAULT_LOG ? proxy.log : undefined,
      });
    });
  }

  it("left nothing damaged in the bucket", async () => {
    const verify = await runRegistryCommand(
      ["verify", "--data", registry.dataDir, ...storeArgs, "--s3-endpoint", inject("s3Endpoint")],
      S3_ENV,
    );
    expect(verify.code, verify.stdout).toBe(0);
  });
});
