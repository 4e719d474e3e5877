/**
 * The small-blob upload: a tar stream whose members are named by their digests. Every member is hashed
 * while it streams; verified small members are cut into packs (pack-builder.ts), large ones stream into
 * their own objects (receive-blob.ts). Memory is bounded by one pack buffer, one small member and the
 * chunks in flight, whatever the size of the upload.
 */
import { DpkgError, isDigest, isDpkgError, verifyStream, type Digest } from "@dpkg/core";
import { extract as tarExtract, type Extract, type Header } from "tar-stream";
import type { BlobStore } from "../blob-store/blob-store.js";
import { blobKey } from "../blob-store/layout.js";
import type { MetadataStore } from "../metadata/metadata-store.js";
import { createPackBuilder, type PackBuilder } from "./pack-builder.js";
import { drainVerified, storeVerified, wholeObjectLocation, type Expected } from "./receive-blob.js";

const MIB = 1024 * 1024;
export const DEFAULT_PACK_BYTES = 16 * MIB;
export const DEFAULT_LARGE_BLOB_BYTES = 4 * MIB;

export interface ReceivePackContext {
  blobs: BlobStore;
  meta: MetadataStore;
  namespace: string;
  /** A pack is flushed when it reaches this size (default 16 MiB). */
  packBytes?: number;
  /** Members of at least this size are stored as their own objects (default 4 MiB). */
  largeBlobBytes?: number;
}

export interface ReceivePackResult {
  /** Every distinct blob the upload proved to hold, whether or not its bytes had to be written. */
  stored: { digest: Digest; size: number }[];
  /** Bytes of objects actually created: packs, their indexes and large blobs. */
  bytesWritten: number;
}

interface Member extends Expected {
  size: number;
  name: string;
}

export async function receivePack(
  source: AsyncIterable<Uint8Array>,
  ctx: ReceivePackContext,
): Promise<ReceivePackResult> {
  const packBytes = ctx.packBytes ?? DEFAULT_PACK_BYTES;
  const largeBlobBytes = ctx.largeBlobBytes ?? DEFAULT_LARGE_BLOB_BYTES;
  const pack = createPackBuilder(ctx);
  const stored = new Map<Digest, number>();
  let bytesWritten = 0;

  const extract = tarExtract();
  const feed = { sourceError: undefined as unknown };
  const feeding = feedExtract(source, extract, feed);
  let member: Member | undefined;
  try {
    for await (const entry of extract) {
      member = parseMember(entry.header);
      const bytes = memberBytes(entry);
      const held = pack.has(member.digest) || (await isHeld(ctx, member.digest));
      if (held) {
        await drainVerified(bytes, member);
      } else if (member.size >= largeBlobBytes) {
        const result = await storeVerified(ctx.blobs, blobKey(member.digest), bytes, member);
        await ctx.meta.recordBlobs(ctx.namespace, [wholeObjectLocation(member.digest, result.size)]);
        bytesWritten += result.bytesWritten;
      } else {
        bytesWritten += await addToPack(pack, member, await readVerified(bytes, member), packBytes);
      }
      stored.set(member.digest, member.size);
      member = undefined;
    }
    bytesWritten += await pack.flush();
  } catch (err) {
    throw asUploadError(err, feed.sourceError, member);
  }
  await feeding;
  return { stored: [...stored].map(([digest, size]) => ({ digest, size })), bytesWritten };
}

/** Keeps packs at or under `packBytes` unless one member alone is bigger. */
async function addToPack(pack: PackBuilder, member: Member, bytes: Uint8Array, packBytes: number): Promise<number> {
  let written = 0;
  if (pack.bytes > 0 && pack.bytes + bytes.byteLength > packBytes) written += await pack.flush();
  pack.add(member.digest, bytes);
  if (pack.bytes >= packBytes) written += await pack.flush();
  return written;
}

async function isHeld(ctx: ReceivePackContext, digest: Digest): Promise<boolean> {
  return (await ctx.meta.missingBlobs(ctx.namespace, [digest])).length === 0;
}

/** `blake3:<hex>` or `<hex>`, a regular file; anything else is refused before its bytes are read. */
function parseMember(header: Header): Member {
  const name = header.name;
  const what = `tar member ${JSON.stringify(name)}`;
  if (header.type !== "file") {
    throw new DpkgError("E_BAD_REQUEST", `${what} is a ${header.type}, not a regular file`, {
      member: name,
    });
  }
  const digest = name.startsWith("blake3:") ? name : `blake3:${name}`;
  if (!isDigest(digest)) {
    throw new DpkgError("E_BAD_REQUEST", `${what}: a member's name must be its digest (blake3:<64 hex> or <64 hex>)`, {
      member: name,
    });
  }
  return { digest, size: header.size, name, what };
}

/**
 * A small member's bytes, copied into one buffer of its declared size: a copy, because holding on to slices
 * of the tar's chunks would keep whole chunks alive and let a pack of tiny files pin far more than its size.
 */
async function readVerified(source: AsyncIterable<Uint8Array>, member: Member): Promise<Uint8Array> {
  const bytes = new Uint8Array(member.size);
  let offset = 0;
  for await (const chunk of verifyStream(source, member)) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** A member's chunks, typed: streamx streams yield `unknown`. */
async function* memberBytes(entry: AsyncIterable<unknown>): AsyncGenerator<Uint8Array, void, undefined> {
  for await (const chunk of entry) {
    if (!(chunk instanceof Uint8Array)) throw new Error("the tar extractor yielded a chunk that is not bytes");
    yield chunk;
  }
}

/**
 * Writes `source` into the extractor with backpressure. Never rejects: a failing source destroys the
 * extractor with its error (recorded in `feed`, so that error reaches the caller unchanged), and a consumer
 * that stops early destroys the extractor, which ends the feeding at the next chunk.
 */
async function feedExtract(
  source: AsyncIterable<Uint8Array>,
  extract: Extract,
  feed: { sourceError: unknown },
): Promise<void> {
  try {
    for await (const chunk of source) {
      if (extract.destroyed) return;
      if (!extract.write(chunk)) await drainedOrClosed(extract);
    }
    if (!extract.destroyed) extract.end(null);
  } catch (err) {
    feed.sourceError = err;
    extract.destroy(err instanceof Error ? err : new Error(String(err)));
  }
}

function drainedOrClosed(extract: Extract): Promise<void> {
  if (extract.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      extract.off("drain", done);
      extract.off("close", done);
      resolve();
    };
    extract.on("drain", done);
    extract.on("close", done);
  });
}

/** tar-stream reports a truncated or malformed archive with plain Errors; they are the client's fault. */
function asUploadError(err: unknown, sourceError: unknown, member: Member | undefined): unknown {
  if (isDpkgError(err) || (sourceError !== undefined && err === sourceError)) return err;
  const where = member === undefined ? "" : ` in ${member.what}`;
  const reason = err instanceof Error ? err.message : String(err);
  return new DpkgError(
    "E_BAD_REQUEST",
    `malformed or truncated tar stream${where}: ${reason}`,
    member === undefined ? {} : { member: member.name },
    { cause: err },
  );
}
