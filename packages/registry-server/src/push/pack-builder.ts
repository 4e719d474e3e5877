/**
 * The in-memory pack a push fills with verified small blobs. Flushing writes the pack, then its index, then
 * the blob locations, in that order, so that neither the index nor the metadata store ever points at bytes
 * that are not stored: a crash between steps leaves at worst an unindexed pack, which gc removes.
 */
import { createDigester, type Digest } from "@dpkg/core";
import type { BlobStore } from "../blob-store/blob-store.js";
import { packIndexKey, packKey } from "../blob-store/layout.js";
import { putWhole } from "../blob-store/put-whole.js";
import type { BlobLocationRecord, MetadataStore } from "../metadata/metadata-store.js";
import { encodePackIndex, packLocations, type PackIndexEntry } from "./pack-index.js";

export interface PackBuilder {
  /** Bytes buffered so far. */
  readonly bytes: number;
  has(digest: Digest): boolean;
  /** Appends a verified blob; `bytes` must not be shared with anyone who could still change it. */
  add(digest: Digest, bytes: Uint8Array): void;
  /** Stores and records the buffered blobs, if any, and empties the buffer; returns the bytes written. */
  flush(): Promise<number>;
}

export interface PackTarget {
  blobs: BlobStore;
  meta: MetadataStore;
  namespace: string;
  /** Told of every pack once its locations are recorded. */
  onStored?: (locations: BlobLocationRecord[], ticket: number) => void;
}

export function createPackBuilder(target: PackTarget): PackBuilder {
  let members: Uint8Array[] = [];
  let entries: PackIndexEntry[] = [];
  let digests = new Set<Digest>();
  let bytes = 0;

  return {
    get bytes() {
      return bytes;
    },
    has: (digest) => digests.has(digest),
    add(digest, member) {
      if (digests.has(digest)) return;
      digests.add(digest);
      entries.push({ digest, offset: bytes, size: member.byteLength });
      members.push(member);
      bytes += member.byteLength;
    },
    async flush() {
      if (entries.length === 0) return 0;
      const written = await storePack(target, members, entries);
      members = [];
      entries = [];
      digests = new Set();
      bytes = 0;
      return written;
    },
  };
}

async function storePack(target: PackTarget, members: Uint8Array[], entries: PackIndexEntry[]): Promise<number> {
  const { blobs, meta, namespace } = target;
  const hasher = createDigester();
  for (const m of members) hasher.update(m);
  const packDigest = hasher.digest();
  // The pack is named by its own digest, so an existing object under that key holds these very bytes,
  // unless gc is deleting it: the ticket makes recordBlobs refuse the locations then.
  const ticket = await meta.objectWriteTicket(packKey(packDigest));
  const packBytes = members.reduce((n, m) => n + m.byteLength, 0);
  const pack = await putWhole(blobs, packKey(packDigest), () => chunks(members), packBytes);
  const indexBytes = encodePackIndex(entries);
  const index = await putWhole(blobs, packIndexKey(packDigest), () => indexBytes, indexBytes.byteLength);
  const locations = packLocations(packDigest, entries);
  await meta.recordBlobs(namespace, locations, ticket);
  target.onStored?.(locations, ticket);
  return (pack.created ? pack.size : 0) + (index.created ? index.size : 0);
}

async function* chunks(members: Uint8Array[]): AsyncGenerator<Uint8Array, void, undefined> {
  yield* members;
}
