import { digestBytes } from "@dpkg/core";
import { randomBytes } from "node:crypto";
import { open, writeFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RangeHasher, type Range } from "../src/cache/range-hasher.js";
import { makeTempDir, type TempDir } from "../../registry-server/test/helpers/temp-dir.js";

const RANGE = 1000;

describe("RangeHasher", () => {
  let dir: TempDir;
  let handle: FileHandle;
  const data = randomBytes(4 * RANGE + 321);
  const ranges: Range[] = Array.from({ length: 5 }, (_, index) => ({ index, start: index * RANGE, end: Math.min(data.length, (index + 1) * RANGE) }));

  beforeEach(async () => {
    dir = await makeTempDir("dpkg-range-hasher");
  });
  afterEach(async () => {
    await handle.close();
    await dir.cleanup();
  });

  /** Writes `length` bytes of range `index` where its written part ends, then tells the hasher. */
  async function land(hasher: RangeHasher, index: number, length: number): Promise<void> {
    const range = ranges[index]!;
    const at = range.start + hasher.written(index);
    const bytes = data.subarray(at, Math.min(range.end, at + length));
    await handle.write(bytes, 0, bytes.length, at);
    hasher.wrote(index, bytes);
  }

  it("gives the digest of the whole file when ranges land out of order and in pieces", async () => {
    handle = await open(join(dir.path, "f"), "w+");
    const hasher = new RangeHasher(ranges, handle, new Set());
    await land(hasher, 3, 400);
    await land(hasher, 1, RANGE);
    await land(hasher, 0, 300); // the front: hashed as it is written
    await land(hasher, 4, 321);
    await land(hasher, 3, 600);
    await land(hasher, 0, 700); // the front moves on and reads ranges 1 back from the file
    await land(hasher, 2, 999);
    await land(hasher, 2, 1);
    expect(await hasher.digest()).toEqual({ digest: digestBytes(data), size: data.length });
  });

  it("hashes ranges an earlier run left in the file, and the new ones as they land", async () => {
    const file = join(dir.path, "resumed");
    const earlier = Buffer.alloc(data.length);
    for (const i of [0, 2]) data.copy(earlier, ranges[i]!.start, ranges[i]!.start, ranges[i]!.end);
    await writeFile(file, earlier);
    handle = await open(file, "r+");
    const hasher = new RangeHasher(ranges, handle, new Set([0, 2]));
    expect(hasher.written(2)).toBe(RANGE);
    for (const i of [4, 1, 3]) await land(hasher, i, RANGE);
    expect(await hasher.digest()).toEqual({ digest: digestBytes(data), size: data.length });
  });

  it("hashes what the file holds: a wrong byte on disk gives another digest", async () => {
    const file = join(dir.path, "damaged");
    const earlier = Buffer.from(data);
    earlier[RANGE + 5] = earlier[RANGE + 5]! ^ 0xff;
    await writeFile(file, earlier);
    handle = await open(file, "r+");
    const hasher = new RangeHasher(ranges, handle, new Set([0, 1, 2, 3, 4]));
    const result = await hasher.digest();
    expect(result.size).toBe(data.length);
    expect(result.digest).not.toBe(digestBytes(data));
  });

  it("stop() ends it without a digest", async () => {
    handle = await open(join(dir.path, "stopped"), "w+");
    const hasher = new RangeHasher(ranges, handle, new Set());
    await land(hasher, 0, 10);
    hasher.stop();
    await expect(hasher.digest()).rejects.toThrow(/stopped/);
  });
});
