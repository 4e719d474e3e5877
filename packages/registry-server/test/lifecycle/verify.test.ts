import { open, readFile, writeFile } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { digestBytes, type PackageName } from "@dpkg/core";
import { blobKey, manifestKey, parseKey } from "../../src/blob-store/layout.js";
import { verify, type VerifyProblem } from "../../src/lifecycle/verify.js";
import { readPackIndex } from "../../src/push/pack-index.js";
import { file } from "../helpers/push-data.js";
import { blobsOfSizes, digestOf, listAll, makeStores, pathOf, type Stores } from "../push/fixtures.js";
import { publish } from "./publish.js";

const pkg: PackageName = { namespace: "lab", name: "images" };

/** Flips one bit of the byte at `offset` of a stored object, on disk. */
async function flipByte(path: string, offset: number): Promise<void> {
  const handle = await open(path, "r+");
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, offset);
    byte[0] = byte[0]! ^ 0x01;
    await handle.write(byte, 0, 1, offset);
  } finally {
    await handle.close();
  }
}

describe("verify", () => {
  let s: Stores;
  let blobs: Buffer[];
  let revision: string;
  beforeEach(async () => {
    s = await makeStores();
    blobs = blobsOfSizes(100, 0, 1500, 2500);
    const files = blobs.map((b, i) => file(`f${i}`, b));
    revision = (await publish(s, pkg, files, { at: new Date() })).revision.digest;
  });
  afterEach(() => s.cleanup());

  const onlyPack = async (): Promise<string> => {
    const packs = [...(await listAll(s.blobs, "packs/")).keys()].filter((k) => k.endsWith(".pack"));
    expect(packs).toHaveLength(1);
    return packs[0]!;
  };

  it("finds nothing wrong in a sound store, having hashed every byte", async () => {
    const report = await verify({ blobs: s.blobs, meta: s.meta });
    expect(report).toMatchObject({ blobs: 1, packs: 1, packedBlobs: 3, manifests: 1, problems: [] });
    const stored = [...(await listAll(s.blobs)).values()].filter(
      (o) => !o.key.endsWith(".idx") && !o.key.startsWith("refs/"),
    );
    expect(report.bytes).toBe(stored.reduce((n, o) => n + o.size, 0));
  });

  it("detects a flipped byte inside a packed blob: the blob's range and the pack both mismatch", async () => {
    const key = await onlyPack();
    const parsed = parseKey(key);
    if (parsed.kind !== "pack") throw new Error("not a pack");
    const entry = (await readPackIndex(s.blobs, parsed.digest)).find((e) => e.digest === digestOf(blobs[2]!))!;
    await flipByte(pathOf(s, key), entry.offset + 700);

    const seen: VerifyProblem[] = [];
    const report = await verify({ blobs: s.blobs, onProblem: (p) => seen.push(p) });
    expect(report.problems).toEqual(seen);
    const corrupted = Buffer.from(blobs[2]!);
    corrupted[700] = corrupted[700]! ^ 0x01;
    expect(report.problems).toEqual([
      expect.objectContaining({
        kind: "mismatch",
        key,
        range: { start: entry.offset, end: entry.offset + 1500 },
        expected: digestOf(blobs[2]!),
        actual: digestBytes(corrupted),
      }),
      expect.objectContaining({ kind: "mismatch", key, expected: parsed.digest }),
    ]);
  });

  it("detects a flipped byte in a whole blob and in a manifest", async () => {
    const big = blobKey(digestOf(blobs[3]!));
    await flipByte(pathOf(s, big), 2499);
    const manifest = pathOf(s, manifestKey(revision as `blake3:${string}`));
    await writeFile(manifest, (await readFile(manifest, "utf8")).replace('"f0"', '"f9"'));
    const report = await verify({ blobs: s.blobs });
    expect(report.problems.map((p) => [p.kind, p.key, p.expected])).toEqual([
      ["mismatch", big, digestOf(blobs[3]!)],
      ["mismatch", manifestKey(revision as `blake3:${string}`), revision],
    ]);
    expect(report.problems[0]!.actual).toMatch(/^blake3:[0-9a-f]{64}$/);
  });

  it("reports a pack whose index does not describe it, an orphan index, an unknown key and lost objects", async () => {
    const pack = await onlyPack();
    const index = pack.replace(/\.pack$/, ".idx");
    await writeFile(pathOf(s, index), "{}\n");
    await s.blobs.put("packs/00/" + "0".repeat(64) + ".idx", Buffer.from("\n"));
    await s.blobs.put("manifests/readme.txt", Buffer.from("hi"));
    await s.blobs.delete(blobKey(digestOf(blobs[3]!)));
    const report = await verify({ blobs: s.blobs, meta: s.meta });
    expect(report.problems.map((p) => [p.kind, p.key]).sort()).toEqual(
      [
        ["unknown-key", "manifests/readme.txt"],
        ["unreadable", index],
        ["orphan", "packs/00/" + "0".repeat(64) + ".idx"],
        ["missing", blobKey(digestOf(blobs[3]!))],
      ].sort(),
    );
  });
});
