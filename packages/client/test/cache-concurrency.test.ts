import { digestBytes } from "@dpkg/core";
import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ContentCache } from "../src/cache/content-cache.js";
import { makeTempDir, type TempDir } from "../../registry-server/test/helpers/temp-dir.js";
// Plain ESM (typed by its .d.mts), shared with the child processes, which run without a TypeScript step.
import { blobOf as blob, shuffled as order } from "./helpers/cache-race-data.mjs";

const register = fileURLToPath(new URL("../../registry-server/test/metadata/child/register-ts.mjs", import.meta.url));
const writer = fileURLToPath(new URL("./helpers/cache-writer-child.mjs", import.meta.url));

interface Writer {
  ready: Promise<void>;
  go(): Promise<void>;
}

/** A child process that loads the cache code, then writes its blobs when told to, so that all writers start together. */
function startWriter(root: string, from: number, to: number): Writer {
  const child = spawn(process.execPath, ["--import", register, writer, root, String(from), String(to)], { stdio: ["ignore", "ignore", "pipe", "ipc"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<never>((_, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`cache writer exited with ${code}: ${stderr}`)));
  });
  const said = (word: string): Promise<void> =>
    Promise.race([new Promise<void>((resolve) => child.on("message", (m) => m === word && resolve())), exited]);
  const ready = said("ready");
  const done = said("done");
  return {
    ready,
    async go() {
      child.send("go");
      await done;
    },
  };
}

describe("ContentCache: several processes at once", () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await makeTempDir("dpkg-cache-race");
  });
  afterEach(() => dir.cleanup());

  it("2 child processes and 4 async writers in this one write overlapping blobs at once, without corruption or failure", async () => {
    const root = join(dir.path, "cache");
    const cache = new ContentCache(root);
    // Ranges overlap: every blob is written by this process and at least one child, most by all three.
    const children = [startWriter(root, 0, 140), startWriter(root, 60, 200)];
    await Promise.all(children.map((c) => c.ready));
    const local = order(0, 200, 7);
    let next = 0;
    const writers = Array.from({ length: 4 }, async () => {
      while (next < local.length) {
        const { digest, bytes } = blob(local[next++]!);
        await cache.putBlob(digest, bytes.length, (async function* () {
          yield bytes.subarray(0, bytes.length >> 1);
          await new Promise((r) => setImmediate(r));
          yield bytes.subarray(bytes.length >> 1);
        })());
      }
    });
    await Promise.all([...children.map((c) => c.go()), ...writers]);

    const names: string[] = [];
    for (const shard of await readdir(join(root, "blobs"))) names.push(...(await readdir(join(root, "blobs", shard))));
    expect(names).toHaveLength(200);
    for (let i = 0; i < 200; i++) {
      const { digest, bytes } = blob(i);
      const stored = await readFile(cache.blobPath(digest));
      expect(stored.length).toBe(bytes.length);
      expect(digestBytes(stored)).toBe(digest);
    }
    expect(await readdir(cache.tmpDir)).toEqual([]);
  });
});
