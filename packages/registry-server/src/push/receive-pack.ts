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
import type { BlobLocationRecord, MetadataStore } from "../metadata/metadata-store.js";
import type { BlobClaims, ClaimedBlob } from "./blob-claims.js";
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
  /** Shared by the uploads of one registry process, so that concurrent ones pack each blob once. */
  claims?: BlobClaims;
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
  const owner = Symbol("upload");
  const claims = ctx.claims;
  const pack = createPackBuilder({ ...ctx, onStored: (locations, ticket) => claims?.stored(owner, locations, ticket) });
  const upload: Upload = { ctx, owner, pack, packBytes, largeBlobBytes, waiting: new Map() };
  const stored = new Map<Digest, number>();
  let bytesWritten = 0;

  const extract = tarExtract();
  const feed: Feed = { sourceError: undefined, endMarker: false };
  const feeding = feedExtract(source, extract, feed);
  let member: Member | undefined;
  try {
    for await (const entry of extract) {
      member = parseMember(entry.header);
      bytesWritten += await receiveMember(upload, member, memberBytes(entry));
      stored.set(member.digest, member.size);
      member = undefined;
    }
    await feeding;
    if (!feed.endMarker) {
      // tar-stream takes a stream that stops between members for a whole archive. Without its
      // end-of-archive blocks it was cut short (or never finished): keep its last pack out. (A cut
      // right after a member ending in 1 KiB of zeros still passes; its blobs are verified anyway.)
      throw new DpkgError("E_BAD_REQUEST", "truncated tar stream: it does not end with the end-of-archive marker (two zero blocks)");
    }
    bytesWritten += await pack.flush();
    // Only now, with every claim of this upload settled, wait for other uploads' claims.
    await recordClaimed(ctx, upload.waiting);
  } catch (err) {
    throw asUploadError(err, feed.sourceError, member);
  } finally {
    claims?.release(owner);
  }
  await feeding;
  return { stored: [...stored].map(([digest, size]) => ({ digest, size })), bytesWritten };
}

interface Upload {
  ctx: ReceivePackContext;
  owner: symbol;
  pack: PackBuilder;
  packBytes: number;
  largeBlobBytes: number;
  /** Blobs this upload verified but another one in flight is packing. */
  waiting: Map<Digest, Promise<ClaimedBlob>>;
}

/** Verifies one member and stores it unless it is stored already (or being packed); returns the bytes written. */
async function receiveMember(upload: Upload, member: Member, bytes: AsyncIterable<Uint8Array>): Promise<number> {
  const { ctx, pack, waiting } = upload;
  const digest = member.digest;
  const small = member.size < upload.largeBlobBytes;
  const held = pack.has(digest) || waiting.has(digest) || (await isHeld(ctx, digest));
  // Stored for another namespace: verifying the bytes proves this one holds them too.
  const storedElsewhere = !held && small && (await ctx.meta.storedBlobs([digest])).length > 0;
  // Claimed after the index said "not stored", with no await in between: of several uploads, one packs it.
  const other = held || storedElsewhere || !small ? undefined : ctx.claims?.claim(digest, upload.owner);
  if (held || storedElsewhere || other !== undefined) {
    await drainVerified(bytes, member);
    if (other !== undefined) waiting.set(digest, other);
    if (storedElsewhere && (await ctx.meta.grantStored(ctx.namespace, [digest])).length === 0) {
      throw new DpkgError("E_UNAVAILABLE", `blob ${digest} was garbage collected while it was being uploaded; retry the upload`, { digest });
    }
    return 0;
  }
  if (small) return addToPack(pack, member, await readVerified(bytes, member), upload.packBytes);
  const ticket = await ctx.meta.objectWriteTicket(blobKey(digest));
  const result = await storeVerified(ctx.blobs, blobKey(digest), bytes, member);
  await ctx.meta.recordBlobs(ctx.namespace, [wholeObjectLocation(digest, result.size)], ticket);
  return result.bytesWritten;
}

/** Records, for this upload's namespace, the blobs other uploads packed while this one verified its copies. */
async function recordClaimed(ctx: ReceivePackContext, waiting: Map<Digest, Promise<ClaimedBlob>>): Promise<void> {
  const byTicket = new Map<number, BlobLocationRecord[]>();
  for (const claimed of await Promise.all(waiting.values())) {
    const group = byTicket.get(claimed.ticket) ?? [];
    group.push(claimed.location);
    byTicket.set(claimed.ticket, group);
  }
  for (const [ticket, locations] of byTicket) await ctx.meta.recordBlobs(ctx.namespace, locations, ticket);
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

interface Feed {
  /** The source's own error, which must reach the caller unchanged. */
  sourceError: unknown;
  /** Whether the source ended with the end-of-archive blocks. */
  endMarker: boolean;
}

/**
 * Writes `source` into the extractor with backpressure. Never rejects: a failing source destroys the
 * extractor with its error (recorded in `feed`, so that error reaches the caller unchanged), and a consumer
 * that stops early destroys the extractor, which ends the feeding at the next chunk.
 */
async function feedExtract(
  source: AsyncIterable<Uint8Array>,
  extract: Extract,
  feed: Feed,
): Promise<void> {
  let zerosAtEnd = 0;
  try {
    for await (const chunk of source) {
      if (extract.destroyed) return;
      zerosAtEnd = trailingZeros(chunk, zerosAtEnd);
      if (!extract.write(chunk)) await drainedOrClosed(extract);
    }
    feed.endMarker = zerosAtEnd >= END_OF_ARCHIVE_BYTES;
    if (!extract.destroyed) extract.end(null);
  } catch (err) {
    feed.sourceError = err;
    extract.destroy(err instanceof Error ? err : new Error(String(err)));
  }
}

/** A tar archive ends with two 512-byte blocks of zeros. */
const END_OF_ARCHIVE_BYTES = 1024;

/** How many zero bytes the stream ends with after `chunk`, given how many it ended with before. */
function trailingZeros(chunk: Uint8Array, before: number): number {
  for (let i = chunk.byteLength - 1; i >= 0; i--) if (chunk[i] !== 0) return chunk.byteLength - 1 - i;
  return before + chunk.byteLength;
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
