/**
 * Garbage collection (`dpkg-registry gc`): deletes whole-blob objects and packs that hold no blob a
 * manifest (staged or committed) names, once they are older than the grace period. The grace period is
 * what protects a push in progress: its blobs are stored before its manifest is staged, and nothing
 * references them until then. Packs are never rewritten: one that still holds a single live blob is kept
 * whole, so nothing is ever copied and a location never moves under a reader. Racing pushes are safe at any
 * grace period: a commit never names an object gc is deleting (MetadataStore.markDeleting), and an upload
 * that found such an object already stored is refused and retried (objectWriteTicket).
 */
import type { BlobStore, ListedBlob } from "../blob-store/blob-store.js";
import { BLOBS_PREFIX, packKey, parseKey } from "../blob-store/layout.js";
import type { MetadataStore } from "../metadata/metadata-store.js";
import { listPacks } from "../push/pack-index.js";

export const DEFAULT_GRACE_MS = 24 * 3600 * 1000;

export interface GcOptions {
  blobs: BlobStore;
  meta: MetadataStore;
  /** Objects modified less than this long ago are kept (default 24 h). */
  graceMs?: number;
  /** Only report (the default); false deletes. */
  dryRun?: boolean;
  now?: Date;
}

export interface GcObject {
  key: string;
  size: number;
  modified: Date;
}

export interface GcReport {
  dryRun: boolean;
  /** Objects older than this were eligible. */
  cutoff: Date;
  /** Deleted, or that would be deleted in a dry run; a pack's index is listed after its pack. */
  garbage: GcObject[];
  garbageBytes: number;
  /** Objects kept because some manifest names a blob in them (such a pack may be partly garbage: kept whole). */
  keptLive: { blobs: number; packs: number };
  /** Unreferenced objects kept because they are younger than the grace period (perhaps a push in progress). */
  keptYoung: { blobs: number; packs: number };
  /** Objects whose deletion failed; their locations are already forgotten, and the next gc retries them first. */
  failed: { key: string; problem: string }[];
}

/** A deletable unit: an object, or a pack together with its index. */
type Candidate = { locationKey: string; objects: ListedBlob[] };

export async function gc(options: GcOptions): Promise<GcReport> {
  const { blobs, meta } = options;
  const dryRun = options.dryRun ?? true;
  const now = options.now ?? new Date();
  const cutoff = new Date(now.getTime() - (options.graceMs ?? DEFAULT_GRACE_MS));
  const old = (o: ListedBlob): boolean => o.modified.getTime() < cutoff.getTime();
  const report: GcReport = {
    dryRun,
    cutoff,
    garbage: [],
    garbageBytes: 0,
    keptLive: { blobs: 0, packs: 0 },
    keptYoung: { blobs: 0, packs: 0 },
    failed: [],
  };
  // Objects an earlier gc forgot but did not finish deleting: nothing can reference them, whatever their age.
  const unfinished = new Set(dryRun ? [] : await meta.unfinishedDeletions());
  const seen = new Set<string>();
  // Read before listing: an object stored after this read is younger than any sane grace period.
  const live = await meta.liveObjectKeys();
  let candidates: Candidate[] = [];

  for await (const object of blobs.list(BLOBS_PREFIX)) {
    // Keys this registry does not write are none of gc's business.
    if (parseKey(object.key).kind !== "blob") continue;
    seen.add(object.key);
    if (unfinished.has(object.key)) candidates.push({ locationKey: object.key, objects: [object] });
    else if (live.has(object.key)) report.keptLive.blobs += 1;
    else if (!old(object)) report.keptYoung.blobs += 1;
    else candidates.push({ locationKey: object.key, objects: [object] });
  }

  for (const { digest, pack, index } of (await listPacks(blobs)).packs) {
    const key = packKey(digest);
    // A pack's age decides for its index too; an index without its pack is judged on its own.
    const judged = pack ?? index;
    if (judged === undefined) continue;
    seen.add(key);
    const objects = index === undefined || judged === index ? [judged] : [judged, index];
    if (unfinished.has(key)) candidates.push({ locationKey: key, objects });
    else if (live.has(key)) report.keptLive.packs += 1;
    else if (!old(judged)) report.keptYoung.packs += 1;
    else candidates.push({ locationKey: key, objects });
  }

  if (!dryRun && candidates.length > 0) {
    // A manifest staged since we listed may have made a candidate live. markDeleting re-checks in the
    // same transaction that forgets the locations and marks the objects, so no commit can slip in
    // between; from then on uploads cannot record these objects until markDeleted. Forget first: a
    // location must never point at a deleted object, while an object without one is only wasted space.
    const marked = new Set(await meta.markDeleting(candidates.map((c) => c.locationKey), now));
    for (const c of candidates.filter((c) => !marked.has(c.locationKey))) {
      if (c.locationKey.startsWith(BLOBS_PREFIX)) report.keptLive.blobs += 1;
      else report.keptLive.packs += 1;
    }
    candidates = candidates.filter((c) => marked.has(c.locationKey));
  }

  const deleted: string[] = [...unfinished].filter((k) => !seen.has(k));
  for (const { locationKey, objects } of candidates) {
    let complete = true;
    for (const object of objects) {
      if (!dryRun) {
        try {
          await blobs.delete(object.key);
        } catch (err) {
          complete = false;
          report.failed.push({ key: object.key, problem: err instanceof Error ? err.message : String(err) });
          continue;
        }
      }
      report.garbage.push({ key: object.key, size: object.size, modified: object.modified });
      report.garbageBytes += object.size;
    }
    if (complete) deleted.push(locationKey);
  }
  // What failed stays marked: uploads keep refusing it and the next gc deletes it first.
  if (!dryRun) await meta.markDeleted(deleted, now);
  return report;
}
