import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFaultProxy, type FaultProxy, type FaultRule } from "../helpers/fault-proxy.js";
import {
  CLEAR_CODES,
  GARBLED_ANSWER_CODES,
  onEachCall,
  REGISTRY_CALLS,
  REGISTRY_UPLOADS,
  runFaultCase,
  type FaultCase,
} from "../helpers/fault-case.js";
import { reportMeasured } from "../helpers/fault-report.js";
import { runRegistryCommand, startRegistry, type RunningRegistry } from "../helpers/registry.js";

const DOWNLOADS = REGISTRY_CALLS.filter((c) => /manifest|objects/.test(c.path.source));
const ANSWERS = REGISTRY_CALLS.filter((c) => !DOWNLOADS.includes(c));

/** Each fault between the client and the registry (folder store), on every kind of call. */
const CASES: FaultCase[] = [
  { name: "dropped connections", rules: onEachCall({ kind: "drop" }, REGISTRY_CALLS, [1, 2]), expect: "success" },
  { name: "delayed answers", rules: [{ fault: { kind: "delay", ms: 150 } }], expect: "success" },
  { name: "HTTP 503", rules: onEachCall({ kind: "status", status: 503 }, REGISTRY_CALLS, [1, 2]), expect: "success" },
  { name: "HTTP 500", rules: onEachCall({ kind: "status", status: 500 }, REGISTRY_CALLS), expect: "success" },
  { name: "truncated responses", rules: onEachCall({ kind: "truncate" }, REGISTRY_CALLS), expect: "success" },
  // Installing a slice, the registry lists the entries: a list cut off is read again from where it broke.
  {
    name: "truncated and dropped entry lists (install --path)",
    selectSmall: true,
    rules: [
      { method: "GET", path: /\/entries\?/, fault: { kind: "truncate", keep: 700 }, requests: [1, 3] },
      { method: "GET", path: /\/entries\?/, fault: { kind: "drop" }, requests: [2] },
    ],
    expect: "success",
  },
  {
    name: "truncated uploads",
    rules: onEachCall({ kind: "truncate", direction: "request" }, REGISTRY_UPLOADS),
    expect: "success",
  },
  // Downloaded bytes are checked against their digests: a flip ends in E_INTEGRITY, never in a wrong file.
  {
    name: "flipped bytes in downloaded manifests and blobs",
    rules: onEachCall({ kind: "flip" }, DOWNLOADS),
    expect: ["E_INTEGRITY"],
  },
  {
    name: "flipped bytes in metadata answers",
    rules: onEachCall({ kind: "flip" }, ANSWERS),
    expect: GARBLED_ANSWER_CODES,
  },
  // A garbled question (which blobs, where) is answered for something else, which the client then cannot use.
  {
    name: "flipped bytes in a read request (locations)",
    rules: onEachCall(
      { kind: "flip", direction: "request" },
      REGISTRY_CALLS.filter((c) => /locations/.test(c.path.source)),
    ),
    expect: GARBLED_ANSWER_CODES,
  },
  // Uploaded bytes are checked by the registry: a flip in any upload is refused, never stored.
  ...REGISTRY_UPLOADS.map((call) => ({
    name: `flipped bytes in uploads (${call.method} ${call.path.source.replace(/\\/g, "")})`,
    rules: onEachCall({ kind: "flip", direction: "request" }, [call]),
    expect: CLEAR_CODES,
  })),
  ...[1, 2, 3].map((seed) => ({
    name: `all of them at random (seed ${seed})`,
    seed,
    rules: [
      { fault: { kind: "drop" }, probability: 0.04 },
      { fault: { kind: "status", status: 503 }, probability: 0.04 },
      { fault: { kind: "status", status: 500 }, probability: 0.04 },
      { fault: { kind: "truncate" }, probability: 0.04 },
      { fault: { kind: "truncate", direction: "request" }, probability: 0.04 },
      { fault: { kind: "flip" }, probability: 0.04 },
      { fault: { kind: "flip", direction: "request" }, probability: 0.04 },
      { fault: { kind: "delay", ms: 50 }, probability: 0.1 },
    ] satisfies FaultRule[],
    expect: GARBLED_ANSWER_CODES,
  })),
];

describe("a fault proxy between the client and the registry", () => {
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  beforeAll(async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy({ upstream: registry.url, seed: 6 });
  });
  afterAll(async () => {
    await proxy?.close();
    await registry?.[Symbol.asyncDispose]();
  });

  for (const [i, c] of CASES.entries()) {
    it(`${c.name}: push and install ${c.expect === "success" ? "succeed after retries" : `succeed or fail with ${c.expect.join("/")}`}, never with wrong data`, async () => {
      proxy.reset();
      const outcome = await runFaultCase(
        { clientUrl: proxy.url, registryUrl: registry.url, token: registry.token, proxy },
        c,
        `net/case-${i}`,
      );
      const faults = proxy.log.filter((r) => r.fault !== null).length;
      if (c.rules.every((r) => r.fault.kind !== "delay")) expect(faults).toBeGreaterThan(0);
      reportMeasured(`client↔registry: ${c.name}`, {
        ...outcome,
        requests: proxy.log.length,
        faults,
        log: process.env.DPKG_FAULT_LOG ? proxy.log : undefined,
      });
    });
  }

  it("left nothing damaged in the store", async () => {
    const verify = await runRegistryCommand(["verify", "--data", registry.dataDir]);
    expect(verify.code, verify.stdout).toBe(0);
  });
});
