import { digestHex, digestStream, type Digest } from "@dpkg/core";
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";

/** A folder to push: relative path → bytes. */
export type Tree = Map<string, Uint8Array>;

/** `count` small random files under `prefix/`, and `large` random files of `largeBytes` each. */
export function randomTree(options: {
  small?: number;
  smallBytes?: number;
  large?: number;
  largeBytes?: number;
  prefix?: string;
}): Tree {
  const tree: Tree = new Map();
  const prefix = options.prefix ?? "d";
  for (let i = 0; i < (options.small ?? 0); i++)
    tree.set(`${prefix}/small-${String(i).padStart(5, "0")}.bin`, randomBytes(options.smallBytes ?? 1000));
  for (let i = 0; i < (options.large ?? 0); i++)
    tree.set(`${prefix}/large-${i}.bin`, randomBytes(options.largeBytes ?? 5 * 1024 * 1024));
  return tree;
}

export async function writeTree(dir: string, tree: Tree): Promise<void> {
  for (const [path, bytes] of tree) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), bytes);
  }
}

export function treeBytes(tree: Tree): number {
  let n = 0;
  for (const b of tree.values()) n += b.byteLength;
  return n;
}

export async function digestFile(path: string): Promise<{ digest: Digest; size: number }> {
  return digestStream(createReadStream(path));
}

/** Every regular file under `dir` (relative, `/`-separated) with its digest. */
export async function digestTree(dir: string): Promise<Map<string, Digest>> {
  const out = new Map<string, Digest>();
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isFile()) continue;
    const full = join(e.parentPath, e.name);
    out.set(relative(dir, full).split(sep).join("/"), (await digestFile(full)).digest);
  }
  return out;
}

/**
 * Re-hashes every blob of a client cache (`<cache>/blobs/<hex[0:2]>/<hex>`) and returns those whose
 * bytes do not hash to their name; also how many it checked.
 */
export async function damagedCacheBlobs(cacheDir: string): Promise<{ checked: number; damaged: string[] }> {
  const blobs = await digestTree(join(cacheDir, "blobs"));
  const damaged: string[] = [];
  for (const [path, digest] of blobs) if (path.split("/").pop() !== digestHex(digest)) damaged.push(path);
  return { checked: blobs.size, damaged };
}
