import { fork, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { setImmediate } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Digest } from "@dpkg/core";
import type { MetadataStore, RevisionRecord } from "../../src/metadata/metadata-store.js";
import { openSqliteMetadataStore, type SqliteMetadataStore } from "../../src/metadata/sqlite/sqlite-metadata-store.js";
import { entry, push, rejection } from "../contract/metadata-store/fixtures.js";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.js";

const race = { namespace: "lab", name: "race" };
/** Commits per process in the cross-process race. */
const COUNT = 100;
const child = (name: string): string => fileURLToPath(new URL(`child/${name}`, import.meta.url));

/** Every revision, checked to form one unbroken parent chain from `latest` back to the first commit. */
async function chain(store: MetadataStore): Promise<RevisionRecord[]> {
  const all = await store.listRevisions(race, { limit: 10_000 });
  const byDigest = new Map(all.map((r) => [r.digest, r]));
  expect(byDigest.size).toBe(all.length);
  const walked: RevisionRecord[] = [];
  let at: Digest | null | undefined = (await store.getPackage(race))?.tags.latest;
  while (at !== null && at !== undefined) {
    const revision = byDigest.get(at);
    if (revision === undefined) throw new Error(`parent ${at} is not a revision`);
    walked.push(revision);
    at = revision.parent;
  }
  expect(walked).toHaveLength(all.length);
  return walked;
}

/** Resolves with the first message of `wanted` from the child; rejects on anything else or an early exit. */
function message(proc: ChildProcess, wanted: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown): void => {
      proc.off("exit", onExit);
      proc.off("message", onMessage);
      if (m === wanted) resolve();
      else reject(new Error(`child said ${String(m)}, expected ${wanted}`));
    };
    const onExit = (code: number | null): void => {
      proc.off("message", onMessage);
      reject(new Error(`child exited with ${code} before saying ${wanted}`));
    };
    proc.on("message", onMessage);
    proc.once("exit", onExit);
  });
}

describe("SqliteMetadataStore: concurrent writers on one file", () => {
  let dir: TempDir;
  let file: string;
  const opened: SqliteMetadataStore[] = [];
  const open = (): SqliteMetadataStore => {
    const store = openSqliteMetadataStore(file);
    opened.push(store);
    return store;
  };
  beforeEach(async () => {
    dir = await makeTempDir("dpkg-sqlite-race");
    file = join(dir.path, "index.sqlite");
  });
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
    await dir.cleanup();
  });

  it("serializes commits from two connections: none lost, each on top of the one before", async () => {
    const stores = [open(), open()];
    const pushes = Array.from({ length: 20 }, (_, i) => {
      const store = stores[i % 2];
      if (store === undefined) throw new Error("unreachable");
      return push(store, race, [entry(`f${i}.txt`)]);
    });
    const results = await Promise.all(pushes);
    expect(results.every((r) => !r.unchanged)).toBe(true);
    expect(await chain(stores[0] as MetadataStore)).toHaveLength(20);
    expect(await stores[1]?.integrityCheck()).toEqual([]);
  });

  it("checks expectParent against the other connection's commit", async () => {
    const [a, b] = [open(), open()];
    const first = await push(a, race, [entry("one")]);
    await push(b, race, [entry("two")], { expectParent: first.revision.digest });
    const err = await rejection(push(a, race, [entry("three")], { expectParent: first.revision.digest }), "E_CONFLICT");
    expect(err.message).toContain(first.revision.digest);
  });

  it("waits for another process's write transaction instead of failing", async () => {
    const store = open();
    await push(store, race, [entry("before")]);
    const holder = fork(child("lock-holder.mjs"), [file, "300"], { stdio: "inherit" });
    await message(holder, "locked");
    // The holder still has the write lock: this commit blocks on the busy timeout until it commits.
    const result = await push(store, race, [entry("while locked")]);
    expect(result.unchanged).toBe(false);
    expect(await store.listPublicNamespaces()).toEqual([]);
    expect(store.db.prepare("SELECT count(*) FROM namespaces WHERE name = 'lock-holder'").pluck().get()).toBe(1);
    await message(holder, "released");
  });

  it("serializes commits from another process: none lost", { timeout: 60_000 }, async () => {
    const store = open();
    await push(store, race, [entry("seed")]);
    const proc = fork(child("commit-race.mjs"), [file, "child", String(COUNT)], {
      execArgv: ["--import", child("register-ts.mjs")],
      stdio: "inherit",
    });
    await message(proc, "ready");
    const finished = message(proc, "done");
    proc.send("go");
    for (let i = 0; i < COUNT; i++) {
      await push(store, race, [entry(`parent/${i}.txt`)]);
      // A turn of the event loop between commits, as a server has, so that the two processes interleave.
      await setImmediate();
    }
    await finished;
    const revisions = await chain(store);
    expect(revisions).toHaveLength(2 * COUNT + 1);
    expect(revisions.filter((r) => r.author === "child")).toHaveLength(COUNT);
    expect(await store.integrityCheck()).toEqual([]);
  });
});
