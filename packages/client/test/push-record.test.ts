import { digestBytes } from "@dpkg/core";
import { mkdir, readFile, readdir, realpath, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir, type TempDir } from "../../registry-server/test/helpers/temp-dir.js";
import { ContentCache } from "../src/cache/content-cache.js";
import { push } from "../src/push/push.js";
import { PushRecord } from "../src/push/push-record.js";
import { walkFolder } from "../src/push/walk.js";
import { RegistryClient } from "../src/registry-client.js";
import { startTestRegistryServer, type TestRegistryServer } from "./helpers/registry-server.js";

const MIB = 1024 * 1024;
/** A whole second, so that setting an mtime back gives exactly the recorded value. */
const ROUND_TIME = new Date("2026-01-01T00:00:00Z");
const PKG = { namespace: "lab", name: "again" };

function bytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 1024) out[i] = (i / 1024 + seed) & 0xff;
  return out;
}

async function manifestOf(client: RegistryClient, digest: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of client.entries(PKG, digest as `blake3:${string}`)) out.set(e.path, e.digest);
  return out;
}

/** Timestamps this close to a push are re-read by the next one (push-record.ts): the test waits past them. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 2100));

describe("push: files unchanged since the last push of the folder are not read again", () => {
  let reg: TestRegistryServer;
  let client: RegistryClient;
  let tmp: TempDir;
  let dir: string;
  let cache: ContentCache;
  const files: Record<string, Uint8Array> = {
    "a.txt": bytes(3000, 1),
    "b.txt": bytes(3000, 2),
    "same.txt": bytes(3000, 2), // the content of b.txt again: one blob, two entries
    "big.bin": bytes(5 * MIB, 3), // over the pack threshold: the large-file lane
  };

  beforeAll(async () => {
    reg = await startTestRegistryServer();
    client = new RegistryClient({ url: reg.url, token: reg.token });
    tmp = await makeTempDir("dpkg-push-record");
    dir = join(tmp.path, "data");
    await mkdir(dir);
    for (const [path, content] of Object.entries(files)) {
      await writeFile(join(dir, path), content);
      await utimes(join(dir, path), ROUND_TIME, ROUND_TIME);
    }
    cache = new ContentCache(join(tmp.path, "cache"));
    await settle();
  });
  afterAll(async () => {
    await client.close();
    await reg.close();
    await tmp.cleanup();
  });

  it("reuses what the first push read, re-reads exactly the files whose inode, size, mtime or ctime moved", async () => {
    const first = await push({ client, dir, pkg: PKG, cache });
    expect(first.filesReused).toBe(0);
    expect(await readdir(join(cache.root, "pushed"))).toHaveLength(1);

    const second = await push({ client, dir, pkg: PKG, cache });
    expect(second).toMatchObject({ digest: first.digest, unchanged: true, filesReused: 4, blobsSent: 0 });

    // New bytes of the same size, and the mtime set back: the ctime still moved, so it is read again.
    const was = await stat(join(dir, "a.txt"));
    await writeFile(join(dir, "a.txt"), bytes(3000, 9));
    await utimes(join(dir, "a.txt"), ROUND_TIME, ROUND_TIME);
    expect((await stat(join(dir, "a.txt"))).mtimeMs).toBe(was.mtimeMs);
    const third = await push({ client, dir, pkg: PKG, cache });
    expect(third.digest).not.toBe(first.digest);
    expect(third).toMatchObject({ filesReused: 3, blobsSent: 1 });
    expect((await manifestOf(client, third.digest)).get("a.txt")).toBe(digestBytes(bytes(3000, 9)));

    // Changed moments ago: its stamp is too close to the walk that recorded it to be trusted next time.
    const fourth = await push({ client, dir, pkg: PKG, cache });
    expect(fourth).toMatchObject({ digest: third.digest, filesReused: 3, blobsSent: 0 });
    await settle();
    const fifth = await push({ client, dir, pkg: PKG, cache });
    expect(fifth).toMatchObject({ digest: third.digest, filesReused: 3 }); // recorded by a walk right after the change
    await settle();
    expect(await push({ client, dir, pkg: PKG, cache })).toMatchObject({ digest: third.digest, filesReused: 4 });
  });

  it("reads and sends a file the record vouches for when the registry lacks its blob", async () => {
    const other = await startTestRegistryServer();
    const otherClient = new RegistryClient({ url: other.url, token: other.token });
    try {
      const report = await push({ client: otherClient, dir, pkg: PKG, cache });
      // Everything is vouched for, nothing is stored there: every distinct blob is read and sent.
      expect(report).toMatchObject({ filesReused: 0, blobsSent: 3 });
      const entries = await manifestOf(otherClient, report.digest);
      expect(entries.get("big.bin")).toBe(digestBytes(files["big.bin"]!));
      expect(entries.get("same.txt")).toBe(digestBytes(files["b.txt"]!));
    } finally {
      await otherClient.close();
      await other.close();
    }
  });

  it("vouches for each unchanged file once: a path asked about is forgotten (a push asks once per path)", async () => {
    await push({ client, dir, pkg: PKG, cache }); // the files last changed more than 2 s before it
    const record = await PushRecord.load(cache.root, await realpath(dir));
    for (const file of await walkFolder(dir)) {
      expect(record.takeDigest(file), file.path).toBe(digestBytes(await readFile(join(dir, file.path))));
      expect(record.takeDigest(file), file.path).toBeUndefined();
    }
  });

  it("ignores a damaged record and reads everything", async () => {
    const [record] = await readdir(join(cache.root, "pushed"));
    await writeFile(join(cache.root, "pushed", record!), "not json\n{]\n");
    const report = await push({ client, dir, pkg: PKG, cache });
    expect(report.filesReused).toBe(0);
    expect((await push({ client, dir, pkg: PKG, cache })).filesReused).toBeGreaterThan(0);
  });
});
