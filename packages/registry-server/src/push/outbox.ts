import type { BlobStore } from "../blob-store/blob-store.js";
import { revisionKey, tagKey } from "../blob-store/layout.js";
import { encodeRevisionRecord, encodeTagRecord } from "../bucket-records.js";
import type { MetadataStore, OutboxItem } from "../metadata/metadata-store.js";

const BATCH = 100;

/**
 * Mirrors queued revision and tag records from the index into the bucket (see OutboxItem).
 * Flushes are serialized within the process; a failed write stays queued and is retried by the
 * next flush (every commit triggers one, and so does startup).
 */
export function createOutboxFlusher(deps: { blobs: BlobStore; meta: MetadataStore }): () => Promise<void> {
  let running: Promise<void> = Promise.resolve();
  return () => {
    running = running.catch(() => undefined).then(() => flushAll(deps));
    return running;
  };
}

async function flushAll({ blobs, meta }: { blobs: BlobStore; meta: MetadataStore }): Promise<void> {
  for (;;) {
    const items = await meta.pendingOutbox(BATCH);
    if (items.length === 0) return;
    for (const item of items) await write(item, blobs, meta);
    await meta.completeOutbox(items.map((i) => i.id));
    if (items.length < BATCH) return;
  }
}

async function write(item: OutboxItem, blobs: BlobStore, meta: MetadataStore): Promise<void> {
  if (item.kind === "revision") {
    const r = item.revision;
    await blobs.put(revisionKey(r, r.createdAt, r.digest), encodeRevisionRecord(r));
    return;
  }
  const history = await meta.tagHistory(item.pkg, item.tag);
  const last = history.at(-1);
  const key = tagKey(item.pkg, item.tag);
  if (last === undefined || last.to === null) {
    await blobs.delete(key);
  } else {
    await blobs.put(key, encodeTagRecord(item.pkg, { ...last, to: last.to }), { overwrite: true });
  }
}
