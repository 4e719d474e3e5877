/**
 * Rebuilds the metadata index from the bucket alone (`dpkg-registry reindex`): blob locations from pack
 * indexes and whole-blob objects, manifests, revisions in time order, then current tags. One bad object is
 * reported and skipped, never fatal, so a partly damaged bucket still yields everything that is sound.
 *
 * What the bucket cannot tell: grants from uploads that no revision references (a push cut short before
 * its commit). Those namespaces simply upload the bytes again; a committed revision grants its namespace
 * every blob it names, as it did before.
 */
import { DpkgError, readManifest, type Digest, type ManifestEntry, type PackageName } from "@dpkg/core";
import type { BlobStore } from "../blob-store/blob-store.js";
import { BLOBS_PREFIX, MANIFESTS_PREFIX, parseKey, REFS_PREFIX, revisionKey } from "../blob-store/layout.js";
import { decodeRevisionRecord, decodeTagRecord } from "../bucket-records.js";
import type { BlobLocationRecord, MetadataStore, RevisionRecord, TagMoveRecord } from "../metadata/metadata-store.js";
import { listPacks, packLocations, readAll, readPackIndex } from "../push/pack-index.js";
import { wholeObjectLocation } from "../push/receive-blob.js";

const BATCH = 1000;

export interface ReindexOptions {
  blobs: BlobStore;
  meta: MetadataStore;
  /** Progress lines, one per phase. */
  log?: (line: string) => void;
}

export interface ReindexProblem {
  key: string;
  problem: string;
}

export interface ReindexReport {
  packs: number;
  packedBlobs: number;
  blobs: number;
  manifests: number;
  /** Manifests no revision record names (a commit that failed after writing it); not indexed. */
  unreferencedManifests: number;
  revisions: number;
  tags: number;
  problems: ReindexProblem[];
}

interface Refs {
  revisions: { key: string; record: RevisionRecord }[];
  tags: { key: string; pkg: PackageName; move: TagMoveRecord }[];
}

export async function reindex(options: ReindexOptions): Promise<ReindexReport> {
  const { blobs, meta } = options;
  const log = options.log ?? ((): void => undefined);
  const report: ReindexReport = {
    packs: 0,
    packedBlobs: 0,
    blobs: 0,
    manifests: 0,
    unreferencedManifests: 0,
    revisions: 0,
    tags: 0,
    problems: [],
  };
  const problem = (key: string, err: unknown): void => {
    report.problems.push({ key, problem: err instanceof Error ? err.message : String(err) });
  };

  await indexPacks(blobs, meta, report, problem);
  log(`packs: ${report.packs} (${report.packedBlobs} blobs)`);
  await indexBlobs(blobs, meta, report, problem);
  log(`blobs: ${report.blobs}`);
  const refs = await readRefs(blobs, problem);
  await stageManifests(blobs, meta, new Set(refs.revisions.map((r) => r.record.digest)), report, problem);
  log(`manifests: ${report.manifests} (${report.unreferencedManifests} unreferenced, skipped)`);
  await importRevisions(meta, refs.revisions, report, problem);
  log(`revisions: ${report.revisions}`);
  for (const { key, pkg, move } of refs.tags) {
    try {
      await meta.importTag(pkg, move);
      report.tags += 1;
    } catch (err) {
      problem(key, err);
    }
  }
  log(`tags: ${report.tags}; problems: ${report.problems.length}`);
  return report;
}

type OnProblem = (key: string, err: unknown) => void;

async function indexPacks(
  blobs: BlobStore,
  meta: MetadataStore,
  report: ReindexReport,
  problem: OnProblem,
): Promise<void> {
  const { packs, unknown } = await listPacks(blobs);
  for (const object of unknown) problem(object.key, "not an object key this registry writes");
  for (const { digest, pack, index } of packs) {
    if (pack === undefined || index === undefined) {
      problem((pack ?? index)?.key ?? digest, pack ? "pack without an index (not indexed)" : "index without its pack");
      continue;
    }
    try {
      const entries = await readPackIndex(blobs, digest, pack.size);
      await meta.recordBlobs(null, packLocations(digest, entries));
      report.packs += 1;
      report.packedBlobs += entries.length;
    } catch (err) {
      problem(index.key, err);
    }
  }
}

