import { digestHex, type Digest } from "@dpkg/core";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** Where a blob store keeps the object of a key on disk: the folder store, or s3rver's folder. */
export interface ObjectFiles {
  /** The folder that holds the keys (`blobs/…`, `packs/…`, `manifests/…`). */
  root: string;
  /** What the store appends to a key's last segment (s3rver: `._S3rver_object`). */
  suffix: string;
}

export function folderStoreFiles(dataDir: string): ObjectFiles {
  return { root: join(dataDir, "blobs"), suffix: "" };
}

/** s3rver keeps `<directory>/<bucket>/<key>._S3rver_object` (plus metadata files beside it). */
export function s3rverFiles(directory: string, bucket: string, prefix = ""): ObjectFiles {
  return { root: join(directory, bucket, ...prefix.split("/").filter((p) => p !== "")), suffix: "._S3rver_object" };
}

export function objectFile(files: ObjectFiles, key: string): string {
  return join(files.root, ...key.split("/")) + files.suffix;
}

/**
 * Flips one byte (`at`, from the blob's start) of a stored blob in place, whether it has its own object
 * or sits in a pack (found through the packs' .idx objects). Returns the object's key.
 */
export async function flipStoredBlob(files: ObjectFiles, digest: Digest, at = 0): Promise<string> {
  const hex = digestHex(digest);
  const own = `blobs/${hex.slice(0, 2)}/${hex}`;
  if (await isFile(objectFile(files, own))) {
    await flipByte(objectFile(files, own), at);
    return own;
  }
  const packs = join(files.root, "packs");
  for (const e of await readdir(packs, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || !e.name.endsWith(`.idx${files.suffix}`)) continue;
    const text = await readFile(join(e.parentPath, e.name), "utf8");
    for (const line of text.split("\n")) {
      if (line === "") continue;
      const entry = JSON.parse(line) as { digest: string; offset: number; size: number };
      if (entry.digest !== digest) continue;
      const packName = e.name.slice(0, -`.idx${files.suffix}`.length);
      const key = `packs/${packName.slice(0, 2)}/${packName}.pack`;
      await flipByte(objectFile(files, key), entry.offset + at);
      return key;
    }
  }
  throw new Error(`no stored object holds ${digest}`);
}

async function flipByte(path: string, offset: number): Promise<void> {
  const bytes = await readFile(path);
  bytes[offset] = bytes[offset]! ^ 0x01;
  await writeFile(path, bytes);
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isFile() === true;
}
