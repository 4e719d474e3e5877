import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { digestBytes } from "@dpkg/core";
import { pack, type Header } from "tar-stream";
import type { BlobStore, ListedBlob } from "../../src/blob-store/blob-store.js";
import { FsBlobStore } from "../../src/blob-store/fs-blob-store.js";
import type { MetadataStore } from "../../src/metadata/metadata-store.js";
import { openSqliteMetadataStore } from "../../src/metadata/sqlite/sqlite-metadata-store.js";
import { makeTempDir } from "../helpers/temp-dir.js";

export interface Stores {
  blobs: FsBlobStore;
  meta: MetadataStore;
  /** The folder the blob store keeps its objects in: a key is a path below it. */
  root: string;
  cleanup(): Promise<void>;
}

/** A real filesystem blob store in a temp folder and a real in-memory SQLite index. */
export async function makeStores(): Promise<Stores> {
  const dir = await makeTempDir("dpkg-push");
  const root = join(dir.path, "store");
  const meta = openSqliteMetadataStore(":memory:");
  return {
    blobs: new FsBlobStore(root),
    meta,
    root,
    async cleanup() {
      await meta.close();
      await dir.cleanup();
    },
  };
}

export function pathOf(stores: Stores, key: string): string {
  return join(stores.root, ...key.split("/"));
}

/** Distinct random blobs of these sizes. */
export function blobsOfSizes(...sizes: number[]): Buffer[] {
  return sizes.map((n) => randomBytes(n));
}

export interface Member {
  name: string;
  bytes?: Uint8Array;
  type?: Header["type"];
}

/** A tar of arbitrary members (odd names, wrong bytes, directories), for the error paths. */
export async function tarOfMembers(members: Member[]): Promise<Buffer> {
  const p = pack();
  for (const m of members) {
    const bytes = Buffer.from(m.bytes ?? new Uint8Array());
    p.entry({ name: m.name, size: m.type === "directory" ? 0 : bytes.length, type: m.type ?? "file" }, bytes);
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Feeds bytes in small uneven chunks, so members straddle chunk boundaries. */
export async function* chunked(data: Uint8Array, size = 777): AsyncGenerator<Uint8Array, void, undefined> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

/** Every object in the store, by key. */
export async function listAll(blobs: BlobStore, prefix = ""): Promise<Map<string, ListedBlob>> {
  const out = new Map<string, ListedBlob>();
  for await (const o of blobs.list(prefix)) out.set(o.key, o);
  return out;
}

export async function readObject(
  blobs: BlobStore,
  key: string,
  range?: { start: number; end: number },
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await blobs.get(key, range)) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

export const digestOf = (b: Uint8Array): ReturnType<typeof digestBytes> => digestBytes(b);
