import {
  encodeHeaderLine,
  encodeManifest,
  findCaseCollisions,
  formatPackageName,
  isDpkgError,
  parseTag,
  type Digest,
  type JsonObject,
  type ManifestEntry,
  type ManifestSummary,
  type PackageName,
} from "@dpkg/core";
import { realpath } from "node:fs/promises";
import { Readable } from "node:stream";
import type { ContentCache } from "../cache/content-cache.js";
import type { RegistryClient } from "../registry-client.js";
import { applyEntryMeta } from "./entry-meta.js";
import { hashAndSend } from "./hash-and-send.js";
import { onLocalDisk } from "../local-disk.js";
import { summarizeManifestKeeping } from "./manifest-summary.js";
import { createPushProgress, type PushProgress } from "./push-progress.js";
import { DEFAULT_UPLOAD_CONCURRENCY, uploadFromFiles, type UploadBlob } from "./upload.js";
import { PushRecord } from "./push-record.js";
import { walkFolder, type WalkedFile } from "./walk.js";

export { readEntryMetaFile } from "./entry-meta.js";
export type { PushProgress } from "./push-progress.js";

export interface PushOptions {
  client: RegistryClient;
  dir: string;
  pkg: PackageName;
  message?: string;
  tags?: string[];
  /** Package-level metadata (the manifest header's meta). */
  meta?: JsonObject;
  /** Per-entry metadata by entry path; a path that matches no pushed file is an error. */
  entryMeta?: Map<string, JsonObject>;
  /** Globs of entry paths to leave out (core's compilePathGlobs semantics). */
  exclude?: string[];
  /** Fail with E_CONFLICT unless the package's latest is this revision ("none": unless it has none). */
  expectParent?: Digest | "none";
  /** Upload requests in flight are half of this, 1 to 8 (default 4). */
  concurrency?: number;
  onProgress?: (p: PushProgress) => void;
  /** Skipped symlinks and special files, paths that differ only in case, an empty folder. */
  warn?: (message: string) => void;
  /**
   * The per-user cache: with it, a push records what it read, and the next push of the folder does
   * not read again the files unchanged since (see push-record.ts).
   */
  cache?: ContentCache;
}

export interface PushReport {
  digest: Digest;
  /** ns/name@blake3:hex */
  ref: string;
  /** The content equals the package's latest revision: nothing new was recorded. */
  unchanged: boolean;
  files: number;
  bytes: number;
  /** File bytes actually sent (blobs the registry already held are not sent again). */
  bytesSent: number;
  blobsSent: number;
  /** Files not read at all: unchanged since an earlier push of the folder read them, and stored. */
  filesReused: number;
  tags: string[];
  caseCollisions: string[][];
}

/**
 * Pushes a folder as a new revision: walk, hash, build the manifest, send only the blobs the registry
 * lacks, commit. Nothing is visible until the commit succeeds, and the commit names only blobs the
 * server has verified, so a failed or interrupted push leaves no revision; running it again resumes,
 * as blobs already stored are not sent again.
 */
