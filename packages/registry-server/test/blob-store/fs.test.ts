import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FsBlobStore } from "../../src/blob-store/fs-blob-store.js";
import { blobStoreContract } from "../contract/blob-store-contract.js";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.js";

blobStoreContract("filesystem", async () => {
  const dir = await makeTempDir("dpkg-fs-store");
  return { store: new FsBlobStore(join(dir.path, "store")), cleanup: dir.cleanup };
});

describe("FsBlobStore", () => {
  let dir: TempDir;
  let store: FsBlobStore;
  beforeEach(async () => {
    dir = await makeTempDir("dpkg-fs-store");
    store = new FsBlobStore(join(dir.path, "store"));
  });
  afterEach(() => dir.cleanup());

  it("has no presigned URLs: the registry serves the bytes itself", async () => {
    await store.put("k", Buffer.from("x"));
    expect(await store.presignGet("k", 60)).toBeNull();
  });

  it("keeps every key inside its folder", async () => {
    for (const key of ["../outside", "a/../../outside", "/tmp/outside", "..\\outside"]) {
      await expect(store.put(key, Buffer.from("x"))).rejects.toMatchObject({ code: "E_BAD_REQUEST" });
    }
    expect(await readdir(dir.path)).toEqual([]);
  });

  it("lays keys out as folders under its root and leaves no temp files behind", async () => {
    await store.put("blobs/ab/abcd", Buffer.from("x"));
    await expect(store.put("broken", failingSource())).rejects.toThrow("source broke");
    await store.put("blobs/ab/abcd", failingSource());
    expect(await readdir(join(dir.path, "store", "blobs", "ab"))).toEqual(["abcd"]);
    expect(await readdir(join(dir.path, "store", ".tmp"))).toEqual([]);
  });

  it("lists only keys, never its temp folder or stray dot-files", async () => {
    await store.put("a/b", Buffer.from("x"));
    await mkdir(join(dir.path, "store", ".tmp"), { recursive: true });
    await writeFile(join(dir.path, "store", ".tmp", "left-over"), "junk");
    await writeFile(join(dir.path, "store", "a", ".DS_Store"), "junk");
    const keys: string[] = [];
    for await (const { key } of store.list("")) keys.push(key);
    expect(keys).toEqual(["a/b"]);
  });

  it("reports filesystem failures as E_IO without the root path", async () => {
    await store.put("file", Buffer.from("x"));
    // "file" is a file, so "file/child" cannot be created under it.
    const error = await store.put("file/child", Buffer.from("y")).catch((err: unknown) => err);
    expect(error).toMatchObject({ code: "E_IO" });
    expect(String(error)).not.toContain(dir.path);
    // And the other way round: "dir/x" makes "dir" a folder, which is no object to skip writing.
    await store.put("dir/x", Buffer.from("x"));
    await expect(store.put("dir", Buffer.from("y"))).rejects.toMatchObject({ code: "E_IO" });
  });

  it("describes itself by its folder", () => {
    expect(store.describe()).toBe(`filesystem:${join(dir.path, "store")}`);
  });
});

async function* failingSource(): AsyncGenerator<Uint8Array> {
  yield Buffer.from("partial");
  throw new Error("source broke");
}
