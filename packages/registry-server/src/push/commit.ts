import {
  DpkgError,
  readManifest,
  type Digest,
  type ManifestEntry,
  type ManifestSummary,
  type PackageName,
} from "@dpkg/core";
import { createReadStream } from "node:fs";
import { open, rm } from "node:fs/promises";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import type { BlobStore } from "../blob-store/blob-store.js";
import { manifestKey } from "../blob-store/layout.js";
import { putWhole } from "../blob-store/put-whole.js";
import type { CommitResult, MetadataStore } from "../metadata/metadata-store.js";

export interface CommitRequest {
  pkg: PackageName;
  /** The top hash the client computed; the manifest must hash to it. */
  digest: Digest;
  message: string;
  author: string;
  tags: string[];
  moveLatest: boolean;
  expectParent?: Digest | null;
  /** The request's content-length, if it sent one: refused before reading when over the limit. */
  declaredBytes?: number;
}

export interface CommitDeps {
  blobs: BlobStore;
  meta: MetadataStore;
  /** Manifests larger than this are refused with E_TOO_LARGE (default 2 GiB). */
  maxManifestBytes?: number;
  /** A folder on the registry's disk for the manifest while it streams in. */
  tmpDir: string;
  /** Mirrors queued revision and tag records into the bucket (see OutboxItem). */
  flushOutbox: () => Promise<void>;
  now?: () => Date;
}

const MISSING_REPORT_LIMIT = 100;
export const DEFAULT_MAX_MANIFEST_BYTES = 2 * 1024 ** 3;

export type StageRequest = Pick<CommitRequest, "pkg" | "digest" | "declaredBytes">;
export type StageDeps = Omit<CommitDeps, "flushOutbox" | "now">;

/**
 * Commits a manifest streamed as the request body. The manifest is validated line by line by
 * core, indexed in batches as it arrives, and kept in a temp file; only if it hashes to the
 * declared digest, and every blob it names is stored and granted to the namespace, is it written
 * to the bucket and recorded as a revision, in one index transaction. Until then nothing is visible.
 */
export async function commitManifest(body: AsyncIterable<Uint8Array>, req: CommitRequest, deps: CommitDeps): Promise<CommitResult> {
  return withReceivedManifest(body, req, deps, async (tmp, summary) => {
    await checkBlobs(req, deps);
    await putWhole(deps.blobs, manifestKey(req.digest), () => createReadStream(tmp), summary.byteLength);
    return record(req, deps);
  });
}

/**
 * Stages a manifest ahead of its commit (PUT .../manifests/DIGEST): checked and indexed as a commit
 * would, and written to the bucket, but no revision names it, so nothing is visible. A client sends it
 * while its last blobs are still on their way, and then commits it by digest alone (commitStaged):
 * the work on the manifest is then off the path between the last blob stored and the revision.
 */
export async function stageManifest(body: AsyncIterable<Uint8Array>, req: StageRequest, deps: StageDeps): Promise<ManifestSummary> {
  return withReceivedManifest(body, req, deps, async (tmp, summary) => {
    await putWhole(deps.blobs, manifestKey(req.digest), () => createReadStream(tmp), summary.byteLength);
    return summary;
  });
}

/**
 * Commits a manifest staged before (POST .../revisions without a body). E_NOT_STAGED when this
 * registry does not hold it indexed and stored (never staged, or a commit attempt that stopped
 * before storing it): the client then sends it with the commit.
 */
export async function commitStaged(req: CommitRequest, deps: CommitDeps): Promise<CommitResult> {
  if (!(await deps.meta.hasManifest(req.digest)) || (await deps.blobs.stat(manifestKey(req.digest))) === null) {
    throw new DpkgError("E_NOT_STAGED", `the manifest ${req.digest} is not staged on this registry`, { digest: req.digest });
  }
  await checkBlobs(req, deps);
  return record(req, deps);
}

