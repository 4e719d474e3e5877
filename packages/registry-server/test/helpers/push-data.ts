import { digestBytes, encodeManifest, sortByPath, summarizeManifest, type Digest, type JsonObject, type ManifestEntry } from "@dpkg/core";
import { pack } from "tar-stream";

export interface TestFile {
  path: string;
  bytes: Uint8Array;
  meta?: JsonObject;
}

export function file(path: string, content: string | Uint8Array, meta?: JsonObject): TestFile {
  return { path, bytes: typeof content === "string" ? new TextEncoder().encode(content) : content, meta };
}

export function entriesOf(files: TestFile[]): ManifestEntry[] {
  return sortByPath(
    files.map((f) => ({ path: f.path, size: f.bytes.length, digest: digestBytes(f.bytes), ...(f.meta ? { meta: f.meta } : {}) })),
  );
}

/** The canonical manifest bytes and top hash of these files. */
export async function manifestOf(files: TestFile[], meta: JsonObject = {}): Promise<{ body: Buffer; digest: Digest }> {
  const entries = entriesOf(files);
  const chunks: Uint8Array[] = [];
  for await (const c of encodeManifest({ meta }, entries)) chunks.push(c);
  const { digest } = await summarizeManifest({ meta }, entries);
  return { body: Buffer.concat(chunks), digest };
}

/** A tar stream of blobs, each member named by its digest, as the push protocol sends them. */
export async function tarOf(blobs: Uint8Array[], nameOf: (b: Uint8Array) => string = (b) => digestBytes(b)): Promise<Buffer> {
  const p = pack();
  for (const b of blobs) p.entry({ name: nameOf(b), size: b.length }, Buffer.from(b));
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
