import type Database from "better-sqlite3";
import { DEFAULT_TAG, DpkgError, parseTag } from "@dpkg/core";
import type { CommitInput, CommitResult } from "../metadata-store.js";
import { missingBlobsOfManifest } from "./blobs.js";
import { ensurePackage, formatName, requireManifest, revisionById, revisionOf, sql } from "./rows.js";
import { queueRevision, queueTag } from "./outbox.js";
import { currentTag, moveTag, type TagTarget } from "./tags.js";

/** Missing digests named in an E_MISSING_BLOBS error. */
const MISSING_REPORTED = 100;

/**
 * Records a revision, its tag moves and their bucket outbox items in one IMMEDIATE transaction: the write lock is taken before anything is read,
 * so concurrent commits (from this or another process) run one after the other and each sees the
 * latest of the one before; none is lost, and `expectParent` is checked against the true latest.
 *
 * Content equal to the current `latest` records no revision; tags asked for besides `latest` are
 * still moved (and logged), as a user re-pushing unchanged data with `--tag prod` expects.
 */
export function commit(db: Database.Database, input: CommitInput): CommitResult {
  for (const tag of input.tags) parseTag(tag);
  return db
    .transaction((): CommitResult => {
      const manifest = requireManifest(db, input.digest);
      const pkg = ensurePackage(db, input.pkg, input.createdAt);
      const latest = currentTag(db, pkg.id, DEFAULT_TAG);
      const actual = latest?.digest ?? null;
      if (input.expectParent !== undefined && input.expectParent !== actual) {
        throw new DpkgError(
          "E_CONFLICT",
          `${formatName(input.pkg)}: expected latest to be ${input.expectParent ?? "no revision"}, but it is ${actual ?? "no revision"}`,
          { package: formatName(input.pkg), expected: input.expectParent, actual },
        );
      }
      const target: TagTarget = { manifestId: manifest.id, digest: manifest.digest };
      const move = (tag: string): void => {
        const record = moveTag(db, { packageId: pkg.id, tag, target, by: input.author, at: input.createdAt });
        if (record.from !== record.to) queueTag(db, pkg.id, tag);
      };
      const extraTags = [...new Set(input.tags)].filter((t) => t !== DEFAULT_TAG);

      if (actual === input.digest) {
        extraTags.forEach(move);
        const revision = revisionOf(db, pkg.id, manifest.id);
        if (revision === null) throw new Error(`latest of ${formatName(input.pkg)} points at no revision`);
        return { revision, unchanged: true, tags: extraTags };
      }

      const missing = missingBlobsOfManifest(db, input.digest, input.pkg.namespace, MISSING_REPORTED);
      if (missing.length > 0) {
        throw new DpkgError(
          "E_MISSING_BLOBS",
          `${formatName(input.pkg)}: ${missing.length === MISSING_REPORTED ? `at least ${MISSING_REPORTED}` : missing.length} blobs of manifest ${input.digest} are not stored for namespace ${input.pkg.namespace}`,
          { package: formatName(input.pkg), digest: input.digest, missing },
        );
      }
      // Every blob is already granted to the namespace (checked just above), which is what a
      // committed revision would grant: nothing to insert into blob_grants here.
      const id = sql<[number, number, string | null, string, string, number]>(
        db,
        "INSERT INTO revisions (package_id, manifest_id, parent, message, author, created_at) VALUES (?, ?, ?, ?, ?, ?)",
      ).run(pkg.id, manifest.id, actual, input.message, input.author, input.createdAt.getTime()).lastInsertRowid;

      const moveLatest = input.moveLatest || input.tags.includes(DEFAULT_TAG);
      const tags = moveLatest ? [DEFAULT_TAG, ...extraTags] : extraTags;
      queueRevision(db, pkg.id, Number(id));
      tags.forEach(move);
      return { revision: revisionById(db, Number(id)), unchanged: false, tags };
    })
    .immediate();
}
