/**
 * Verified small tar members wait here, a few hundred at a time, so that the index is asked about a
 * whole batch at once (which of them this namespace holds, which another namespace stored) instead of
 * two or three queries per member: for thousands of small files those queries cost more than the bytes.
 * Memory: at most `maxBytes` (plus one member) of verified bytes wait.
 */
import { DpkgError, type Digest } from "@dpkg/core";
import type { MetadataStore } from "../metadata/metadata-store.js";
import type { BlobClaims, ClaimedBlob } from "./blob-claims.js";
import type { PackBuilder } from "./pack-builder.js";

export interface MemberBatchTarget {
  meta: MetadataStore;
  namespace: string;
  claims?: BlobClaims;
  /** The upload that claims blobs it packs. */
  owner: symbol;
  pack: PackBuilder;
  /** A pack is flushed when it reaches this size. */
  packBytes: number;
  /** Blobs this upload verified but another one in flight is packing. */
  waiting: Map<Digest, Promise<ClaimedBlob>>;
}

export interface MemberBatch {
  /**
   * Queues a verified member; true when the batch is full and must be sorted now (a plain call, not
   * a promise per member: thousands arrive per upload).
   */
  add(digest: Digest, bytes: Uint8Array): boolean;
  /** Sorts what is queued: blobs nobody stored go into the pack, the others are granted or awaited. */
  sort(): Promise<void>;
}

const MAX_MEMBERS = 512;
const MAX_BYTES = 4 * 1024 * 1024;

export function createMemberBatch(target: MemberBatchTarget): MemberBatch {
  const maxBytes = Math.max(1, Math.min(MAX_BYTES, Math.floor(target.packBytes / 2)));
  let queued = new Map<Digest, Uint8Array>();
  let queuedBytes = 0;

  const sort = async (): Promise<void> => {
    const batch = queued;
    queued = new Map();
    queuedBytes = 0;
    const { meta, namespace, claims, owner, pack, waiting } = target;
    const fresh = [...batch.keys()].filter((d) => !pack.has(d) && !waiting.has(d));
    if (fresh.length === 0) return;
    const lacking = await meta.missingBlobs(namespace, fresh);
    // Stored for another namespace: verifying the bytes proved this one holds them too.
    const elsewhere = new Set(lacking.length === 0 ? [] : await meta.storedBlobs(lacking));
    const toPack: Digest[] = [];
    const toGrant: Digest[] = [];
    // Claimed right after the index said "not stored", with no await in between: of several uploads, one packs it.
    for (const digest of lacking) {
      if (elsewhere.has(digest)) {
        toGrant.push(digest);
        continue;
      }
      const other = claims?.claim(digest, owner);
      if (other === undefined) toPack.push(digest);
      else waiting.set(digest, other);
    }
    if (toGrant.length > 0) {
      const granted = new Set(await meta.grantStored(namespace, toGrant));
      const gone = toGrant.find((d) => !granted.has(d));
      if (gone !== undefined) {
        throw new DpkgError("E_UNAVAILABLE", `blob ${gone} was garbage collected while it was being uploaded; retry the upload`, { digest: gone });
      }
    }
    for (const digest of toPack) {
      const bytes = batch.get(digest)!;
      // Keeps packs at or under packBytes unless one member alone is bigger.
      if (pack.bytes > 0 && pack.bytes + bytes.byteLength > target.packBytes) await pack.flush();
      pack.add(digest, bytes);
      if (pack.bytes >= target.packBytes) await pack.flush();
    }
  };

  return {
    add(digest, bytes) {
      if (!queued.has(digest)) {
        queued.set(digest, bytes);
        queuedBytes += bytes.byteLength;
      }
      return queued.size >= MAX_MEMBERS || queuedBytes >= maxBytes;
    },
    sort,
  };
}
