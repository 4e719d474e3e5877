import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir, type TempDir } from "../../packages/registry-server/test/helpers/temp-dir.js";
import { runRegistryCommand, startRegistry, type RunningRegistry } from "../helpers/registry.js";
import { dpkgAgainst, errorCode, explain, logOf, writeTree, type Tree } from "./concurrency-fixtures.js";

const PUSHERS = 8;

/** Folders that share nothing: pusher i's files name and hold i. */
function distinctTree(i: number, label: string): Tree {
  const tree: Tree = {};
  for (let f = 0; f < 10; f++) tree[`part-${f}.txt`] = `${label} pusher ${i} file ${f}\n`;
  return tree;
}

describe("8 CLI processes pushing to one package at the same moment", () => {
  let registry: RunningRegistry;
  let dir: TempDir;
  let dpkg: ReturnType<typeof dpkgAgainst>;

  beforeAll(async () => {
    registry = await startRegistry();
    dir = await makeTempDir("dpkg-conc-push");
    dpkg = dpkgAgainst(registry, dir.path);
  });
  afterAll(async () => {
    await registry[Symbol.asyncDispose]();
    await dir.cleanup();
  });

  async function folders(label: string): Promise<string[]> {
    return Promise.all(
      Array.from({ length: PUSHERS }, async (_, i) => {
        const src = join(dir.path, label, String(i));
        await writeTree(src, distinctTree(i, label));
        return src;
      }),
    );
  }

  it("records 8 revisions, loses none, and the log's parent chain runs through all of them", async () => {
    const srcs = await folders("plain");
    const pushes = await Promise.all(srcs.map((src, i) => dpkg(["push", src, "lab/conc", "-m", `pusher ${i}`, "--json"])));
    for (const p of pushes) expect(p.code, explain(p)).toBe(0);
    const pushed = pushes.map((p) => p.json<{ digest: string; unchanged: boolean }>());
    expect(pushed.every((p) => !p.unchanged)).toBe(true);
    const digests = new Set(pushed.map((p) => p.digest));
    expect(digests.size).toBe(PUSHERS);

    const log = await logOf(dpkg, "lab/conc");
    expect(new Set(log.map((r) => r.digest))).toEqual(digests);
    expect(new Set(log.map((r) => r.message))).toEqual(new Set(srcs.map((_, i) => `pusher ${i}`)));
    // Commits are serialized: each one's parent is the revision committed just before it, so walking
    // parents from latest visits every revision once and ends at the first, which has none.
    const byDigest = new Map(log.map((r) => [r.digest, r]));
    const chain: string[] = [];
    for (let at: string | null = log[0]!.digest; at !== null && chain.length <= PUSHERS; at = byDigest.get(at)?.parent ?? null) chain.push(at);
    expect(chain).toHaveLength(PUSHERS);
    expect(new Set(chain)).toEqual(digests);
    expect(byDigest.get(chain.at(-1)!)!.parent).toBeNull();
    const info = await dpkg(["ls", "lab/conc", "--json"]);
    expect(info.code, explain(info)).toBe(0);
  });

  it("with --expect-parent set to the same parent, exactly one wins and 7 get E_CONFLICT (exit 1)", async () => {
    const base = join(dir.path, "base");
    await writeTree(base, { "base.txt": "the common parent\n" });
    const first = await dpkg(["push", base, "lab/race", "--json"]);
    expect(first.code, explain(first)).toBe(0);
    const parent = first.json<{ digest: string }>().digest;

    const srcs = await folders("race");
    const pushes = await Promise.all(srcs.map((src) => dpkg(["push", src, "lab/race", "--expect-parent", parent, "--json"])));
    const winners = pushes.filter((p) => p.code === 0);
    const losers = pushes.filter((p) => p.code !== 0);
    expect(winners, pushes.map(explain).join("\n---\n")).toHaveLength(1);
    expect(losers.map((p) => [p.code, errorCode(p)])).toEqual(Array.from({ length: PUSHERS - 1 }, () => [1, "E_CONFLICT"]));

    // Only the winner became visible, on top of the parent they all expected.
    const winner = winners[0]!.json<{ digest: string }>().digest;
    const log = await logOf(dpkg, "lab/race");
    expect(log.map((r) => [r.digest, r.parent])).toEqual([
      [winner, parent],
      [parent, null],
    ]);
    const verify = await runRegistryCommand(["verify", "--data", registry.dataDir]);
    expect(verify.code, verify.stderr).toBe(0);
  });
});
