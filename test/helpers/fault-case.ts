import { ContentCache, install, push, RegistryClient } from "@dpkg/client";
import { digestBytes, DpkgError, parsePackageName } from "@dpkg/core";
import { join } from "node:path";
import { expect } from "vitest";
import { makeTempDir } from "../../packages/registry-server/test/helpers/temp-dir.js";
import type { Fault, FaultProxy, FaultRule } from "./fault-proxy.js";
import { revisionDigests } from "./registry-reads.js";
import { damagedCacheBlobs, digestTree, randomTree, writeTree, type Tree } from "./tree.js";

/** "ok", "skipped" (an install after a failed push), or the DpkgError code the operation failed with. */
export type Outcome = string;

export interface FaultCase {
  name: string;
  rules: FaultRule[];
  /** Seeds the proxy's generator (probabilistic rules, flip offsets); 1 by default. */
  seed?: number;
  /** Install only the small files (`--path 'd/small-*'`): the registry then lists the entries to install. */
  selectSmall?: boolean;
  /** Must both operations succeed (retries absorb the fault), or may they also fail, with one of these codes? */
  expect: "success" | readonly string[];
}

export interface CaseTarget {
  /** Where the client sends its requests (a proxy, or the registry itself). */
  clientUrl: string;
  /** The registry itself, for checks that must not meet the faults. */
  registryUrl: string;
  token: string;
  /** The proxy the case's rules go to. */
  proxy: FaultProxy;
}

/**
 * One rule per kind of call: the first request of each kind (or the `requests` given) gets the
 * fault, so every call of a push and an install meets it once and must survive it by retrying.
 */
export function onEachCall(
  fault: Fault,
  calls: readonly { method?: string; path: RegExp }[],
  requests: number[] = [1],
): FaultRule[] {
  return calls.map((c) => ({ ...c, fault, requests }));
}

/** The calls a push and an install make to the registry. */
export const REGISTRY_CALLS: readonly { method?: string; path: RegExp }[] = [
  { method: "POST", path: /\/blobs\/missing$/ },
  { method: "PUT", path: /\/blobs\/pack$/ },
  { method: "PUT", path: /\/blobs\/blake3:/ },
  { method: "PUT", path: /\/manifests\// },
  { method: "POST", path: /\/revisions\?/ },
  { method: "GET", path: /\/resolve\// },
  { method: "GET", path: /\/manifest$/ },
  { method: "POST", path: /\/blobs\/locations$/ },
  { method: "GET", path: /^\/v1\/objects\// },
];

/** The requests among them that carry data to store (the rest only ask). */
export const REGISTRY_UPLOADS = REGISTRY_CALLS.filter(
  (c) => c.method === "PUT" || /missing|revisions/.test(c.path.source),
);

/**
 * Codes that say clearly what went wrong when a fault cannot be retried away: bytes that do not
 * hash to their digest, requests the registry refuses. E_INTERNAL ("a bug in dpkg") is never one.
 */
export const CLEAR_CODES = [
  "E_NETWORK",
  "E_UNAVAILABLE",
  "E_INTEGRITY",
  "E_SIZE_MISMATCH",
  "E_BAD_REQUEST",
  "E_BAD_MANIFEST",
  "E_BAD_DIGEST",
  "E_MISSING_BLOBS",
];
/**
 * A flipped byte in a metadata answer (a digest in `resolve` or `missing`, a signed URL) has no
 * digest of its own to be checked against: the next request names something that does not exist.
 */
export const GARBLED_ANSWER_CODES = [...CLEAR_CODES, "E_NOT_FOUND", "E_FORBIDDEN"];

/** The message of the last failure with each code, for assertion messages. */
const messages = new Map<string, string>();

async function attempt(op: () => Promise<unknown>): Promise<Outcome> {
  try {
    await op();
    return "ok";
  } catch (err) {
    // Anything but a DpkgError is a bug: the user would see "unexpected error".
    if (!(err instanceof DpkgError))
      throw new Error(`not a DpkgError: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    messages.set(err.code, err.message);
    return err.code;
  }
}

/**
 * Pushes fresh content (a pack of small files and one large blob) and installs it, both through
 * the case's faults, then checks that nothing wrong was ever stored or installed: a push either
 * committed the revision or left none; an install either wrote exactly the files pushed or failed
 * leaving only correct files and a cache of verified blobs; after a failure, the same operation
 * without faults succeeds with the right bytes.
 */
export async function runFaultCase(
  target: CaseTarget,
  c: FaultCase,
  pkg: string,
): Promise<{ push: Outcome; install: Outcome }> {
  await using home = await makeTempDir("dpkg-fault-case");
  const tree: Tree = randomTree({ small: 12, smallBytes: 2500, large: 1, largeBytes: 5 * 1024 * 1024 });
  const folder = join(home.path, "folder");
  await writeTree(folder, tree);
  const client = new RegistryClient({ url: target.clientUrl, token: target.token });
  const cache = new ContentCache(join(home.path, "cache"));
  const workspace = join(home.path, "work");
  const dest = join(workspace, "data", ...pkg.split("/"));
  try {
    // Reseeded per case, so its random draws (and flip offsets) do not depend on the cases before it.
    target.proxy.setRules(c.rules, { seed: c.seed ?? 1 });
    const pushed = await attempt(() => push({ client, dir: folder, pkg: parsePackageName(pkg) }));
    let installed: Outcome = "skipped";
    const paths = c.selectSmall === true ? ["d/small-*"] : undefined;
    const expected = new Map([...tree].filter(([path]) => paths === undefined || path.startsWith("d/small-")));
    if (pushed === "ok") installed = await attempt(() => install({ client, cache, cwd: workspace, spec: pkg, paths }));
    target.proxy.setRules([]);

    for (const outcome of [pushed, installed]) {
      if (outcome === "ok" || outcome === "skipped") continue;
      expect(c.expect, `${c.name}: failed with ${outcome}: ${messages.get(outcome)}`).not.toBe("success");
      expect(c.expect, `${c.name}: ${outcome}: ${messages.get(outcome)}`).toContain(outcome);
    }
    // A failed push leaves no revision, or (its commit went through, every answer to it was lost) the
    // complete one, which must then install exactly like a successful push.
    const revisions = await revisionDigests(target.registryUrl, target.token, pkg);
    if (pushed === "ok") expect(revisions, `${c.name}: revisions after the push`).toHaveLength(1);
    else expect(revisions.length, `${c.name}: revisions after a push that ended ${pushed}`).toBeLessThanOrEqual(1);
    if (revisions.length === 0) return { push: pushed, install: installed };

    // Never wrong data: whatever an install wrote is right, and every cached blob matches its digest.
    const written = await digestTree(dest);
    for (const [path, digest] of written)
      expect(digestBytes(expected.get(path) ?? new Uint8Array()), `${c.name}: ${path}`).toBe(digest);
    expect((await damagedCacheBlobs(cache.root)).damaged).toEqual([]);
    if (installed !== "ok") {
      const clean = await attempt(() => install({ client, cache, cwd: workspace, spec: pkg, paths }));
      expect(clean, `${c.name}: install without faults after ${installed}`).toBe("ok");
    }
    const final = await digestTree(dest);
    expect(final.size).toBe(expected.size);
    for (const [path, bytes] of expected) expect(final.get(path), `${c.name}: ${path}`).toBe(digestBytes(bytes));
    return { push: pushed, install: installed };
  } finally {
    target.proxy.setRules([]);
    await client.close();
  }
}
