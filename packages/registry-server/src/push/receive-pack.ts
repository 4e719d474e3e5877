/**
 * The small-blob upload: a tar stream whose members are named by their digests. Every member is hashed
 * while it streams; verified small members are sorted in batches (member-batch.ts) and cut into packs
 * (pack-builder.ts) that are stored while the next ones fill; large ones stream into their own objects
 * (receive-blob.ts). Memory is bounded by the pack buffer, the packs being stored, one batch of small
 * members and the chunks in flight, whatever the size of the upload.
 */
import { DpkgError, digestBytes, isDigest, isDpkgError, type Digest } from "@dpkg/core";
import type { BlobStore } from "../blob-store/blob-store.js";
import type { PartPool } from "../blob-store/part-pool.js";
import { blobKey } from "../blob-store/layout.js";
import type { BlobLocationRecord, MetadataStore } from "../metadata/metadata-store.js";
import type { BlobClaims, ClaimedBlob } from "./blob-claims.js";
import { createMemberBatch } from "./member-batch.js";
import { createPackBuilder } from "./pack-builder.js";
import { drainVerified, storeVerified, wholeObjectLocation, type Expected } from "./receive-blob.js";
import { TarReader, type TarHeader } from "./tar-reader.js";

const MIB = 1024 * 1024;
export const DEFAULT_PACK_BYTES = 16 * MIB;
export const DEFAULT_LARGE_BLOB_BYTES = 4 * MIB;
export const DEFAULT_PACKS_STORING = 1;

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
  /** Packs stored in the background while the next one fills (default 1). */
  packsStoring?: number;
  /** Pack buffers, shared by the uploads of one registry process so that their memory is reused. */
  buffers?: PartPool;
}

export interface ReceivePackResult {
  /** Every distinct blob the upload proved to hold, whether or not its bytes had to be written. */
  stored: { digest: Digest; size: number }[];
  /** Bytes of objects actually created: packs, their indexes and large blobs. */
  bytesWritten: number;
}

interface Member {
  digest: Digest;
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
  const pack = createPackBuilder({
    ...ctx,
    maxStoring: ctx.packsStoring ?? DEFAULT_PACKS_STORING,
    onStored: (locations, ticket) => claims?.stored(owner, locations, ticket),
  });
  const waiting = new Map<Digest, Promise<ClaimedBlob>>();
  const batch = createMemberBatch({ ...ctx, owner, pack, packBytes, waiting });
  const stored = new Map<Digest, number>();
  let bytesWritten = 0;

  const reader = new TarReader(source);
  let member: Member | undefined;
  try {
    for (let header = await reader.next(); header !== null; header = await reader.next()) {
      member = parseMember(header);
      if (member.size < largeBlobBytes) {
        const bytes = await reader.read(member.size);
        verifyBytes(bytes, member);
        if (batch.add(member.digest, bytes)) await batch.sort();
      } else {
        bytesWritten += await receiveLarge(ctx, { ...member, what: describe(member.name) }, reader.stream(member.size));
      }
      stored.set(member.digest, member.size);
      member = undefined;
    }
    if (!reader.endMarker) {
      // A stream that stops between members reads as a whole archive. Without its end-of-archive
      // blocks it was cut short (or never finished): keep its last pack out.
      throw new DpkgError("E_BAD_REQUEST", "truncated tar stream: it does not end with the end-of-archive marker (two zero blocks)");
    }
    await batch.sort();
    bytesWritten += await pack.drain();
    // Only now, with every claim of this upload settled, wait for other uploads' claims.
    await recordClaimed(ctx, waiting);
  } catch (err) {
    await reader.close();
    throw asUploadError(err, reader.sourceError, member);
  } finally {
    // Packs already being stored finish (their blobs were verified) before their claims are released.
    await pack.settle();
    claims?.release(owner);
  }
  return { stored: [...stored].map(([digest, size]) => ({ digest, size })), bytesWritten };
}

/** A member at or above the large-blob size: verified as it streams into its own object unless stored already. */
async function receiveLarge(ctx: ReceivePackContext, member: Expected, bytes: AsyncIterable<Uint8Array>): Promise<number> {
  const digest = member.digest;
  if ((await ctx.meta.missingBlobs(ctx.namespace, [digest])).length === 0) {
    await drainVerified(bytes, member);
    return 0;
  }
  const ticket = await ctx.meta.objectWriteTicket(blobKey(digest));
  const result = await storeVerified(ctx.blobs, blobKey(digest), bytes, member);
  await ctx.meta.recordBlobs(ctx.namespace, [wholeObjectLocation(digest, result.size)], ticket);
  return result.bytesWritten;
}

/** How errors name a member; built only for errors and large members, not for thousands of small ones. */
function describe(name: string): string {
  return `tar member ${JSON.stringify(name)}`;
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

/** `blake3:<hex>` or `<hex>`, a regular file; anything else is refused before its bytes are read. */
function parseMember(header: TarHeader): Member {
  const name = header.name;
  if (header.type !== "file" && header.type !== "contiguous-file") {
    throw new DpkgError("E_BAD_REQUEST", `${describe(name)} is a ${header.type}, not a regular file`, {
      member: name,
    });
  }
  const digest = name.startsWith("blake3:") ? name : `blake3:${name}`;
  if (!isDigest(digest)) {
    throw new DpkgError("E_BAD_REQUEST", `${describe(name)}: a member's name must be its digest (blake3:<64 hex> or <64 hex>)`, {
      member: name,
    });
  }
  return { digest, size: header.size, name };
}

/** A small member's bytes, hashed in one call (as verifyStream would, with its errors). */
function verifyBytes(bytes: Uint8Array, member: Member): void {
  const actual = digestBytes(bytes);
  if (actual !== member.digest) {
    throw new DpkgError("E_INTEGRITY", `${describe(member.name)}: content hashes to ${actual}, expected ${member.digest}`, {
      expected: member.digest,
      actual,
    });
  }
}

/** Whatever else broke while reading the archive is the client's fault. */
function asUploadError(err: unknown, sourceError: unknown, member: Member | undefined): unknown {
  if (isDpkgError(err) || (sourceError !== undefined && err === sourceError)) return err;
  const where = member === undefined ? "" : ` in ${describe(member.name)}`;
  const reason = err instanceof Error ? err.message : String(err);
  return new DpkgError(
    "E_BAD_REQUEST",
    `malformed or truncated tar stream${where}: ${reason}`,
    member === undefined ? {} : { member: member.name },
    { cause: err },
  );
}
