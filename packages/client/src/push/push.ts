import {
  encodeHeaderLine,
  encodeManifest,
  findCaseCollisions,
  formatPackageName,
  isDpkgError,
  parseTag,
  summarizeManifest,
  type Digest,
  type JsonObject,
  type ManifestEntry,
  type PackageName,
} from "@dpkg/core";
import { Readable } from "node:stream";
import type { RegistryClient } from "../registry-client.js";
import { applyEntryMeta } from "./entry-meta.js";
import { DEFAULT_HASH_CONCURRENCY, hashFiles } from "./hash-files.js";
import { uploadBlobs, type UploadBlob } from "./upload.js";
import { walkFolder } from "./walk.js";

export { readEntryMetaFile } from "./entry-meta.js";

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
  /** Files hashed at once (default 8); upload requests in flight are half of it, 1 to 8 (default 4). */
  concurrency?: number;
  onProgress?: (p: PushProgress) => void;
  /** Skipped symlinks and special files, paths that differ only in case, an empty folder. */
  warn?: (message: string) => void;
}

/** Each phase opens with an event at zero; "upload" counts only the blobs the registry lacks. */
export interface PushProgress {
  phase: "hash" | "upload" | "commit";
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
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
  const progress = options.onProgress ?? (() => {});
  // Refuse bad arguments before reading a byte: hashing a large folder first would waste minutes.
  const name = formatPackageName(pkg);
  for (const tag of options.tags ?? []) parseTag(tag);
  const header = { meta: options.meta ?? {} };
  encodeHeaderLine(header, "package meta");

  const walked = await walkFolder(options.dir, { exclude: options.exclude, warn });
  if (walked.length === 0) warn(`${JSON.stringify(options.dir)} holds no files to push: the revision will be empty`);
  const caseCollisions = findCaseCollisions(walked.map((f) => f.path));
  for (const group of caseCollisions) {
    warn(`paths differ only in case and collide on case-insensitive file systems (macOS, Windows): ${group.map((p) => JSON.stringify(p)).join(", ")}`);
  }
  const files = applyEntryMeta(walked, options.entryMeta);

  const totalFiles = files.length;
  const totalBytes = files.reduce((n, f) => n + f.size, 0);
  progress({ phase: "hash", files: 0, totalFiles, bytes: 0, totalBytes });
  const hashed = await hashFiles(files, {
    concurrency: options.concurrency ?? DEFAULT_HASH_CONCURRENCY,
    onProgress: (done) => progress({ phase: "hash", ...done, totalFiles, totalBytes }),
  });
  const entries: ManifestEntry[] = hashed.map(({ path, size, digest, meta }) =>
    meta === undefined ? { path, size, digest } : { path, size, digest, meta },
  );
  const summary = await summarizeManifest(header, entries);

  const distinct = new Map<Digest, UploadBlob>();
  for (const file of hashed) if (!distinct.has(file.digest)) distinct.set(file.digest, file);
  const sent = { bytesSent: 0, blobsSent: 0 };
  const sendMissing = async (): Promise<void> => {
    const missing = new Set(await client.missing(pkg, [...distinct.keys()]));
    const toSend = [...distinct.values()].filter((b) => missing.has(b.digest));
    const sendFiles = toSend.length;
    const sendBytes = toSend.reduce((n, b) => n + b.size, 0);
    progress({ phase: "upload", files: 0, totalFiles: sendFiles, bytes: 0, totalBytes: sendBytes });
    const done = await uploadBlobs({
      client,
      pkg,
      blobs: toSend,
      concurrency: uploadConcurrency(options.concurrency),
      onProgress: (s) => progress({ phase: "upload", files: s.blobs, totalFiles: sendFiles, bytes: s.bytes, totalBytes: sendBytes }),
    });
    sent.bytesSent += done.bytesSent;
    sent.blobsSent += done.blobsSent;
  };
  await sendMissing();

  let committed: Awaited<ReturnType<RegistryClient["commit"]>>;
  for (let attempt = 1; ; attempt++) {
    progress({ phase: "commit", files: summary.entryCount, totalFiles: summary.entryCount, bytes: summary.totalSize, totalBytes: summary.totalSize });
    try {
      committed = await client.commit(
        pkg,
        summary.digest,
        // A factory: a retried commit re-encodes the manifest from the entries rather than holding its bytes.
        () => Readable.from(encodeManifest(header, entries), { objectMode: false }),
        { message: options.message, tags: options.tags, expectParent: options.expectParent },
      );
      break;
    } catch (err) {
      // Blobs found stored (or just sent) may have been garbage collected before the manifest named
      // them. The refused commit left the manifest staged, which keeps what is sent now from gc.
      if (!isDpkgError(err, "E_MISSING_BLOBS") || attempt >= COMMIT_ATTEMPTS) throw err;
      await sendMissing();
    }
  }
  return {
    digest: summary.digest,
    ref: `${name}@${summary.digest}`,
    unchanged: committed.unchanged,
    files: summary.entryCount,
    bytes: summary.totalSize,
    bytesSent: sent.bytesSent,
    blobsSent: sent.blobsSent,
    tags: committed.tags,
    caseCollisions,
  };
}

/** Commits tried when the registry reports blobs missing that this push found stored or sent. */
const COMMIT_ATTEMPTS = 3;

function uploadConcurrency(concurrency: number | undefined): number | undefined {
  return concurrency === undefined ? undefined : Math.max(1, Math.min(8, Math.ceil(concurrency / 2)));
}
