import { digestBytes } from "@dpkg/core";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tarOf } from "../../packages/registry-server/test/helpers/push-data.js";
import { makeTempDir, type TempDir } from "../../packages/registry-server/test/helpers/temp-dir.js";
import { runRegistryCommand, startRegistry, type RunningRegistry } from "../helpers/registry.js";
import { bytesOf, dpkgAgainst, explain, logOf, readTree, writeTree, type Tree } from "./concurrency-fixtures.js";

const ROUNDS = 3;
const PUSHERS_PER_ROUND = 3;
/** Bounds the gc loop of one round whatever happens (each run is a process start, about a second here). */
const MAX_GC_RUNS_PER_ROUND = 15;

interface GcRun {
  code: number | null;
  deleted: string[];
}

/** `dpkg-registry gc --delete --grace 0s` again and again, until `done` says stop. */
async function gcLoop(dataDir: string, done: () => boolean): Promise<GcRun[]> {
  const runs: GcRun[] = [];
  while (!done() && runs.length < MAX_GC_RUNS_PER_ROUND) {
    const r = await runRegistryCommand(["gc", "--delete", "--grace", "0s", "--data", dataDir]);
    const report = r.code === 0 ? (JSON.parse(r.stdout) as { garbage: { key: string }[] }) : { garbage: [] };
    runs.push({ code: r.code, deleted: report.garbage.map((g) => g.key) });
    if (r.code !== 0) throw new Error(`gc failed: ${r.stderr}`);
  }
  return runs;
}

describe("dpkg-registry gc --delete --grace 0s in a loop while CLI processes push", () => {
  let registry: RunningRegistry;
  let dir: TempDir;
  let dpkg: ReturnType<typeof dpkgAgainst>;
  /** Every tree pushed, by the digest of its revision. */
  const pushed = new Map<string, Tree>();

  beforeAll(async () => {
    registry = await startRegistry();
    dir = await makeTempDir("dpkg-conc-gc");
    dpkg = dpkgAgainst(registry, dir.path);
  });
  afterAll(async () => {
    await registry[Symbol.asyncDispose]();
    await dir.cleanup();
  });

  /** Uploads blobs without committing them, as a push that died before its commit leaves them: garbage. */
  async function abandonUpload(blobs: Uint8Array[]): Promise<void> {
    const res = await fetch(`${registry.url}/v1/packages/lab/gc/blobs/pack`, {
      method: "PUT",
      headers: { authorization: `Bearer ${registry.token}`, "content-type": "application/x-tar" },
      body: await tarOf(blobs),
    });
    expect(res.status).toBe(200);
  }

  it("never deletes a blob a push then commits: every push succeeds, verify is clean, every revision installs", async () => {
    const gcRuns: GcRun[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Blobs the pushers of this round will find already stored, and gc will find unreferenced:
      // whichever comes first, nothing may end up referencing a deleted object.
      const bait: Record<string, Uint8Array> = {};
      for (let f = 0; f < 10; f++) bait[`bait/${f}.bin`] = bytesOf(`round ${round} bait ${f}`, 200 + f);
      await abandonUpload(Object.values(bait));
      await abandonUpload([bytesOf(`round ${round} pure garbage`, 300)]); // a pack of its own: no push keeps it

      const trees = Array.from({ length: PUSHERS_PER_ROUND }, (_, i): Tree => {
        const tree: Tree = { ...bait, "common.txt": "in every revision\n" };
        for (let f = 0; f < 5; f++) tree[`own/${f}.txt`] = `round ${round} pusher ${i} file ${f}\n`;
        // Sent after the push found the bait stored: gc has that long to take the bait away.
        tree["own/large.bin"] = bytesOf(`round ${round} pusher ${i} large`, 8 * 1024 * 1024);
        return tree;
      });
      const srcs = await Promise.all(
        trees.map(async (tree, i) => {
          const src = join(dir.path, "src", `${round}-${i}`);
          await writeTree(src, tree);
          return src;
        }),
      );
      let pushing = true;
      const loop = gcLoop(registry.dataDir, () => !pushing);
      const pushes = await Promise.all(srcs.map((src) => dpkg(["push", src, "lab/gc", "--json"])));
      pushing = false;
      gcRuns.push(...(await loop));
      for (const [i, p] of pushes.entries()) {
        expect(p.code, explain(p)).toBe(0);
        pushed.set(p.json<{ digest: string }>().digest, trees[i]!);
      }
    }
    expect(gcRuns.every((r) => r.code === 0)).toBe(true);
    // gc did delete while pushes ran (at least each round's pure garbage).
    expect(gcRuns.reduce((n, r) => n + r.deleted.length, 0)).toBeGreaterThan(0);

    // Once more with nothing running: whatever is unreferenced now goes; nothing a revision needs may.
    expect((await runRegistryCommand(["gc", "--delete", "--grace", "0s", "--data", registry.dataDir])).code).toBe(0);
    const verify = await runRegistryCommand(["verify", "--data", registry.dataDir]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);

    const log = await logOf(dpkg, "lab/gc");
    expect(new Set(log.map((r) => r.digest))).toEqual(new Set(pushed.keys()));
    const revisions = [...pushed];
    for (let i = 0; i < revisions.length; i += 4) {
      await Promise.all(
        revisions.slice(i, i + 4).map(async ([digest, tree], j) => {
          // A workspace each: installs running at once must not share a dpkg.lock.
          const workspace = join(dir.path, "installed", String(i + j));
          await mkdir(workspace, { recursive: true });
          const r = await dpkg(["install", `lab/gc@${digest}`, "--dest", "data", "--json"], { cwd: workspace });
          expect(r.code, explain(r)).toBe(0);
          const files = await readTree(join(workspace, "data"));
          expect([...files.keys()].sort()).toEqual(Object.keys(tree).sort());
          for (const [path, bytes] of files) expect(digestBytes(bytes), path).toBe(digestBytes(tree[path]!));
        }),
      );
    }
  });
});