/** Receives the body into a temp file and the index (see receiveManifest), runs `then`, removes the file. */
async function withReceivedManifest<T>(
  body: AsyncIterable<Uint8Array>,
  req: StageRequest,
  deps: StageDeps,
  then: (tmp: string, summary: ManifestSummary) => Promise<T>,
): Promise<T> {
  const maxBytes = deps.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES;
  if (req.declaredBytes !== undefined && req.declaredBytes > maxBytes) throw tooLarge(maxBytes);
  const tmp = join(deps.tmpDir, `manifest-${randomUUID()}.jsonl`);
  try {
    const summary = await receiveManifest(body, req.digest, tmp, deps.meta, maxBytes);
    return await then(tmp, summary);
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Every blob the staged manifest names is stored, granted to the namespace, and of the size it declares. */
async function checkBlobs(req: CommitRequest, deps: CommitDeps): Promise<void> {
  const missing = await deps.meta.missingBlobsOfManifest(req.digest, req.pkg.namespace, MISSING_REPORT_LIMIT);
  if (missing.length > 0) {
    throw new DpkgError(
      "E_MISSING_BLOBS",
      `the manifest names ${missing.length === MISSING_REPORT_LIMIT ? `at least ${missing.length}` : missing.length} blob(s) not uploaded to namespace ${req.pkg.namespace}, e.g. ${missing[0]}`,
      { missing },
    );
  }
  const wrongSizes = await deps.meta.sizeMismatchesOfManifest(req.digest, MISSING_REPORT_LIMIT);
  const first = wrongSizes[0];
  if (first !== undefined) {
    const more = wrongSizes.length > 1 ? ` (and ${wrongSizes.length - 1}${wrongSizes.length === MISSING_REPORT_LIMIT ? "+" : ""} more)` : "";
    throw new DpkgError(
      "E_SIZE_MISMATCH",
      `manifest entry ${JSON.stringify(first.path)} declares ${first.declared} bytes, but blob ${first.digest} has ${first.stored}${more}`,
      { mismatches: wrongSizes },
    );
  }
}

/** The revision record, in one index transaction; then the bucket's mirror of it. */
async function record(req: CommitRequest, deps: CommitDeps): Promise<CommitResult> {
  const result = await deps.meta.commit({
    pkg: req.pkg,
    digest: req.digest,
    message: req.message,
    author: req.author,
    createdAt: (deps.now ?? (() => new Date()))(),
    tags: req.tags,
    moveLatest: req.moveLatest,
    expectParent: req.expectParent,
  });
  await deps.flushOutbox();
  return result;
}

/** Streams the body into a temp file and into the index at once, verifying the top hash at the end. */
async function receiveManifest(
  body: AsyncIterable<Uint8Array>,
  digest: Digest,
  tmp: string,
  meta: MetadataStore,
  maxBytes: number,
): Promise<ManifestSummary> {
  const file = await open(tmp, "wx", 0o600);
  try {
    let received = 0;
    async function* saved(): AsyncGenerator<Uint8Array> {
      for await (const chunk of body) {
        received += chunk.byteLength;
        // Counted here, whatever the framing (chunked bodies declare no length).
        if (received > maxBytes) throw tooLarge(maxBytes);
        await file.write(chunk);
        yield chunk;
      }
    }
    const reader = await readManifest(saved());
    async function* verified(): AsyncGenerator<ManifestEntry> {
      yield* reader.entries;
      const actual = reader.summary().digest;
      if (actual !== digest) {
        throw new DpkgError("E_INTEGRITY", `the manifest hashes to ${actual}, not to the declared ${digest}`, {
          expected: digest,
          actual,
        });
      }
    }
    if (await meta.hasManifest(digest)) {
      // Already indexed by an earlier attempt: still prove the bytes are that manifest.
      for await (const _ of verified()) {
        // drain
      }
    } else {
      await meta.stageManifest(digest, reader.header, verified());
    }
    return reader.summary();
  } finally {
    await file.close();
  }
}

function tooLarge(maxBytes: number): DpkgError {
  return new DpkgError("E_TOO_LARGE", `the manifest is larger than this registry accepts (${maxBytes} bytes)`, { maxBytes });
}
