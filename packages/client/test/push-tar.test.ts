import { digestBytes } from "@dpkg/core";
import { rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pack as tarPack } from "tar-stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { batchBytes, keepMembers, readBatch, type SmallFile } from "../src/push/read-batch.js";
import { makeTempDir, type TempDir } from "../../registry-server/test/helpers/temp-dir.js";

/** What tar-stream (the registry's reader) writes for these members, as the old client sent them. */
async function tarStreamArchive(members: Uint8Array[]): Promise<Buffer> {
  const p = tarPack();
  for (const bytes of members) {
    p.entry({ name: digestBytes(bytes), size: bytes.byteLength, mode: 0o644, mtime: new Date(0) }, Buffer.from(bytes));
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of p) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe("reading small files into a pack archive", () => {
  let tmp: TempDir;
  beforeEach(async () => {
    tmp = await makeTempDir("dpkg-push-tar");
  });
  afterEach(async () => tmp.cleanup());

  const filesOf = (contents: Uint8Array[]): SmallFile[] =>
    contents.map((bytes, i) => {
      const source = join(tmp.path, `f${i}`);
      writeFileSync(source, bytes);
      return { path: `f${i}`, source, size: bytes.byteLength };
    });

  // Sizes around block boundaries, and an empty file.
  const contents = [0, 1, 511, 512, 513, 1024, 3000].map((n, i) => Uint8Array.from({ length: n }, (_, k) => (k * 7 + i) & 0xff));

  it("writes, in a buffer full of old bytes, exactly the archive tar-stream writes", async () => {
    const files = filesOf(contents);
    const buffer = Buffer.alloc(batchBytes(files) + 1, 0xaa);
    const sizes: number[] = [];
    const members = await readBatch(files, buffer, (n) => sizes.push(n));
    expect(sizes).toEqual(contents.map((c) => c.byteLength));
    expect(members.map((m) => m.digest)).toEqual(contents.map((c) => digestBytes(c)));
    expect(keepMembers(buffer, members)).toEqual(await tarStreamArchive(contents));
  });

  it("writes the same archive with asynchronous reads, as off a local disk", async () => {
    const files = filesOf(contents);
    const buffer = Buffer.alloc(batchBytes(files) + 1, 0xaa);
    const members = await readBatch(files, buffer, () => undefined, false);
    expect(keepMembers(buffer, members)).toEqual(await tarStreamArchive(contents));
    writeFileSync(files[2]!.source, "shrunk");
    await expect(readBatch(files, buffer, () => undefined, false)).rejects.toMatchObject({
      code: "E_INTEGRITY",
      message: expect.stringMatching(/^file "f2" changed while it was being pushed \(its size is no longer 511 bytes\)/) as unknown,
    });
  });

  it("keeps only the members asked for, in order, moving them forward in place", async () => {
    const files = filesOf(contents);
    const buffer = Buffer.alloc(batchBytes(files) + 1, 0x55);
    const members = await readBatch(files, buffer, () => undefined);
    const kept = members.filter((_, i) => i % 3 !== 0);
    expect(keepMembers(buffer, kept)).toEqual(await tarStreamArchive(contents.filter((_, i) => i % 3 !== 0)));
  });

  it.each([true, false])("names a file removed or replaced by a symlink since the walk (synchronous reads: %s)", async (syncIo) => {
    const files = filesOf(contents);
    const buffer = Buffer.alloc(batchBytes(files) + 1);
    rmSync(files[1]!.source);
    await expect(readBatch(files, buffer, () => undefined, syncIo)).rejects.toMatchObject({
      code: "E_INTEGRITY",
      message: expect.stringMatching(/^file "f1" changed while it was being pushed \(it was removed\)/) as unknown,
    });
    symlinkSync(files[0]!.source, files[1]!.source);
    await expect(readBatch(files, buffer, () => undefined, syncIo)).rejects.toMatchObject({
      message: expect.stringMatching(/^file "f1" changed while it was being pushed \(it was replaced by a symlink\)/) as unknown,
    });
  });

  it("names a file whose size is no longer the one the walk saw", async () => {
    const files = filesOf(contents);
    writeFileSync(files[4]!.source, "grown".repeat(200));
    const buffer = Buffer.alloc(batchBytes(files) + 1);
    await expect(readBatch(files, buffer, () => undefined)).rejects.toMatchObject({
      code: "E_INTEGRITY",
      message: expect.stringMatching(/^file "f4" changed while it was being pushed \(its size is no longer 513 bytes\)/) as unknown,
    });
  });
});