export async function push(options: PushOptions): Promise<PushReport> {
  const { client, pkg } = options;
  const warn = options.warn ?? (() => {});
  // Refuse bad arguments before reading a byte: hashing a large folder first would waste minutes.
  const name = formatPackageName(pkg);
  for (const tag of options.tags ?? []) parseTag(tag);
  const header = { meta: options.meta ?? {} };
  encodeHeaderLine(header, "package meta");

  const syncIo = await onLocalDisk(options.dir);
  // Taken before the walk: timestamps this close to it are not trusted by the next push (push-record.ts).
  const walkedAt = Date.now();
  const walked = await walkFolder(options.dir, { exclude: options.exclude, warn, syncIo });
  const record = options.cache === undefined ? undefined : await PushRecord.load(options.cache.root, await realpath(options.dir));
  if (walked.length === 0) warn(`${JSON.stringify(options.dir)} holds no files to push: the revision will be empty`);
  const caseCollisions = findCaseCollisions(walked.map((f) => f.path));
  for (const group of caseCollisions) {
    warn(`paths differ only in case and collide on case-insensitive file systems (macOS, Windows): ${group.map((p) => JSON.stringify(p)).join(", ")}`);
  }
  const files = applyEntryMeta(walked, options.entryMeta);

  const uploadConcurrency = uploadConcurrencyOf(options.concurrency);
  const progress = createPushProgress({ files: files.length, bytes: files.reduce((n, f) => n + f.size, 0) }, options.onProgress ?? (() => {}));
  const { counts } = progress;
  const known = record === undefined ? undefined : (file: WalkedFile): Digest | undefined => record.takeDigest(file);
  const run = hashAndSend({ client, pkg, files, uploadConcurrency, syncIo, known, counts, changed: progress.report });
  let hashed: (WalkedFile & { digest: Digest; meta?: JsonObject })[];
  let summary: ManifestSummary;
  let manifestBytes: Uint8Array[] | undefined;
  let distinct: Map<Digest, UploadBlob>;
  // A factory: a retried request sends the manifest again (encoded again when it was too large to keep).
  const manifestBody = (): Readable => Readable.from(manifestBytes ?? encodeManifest(header, manifestEntries(hashed)), { objectMode: false });
  let staging: Promise<boolean> | undefined;
  try {
    hashed = await run.hashed;
    progress.hashed();
    distinct = new Map();
    for (const file of hashed) if (!distinct.has(file.digest)) distinct.set(file.digest, file);
    // Built, and staged on the registry, while the last blobs are still on their way: the registry's
    // work on the manifest (checking, indexing, storing it) is then off the path between the last blob
    // stored and the revision. A registry that cannot stage it gets it with the commit instead.
    ({ summary, bytes: manifestBytes } = await summarizeManifestKeeping(header, manifestEntries(hashed)));
    staging = client.stageManifest(pkg, summary.digest, manifestBody).then(
      () => true,
      () => false,
    );
  } finally {
    await staging; // never rejects: a manifest not staged goes with the commit
    await run.sent();
  }
  let staged = await staging;

  const sendMissing = async (): Promise<void> => {
    // Only after a refused commit: the bytes are no longer in memory, so files are read (and checked) again.
    const missing = new Set(await client.missing(pkg, [...distinct.keys()]));
    const toSend = [...distinct.values()].filter((b) => missing.has(b.digest));
    counts.toSend.blobs += toSend.length;
    counts.toSend.bytes += toSend.reduce((n, b) => n + b.size, 0);
    progress.report();
    await uploadFromFiles({ client, pkg, blobs: toSend, concurrency: uploadConcurrency, count: counts.sent });
  };

  let committed: Awaited<ReturnType<RegistryClient["commit"]>>;
  for (let attempt = 1; ; ) {
    progress.committing(summary);
    try {
      committed = await client.commit(pkg, summary.digest, staged === true ? null : manifestBody, {
        message: options.message,
        tags: options.tags,
        expectParent: options.expectParent,
      });
      break;
    } catch (err) {
      // Staged, and gone since (or never stored): the manifest goes with the commit.
      if (staged === true && isDpkgError(err, "E_NOT_STAGED")) {
        staged = false;
        continue;
      }
      // Blobs found stored (or just sent) may have been garbage collected before the manifest named
      // them. The refused commit left the manifest staged, which keeps what is sent now from gc.
      if (!isDpkgError(err, "E_MISSING_BLOBS") || attempt >= COMMIT_ATTEMPTS) throw err;
      attempt += 1;
      await sendMissing();
    }
  }
  // A record that cannot be written costs the next push a full read, nothing more.
  await record?.save(hashed, walkedAt).catch(() => undefined);
  return {
    digest: summary.digest,
    ref: `${name}@${summary.digest}`,
    unchanged: committed.unchanged,
    files: summary.entryCount,
    bytes: summary.totalSize,
    bytesSent: counts.sent.bytes,
    blobsSent: counts.sent.blobs,
    filesReused: counts.reused.files,
    tags: committed.tags,
    caseCollisions,
  };
}

/**
 * The manifest's entries, made as they are encoded rather than kept beside the hashed files: each
 * lives only until its line is written.
 */
function* manifestEntries(files: readonly (WalkedFile & { digest: Digest; meta?: JsonObject })[]): Generator<ManifestEntry, void, undefined> {
  for (const { path, size, digest, meta } of files) yield meta === undefined ? { path, size, digest } : { path, size, digest, meta };
}

/** Commits tried when the registry reports blobs missing that this push found stored or sent. */
const COMMIT_ATTEMPTS = 3;

function uploadConcurrencyOf(concurrency: number | undefined): number {
  return concurrency === undefined ? DEFAULT_UPLOAD_CONCURRENCY : Math.max(1, Math.min(8, Math.ceil(concurrency / 2)));
}
