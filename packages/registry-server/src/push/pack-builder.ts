/**
 * The in-memory pack a push fills with verified small blobs. Storing a pack writes the pack, then its index,
 * then the blob locations, in that order, so that neither the index nor the metadata store ever points at
 * bytes that are not stored: a crash between steps leaves at worst an unindexed pack, which gc removes.
 *
 * Packs are stored in the background while the next one fills: a store to S3 takes a few hundred
 * milliseconds, and an upload that waited for each one would leave its client idle meanwhile. At most
 * `maxStoring` packs are being stored at once (the next flush waits for a slot), so memory stays
 * at (1 + maxStoring) packs per upload.
 *
 * A pack's bytes are copied once, as blobs are added, into buffers of the store's part size: hashing
 * the pack is then a few large updates (a third of the cost of one per blob), and the store sends
 * those buffers as they are. The buffers come from a pool shared by uploads and go back to it once
 * the pack is stored, so their memory is reused instead of page-faulted in again for every pack.
 */
import { createDigester, type Digest } from "@dpkg/core";
import type { BlobSource, BlobStore } from "../blob-store/blob-store.js";
import { packIndexKey, packKey } from "../blob-store/layout.js";
import { PartPool } from "../blob-store/part-pool.js";
import { putWhole } from "../blob-store/put-whole.js";
import type { BlobLocationRecord, MetadataStore } from "../metadata/metadata-store.js";
import { encodePackIndex, packLocations, type PackIndexEntry } from "./pack-index.js";

export interface PackBuilder {
  /** Bytes buffered so far (not counting packs being stored). */
  readonly bytes: number;
  /** Whether the blob is buffered or in a pack being stored. */
  has(digest: Digest): boolean;
  /** Appends (copies) a verified blob. */
  add(digest: Digest, bytes: Uint8Array): void;
  /**
   * Starts storing the buffered blobs, if any, and empties the buffer. Resolves once the store has
   * started, waiting first for a slot when `maxStoring` stores are running; throws the error of an
   * earlier store that failed.
   */
  flush(): Promise<void>;
  /** Waits for every store started; returns the bytes they wrote, or throws the first failure. */
  drain(): Promise<number>;
  /** Waits for every store started, ignoring failures (cleanup after another error). */
  settle(): Promise<void>;
}

export interface PackTarget {
  blobs: BlobStore;
  meta: MetadataStore;
  namespace: string;
  /** Told of every pack once its locations are recorded. */
  onStored?: (locations: BlobLocationRecord[], ticket: number) => void;
  /** Packs being stored at once (default 1). */
  maxStoring?: number;
  /** Where pack buffers come from (shared by uploads); by default, a pool of this builder's own. */
  buffers?: PartPool;
}

/** Pack buffers when the store does not upload in parts. */
export const DEFAULT_PACK_BUFFER_BYTES = 8 * 1024 * 1024;

interface Buffered {
  /** Full buffers, then the one being filled (`fill` bytes of it). */
  buffers: Buffer[];
  fill: number;
  entries: PackIndexEntry[];
  digests: Set<Digest>;
}

export function createPackBuilder(target: PackTarget): PackBuilder {
  const maxStoring = Math.max(1, target.maxStoring ?? 1);
  const pool = target.buffers ?? new PartPool(target.blobs.partSize ?? DEFAULT_PACK_BUFFER_BYTES, 4);
  let current: Buffered = empty();
  let bytes = 0;
  let written = 0;
  let failure: { err: unknown } | undefined;
  const storing = new Map<Promise<void>, Set<Digest>>();

  const check = (): void => {
    if (failure !== undefined) throw failure.err;
  };
  const settle = async (): Promise<void> => {
    while (storing.size > 0) await Promise.all(storing.keys());
  };

  const flush = async (): Promise<void> => {
    check();
    if (current.entries.length === 0) return;
    while (storing.size >= maxStoring) await Promise.race(storing.keys());
    check();
    const pack = current;
    current = empty();
    bytes = 0;
    // Failures are kept, not thrown here: the next flush or drain reports them.
    const task: Promise<void> = storePack(target, packBytes(pack), pack.entries)
      .then(
        (n) => void (written += n),
        (err: unknown) => void (failure ??= { err }),
      )
      .finally(() => {
        storing.delete(task);
        // The store is done with them (puts read their source only until they return).
        for (const buffer of pack.buffers) pool.give(buffer);
      });
    storing.set(task, pack.digests);
  };

  return {
    get bytes() {
      return bytes;
    },
    has(digest) {
      if (current.digests.has(digest)) return true;
      for (const digests of storing.values()) if (digests.has(digest)) return true;
      return false;
    },
    add(digest, member) {
      if (current.digests.has(digest)) return;
      current.digests.add(digest);
      current.entries.push({ digest, offset: bytes, size: member.byteLength });
      for (let at = 0; at < member.byteLength; ) {
        let buffer = current.buffers.at(-1);
        if (buffer === undefined || current.fill === buffer.byteLength) {
          buffer = pool.take();
          current.buffers.push(buffer);
          current.fill = 0;
        }
        const n = Math.min(member.byteLength - at, buffer.byteLength - current.fill);
        buffer.set(at === 0 && n === member.byteLength ? member : member.subarray(at, at + n), current.fill);
        current.fill += n;
        at += n;
      }
      bytes += member.byteLength;
    },
    flush,
    async drain() {
      await flush();
      await settle();
      check();
      return written;
    },
    settle,
  };
}

function empty(): Buffered {
  return { buffers: [], fill: 0, entries: [], digests: new Set() };
}

/** The pack's bytes: its full buffers and the filled start of the last one. */
function packBytes(pack: Buffered): Uint8Array[] {
  return pack.buffers.map((b, i) => (i === pack.buffers.length - 1 ? b.subarray(0, pack.fill) : b));
}

async function storePack(target: PackTarget, parts: Uint8Array[], entries: PackIndexEntry[]): Promise<number> {
  const { blobs, meta, namespace } = target;
  const hasher = createDigester();
  for (const part of parts) hasher.update(part);
  const packDigest = hasher.digest();
  // The pack is named by its own digest, so an existing object under that key holds these very bytes,
  // unless gc is deleting it: the ticket makes recordBlobs refuse the locations then.
  const ticket = await meta.objectWriteTicket(packKey(packDigest));
  const size = parts.reduce((n, part) => n + part.byteLength, 0);
  // One buffer goes as it is (a store sends a single buffer without cutting it into parts).
  const source = (): BlobSource => (parts.length === 1 ? parts[0]! : chunks(parts));
  const pack = await putWhole(blobs, packKey(packDigest), source, size);
  const indexBytes = encodePackIndex(entries);
  const index = await putWhole(blobs, packIndexKey(packDigest), () => indexBytes, indexBytes.byteLength);
  const locations = packLocations(packDigest, entries);
  await meta.recordBlobs(namespace, locations, ticket);
  target.onStored?.(locations, ticket);
  return (pack.created ? pack.size : 0) + (index.created ? index.size : 0);
}

async function* chunks(parts: Uint8Array[]): AsyncGenerator<Uint8Array, void, undefined> {
  yield* parts;
}
