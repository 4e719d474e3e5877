import { digestBytes, type Digest } from "@dpkg/core";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { hashAndSend, type PushCounts } from "../src/push/hash-and-send.js";
import { push, type PushProgress } from "../src/push/push.js";
import { createSendCount } from "../src/push/send-count.js";
import { walkFolder } from "../src/push/walk.js";
import { RegistryClient } from "../src/registry-client.js";
import { useRegistryAndFolder } from "./helpers/registry-fixture.js";

const KIB = 1024;
const MIB = 1024 * KIB;

/** Distinct bytes per seed. */
function bytesOf(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed * 7) & 0xff;
  bytes[0] = seed & 0xff;
  bytes[1] = (seed >> 8) & 0xff;
  return bytes;
}

describe("push: hashing and sending overlap", () => {
  const fixture = useRegistryAndFolder("dpkg-push-pipeline");
  let client: RegistryClient;
  let dir: string;
  beforeEach(() => void ({ client, dir } = fixture));

  const counts = (changed: () => void = () => undefined): PushCounts => ({
    hashed: { files: 0, bytes: 0 },
    reused: { files: 0, bytes: 0 },
    toSend: { blobs: 0, bytes: 0 },
    sent: createSendCount(changed),
  });

  it("sends batches while later ones are still read, each distinct blob once, and keeps the files' order", async () => {
    // 40 files of 3 KiB: a batch of at most 16 KiB holds 4, so there are 10 batches; every fourth file repeats an earlier one.
    const contents = Array.from({ length: 40 }, (_, i) => bytesOf(3 * KIB, i % 4 === 3 ? i - 3 : i));
    for (const [i, bytes] of contents.entries()) await writeFile(join(dir, `f${String(i).padStart(2, "0")}.bin`), bytes);
    const files = await walkFolder(dir);
    const pkg = { namespace: "pipe", name: "overlap" };
    let sentWhileHashing = 0;
    const c = counts(() => {
      if (c.hashed.files < files.length) sentWhileHashing = Math.max(sentWhileHashing, c.sent.bytes);
    });
    const run = hashAndSend({ client, pkg, files, uploadConcurrency: 1, batchBytes: 16 * KIB, counts: c, changed: () => undefined });
    const hashed = await run.hashed;
    await run.sent();

    expect(hashed.map((f) => f.digest)).toEqual(contents.map((b) => digestBytes(b)));
    const distinct = new Set(hashed.map((f) => f.digest));
    expect(distinct.size).toBe(30);
    expect({ blobs: c.sent.blobs, bytes: c.sent.bytes }).toEqual({ blobs: 30, bytes: 30 * 3 * KIB });
    expect(c.toSend).toEqual({ blobs: 30, bytes: 30 * 3 * KIB });
    // With one request and two batches held at most, the third batch is read only after the first was sent.
    expect(sentWhileHashing).toBeGreaterThan(0);
    expect(await client.missing(pkg, [...distinct])).toEqual([]);
  });

  it("asks about every blob but sends only those the registry lacks", async () => {
    const contents = Array.from({ length: 12 }, (_, i) => bytesOf(2 * KIB, 100 + i));
    for (const [i, bytes] of contents.entries()) await writeFile(join(dir, `g${i}.bin`), bytes);
    const pkg = { namespace: "pipe", name: "partial" };
    const first = await push({ client, dir, pkg, exclude: ["g1*.bin", "g[5-9].bin"] });
    expect(first.blobsSent).toBe(4); // g0, g2, g3, g4
    const files = await walkFolder(dir);
    const c = counts();
    const run = hashAndSend({ client, pkg, files, uploadConcurrency: 2, batchBytes: 8 * KIB, counts: c, changed: () => undefined });
    await run.hashed;
    await run.sent();
    expect(c.sent.blobs).toBe(12 - first.blobsSent);
    expect(c.sent.bytes).toBe((12 - first.blobsSent) * 2 * KIB);
  });

  it("reports hash progress, then upload progress over the blobs sent, then the commit", async () => {
    for (let i = 0; i < 6; i++) await writeFile(join(dir, `h${i}.bin`), bytesOf(KIB, 200 + i));
    await writeFile(join(dir, "big.bin"), bytesOf(5 * MIB, 300));
    const events: PushProgress[] = [];
    const report = await push({ client, dir, pkg: { namespace: "pipe", name: "progress" }, onProgress: (p) => events.push({ ...p }) });
    const phases = events.map((e) => e.phase).filter((p, i, all) => p !== all[i - 1]);
    expect(phases).toEqual(["hash", "upload", "commit"]);
    expect(events[0]).toEqual({ phase: "hash", files: 0, totalFiles: 7, bytes: 0, totalBytes: 6 * KIB + 5 * MIB, sentBytes: 0 });
    const lastHash = events.filter((e) => e.phase === "hash").at(-1)!;
    expect(lastHash).toMatchObject({ files: 7, bytes: 6 * KIB + 5 * MIB });
    const uploads = events.filter((e) => e.phase === "upload");
    expect(uploads.at(-1)).toMatchObject({ files: 7, totalFiles: 7, bytes: report.bytesSent, totalBytes: report.bytesSent });
    // The upload phase starts once the registry has said what it lacks: its totals never move.
    expect(new Set(uploads.map((e) => `${e.totalFiles}/${e.totalBytes}`)).size).toBe(1);
    for (let i = 1; i < events.length; i++) expect(events[i]!.sentBytes).toBeGreaterThanOrEqual(events[i - 1]!.sentBytes);
    expect(events.at(-1)).toMatchObject({ phase: "commit", sentBytes: report.bytesSent });
  });

  it("gives the same revision for the same folder, whatever the batch boundaries", async () => {
    const contents = Array.from({ length: 9 }, (_, i) => bytesOf(5 * KIB, 400 + i));
    for (const [i, bytes] of contents.entries()) await writeFile(join(dir, `k${i}.bin`), bytes);
    const a = await push({ client, dir, pkg: { namespace: "pipe", name: "same-a" } });
    const b = await push({ client, dir, pkg: { namespace: "pipe", name: "same-b" }, concurrency: 1 });
    expect(b.digest).toBe(a.digest);
    const expected: Digest[] = contents.map((x) => digestBytes(x));
    const entries = [];
    for await (const e of client.entries({ namespace: "pipe", name: "same-a" }, a.digest)) entries.push(e);
    expect(entries.map((e) => e.digest)).toEqual(expected);
  });
});
