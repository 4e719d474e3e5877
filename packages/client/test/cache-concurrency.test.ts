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

function runWriter(root: string, from: number, to: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", register, writer, root, String(from), String(to)], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`cache writer exited with ${code}: ${stderr}`))));
  });
}

describe("ContentCache: several processes at once", () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await makeTempDir("dpkg-cache-race");
  });
  afterEach(() => dir.cleanup());

  it("4 child processes and 4 async writers in this one write overlapping blobs without corruption or failure", async () => {
    const root = join(dir.path, "cache");
    const cache = new ContentCache(root);
    // Ranges overlap: every blob is written by at least two processes, most by three or more.
    const children = [runWriter(root, 0, 120), runWriter(root, 40, 160), runWriter(root, 80, 200), runWriter(root, 0, 200)];
    const local = order(0, 200, 7);
    let next = 0;
    const writers = Array.from({ length: 4 }, async () => {
      while (next < local.length) {
        const { digest, bytes } = blob(local[next++]!);
        await cache.putBlob(digest, bytes.length, (async function* () {
          yield bytes.subarray(0, bytes.length >> 1);
          yield bytes.subarray(bytes.length >> 1);
        })());
      }
    });
    await Promise.all([...children, ...writers]);

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