async function indexBlobs(
  blobs: BlobStore,
  meta: MetadataStore,
  report: ReindexReport,
  problem: OnProblem,
): Promise<void> {
  let batch: BlobLocationRecord[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length > 0) await meta.recordBlobs(null, batch);
    report.blobs += batch.length;
    batch = [];
  };
  for await (const object of blobs.list(BLOBS_PREFIX)) {
    const parsed = parseKey(object.key);
    if (parsed.kind !== "blob") {
      problem(object.key, "not an object key this registry writes");
      continue;
    }
    // Sizes come from the listing: bytes are checked by `verify`, which reindex does not repeat.
    batch.push(wholeObjectLocation(parsed.digest, object.size));
    if (batch.length >= BATCH) await flush();
  }
  await flush();
}

async function readRefs(blobs: BlobStore, problem: OnProblem): Promise<Refs> {
  const refs: Refs = { revisions: [], tags: [] };
  for await (const { key } of blobs.list(REFS_PREFIX)) {
    const parsed = parseKey(key);
    try {
      if (parsed.kind === "revision") {
        const record = decodeRevisionRecord(new TextDecoder().decode(await readAll(blobs, key)), key);
        // The key repeats the record's package, time and digest; a record moved or edited by hand is refused.
        if (revisionKey(record, record.createdAt, record.digest) !== key) {
          throw new DpkgError("E_BAD_REQUEST", `${key}: the record's package, time or digest does not match its key`);
        }
        refs.revisions.push({ key, record });
      } else if (parsed.kind === "tag") {
        const { pkg, move } = decodeTagRecord(new TextDecoder().decode(await readAll(blobs, key)), key);
        if (pkg.namespace !== parsed.package.namespace || pkg.name !== parsed.package.name || move.tag !== parsed.tag) {
          throw new DpkgError("E_BAD_REQUEST", `${key}: the record's package or tag does not match its key`);
        }
        refs.tags.push({ key, pkg, move });
      } else {
        problem(key, "not an object key this registry writes");
      }
    } catch (err) {
      problem(key, err);
    }
  }
  return refs;
}

async function stageManifests(
  blobs: BlobStore,
  meta: MetadataStore,
  referenced: Set<Digest>,
  report: ReindexReport,
  problem: OnProblem,
): Promise<void> {
  for await (const { key } of blobs.list(MANIFESTS_PREFIX)) {
    const parsed = parseKey(key);
    if (parsed.kind !== "manifest") {
      problem(key, "not an object key this registry writes");
      continue;
    }
    if (!referenced.has(parsed.digest)) {
      report.unreferencedManifests += 1;
      continue;
    }
    try {
      if (!(await meta.hasManifest(parsed.digest))) await stageManifest(blobs, meta, key, parsed.digest);
      report.manifests += 1;
    } catch (err) {
      problem(key, err);
    }
  }
}

/** Streams a manifest from the bucket into the index; it stays incomplete unless it hashes to its key. */
async function stageManifest(blobs: BlobStore, meta: MetadataStore, key: string, digest: Digest): Promise<void> {
  const reader = await readManifest(await blobs.get(key));
  async function* verified(): AsyncGenerator<ManifestEntry, void, undefined> {
    yield* reader.entries;
    const actual = reader.summary().digest;
    if (actual !== digest) {
      throw new DpkgError("E_INTEGRITY", `${key}: the manifest hashes to ${actual}, not to ${digest}`, {
        expected: digest,
        actual,
      });
    }
  }
  await meta.stageManifest(digest, reader.header, verified());
}

async function importRevisions(
  meta: MetadataStore,
  revisions: Refs["revisions"],
  report: ReindexReport,
  problem: OnProblem,
): Promise<void> {
  // Oldest first, so each package is created at its first revision and parents precede children.
  const ordered = [...revisions].sort(
    (a, b) => a.record.createdAt.getTime() - b.record.createdAt.getTime() || (a.key < b.key ? -1 : 1),
  );
  for (const { key, record } of ordered) {
    try {
      if (!(await meta.hasManifest(record.digest))) {
        throw new DpkgError("E_NOT_FOUND", `${key}: its manifest ${record.digest} is missing or was not indexed`);
      }
      // Also grants the namespace the manifest's blobs, as the original commit proved it held them.
      await meta.importRevision(record);
      report.revisions += 1;
    } catch (err) {
      problem(key, err);
    }
  }
}
