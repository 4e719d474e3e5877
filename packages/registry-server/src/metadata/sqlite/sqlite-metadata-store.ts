import type Database from "better-sqlite3";
import type { Digest, ManifestEntry, ManifestHeader, PackageName, RefSelector } from "@dpkg/core";
import type {
  BlobLocationRecord,
  CommitInput,
  CommitResult,
  EntrySelection,
  MetadataStore,
  OutboxItem,
  PackageRecord,
  RevisionRecord,
  Scope,
  SearchHitRecord,
  SizeMismatchRecord,
  TagMoveRecord,
  TokenRecord,
} from "../metadata-store.js";
import * as blobs from "./blobs.js";
import { commit } from "./commit.js";
import { importRevision } from "./import-revision.js";
import { integrityCheck } from "./integrity.js";
import * as deletions from "./object-deletions.js";
import { openDatabase } from "./open-database.js";
import * as outbox from "./outbox.js";
import * as revisions from "./revisions.js";
import { ensureNamespace, sql } from "./rows.js";
import { searchPackages } from "./search.js";
import { selectEntries } from "./select-entries.js";
import { stageManifest } from "./staging.js";
import * as tags from "./tag-commands.js";
import * as tokens from "./tokens.js";

/** Runs synchronous database work as a promise; a throw becomes a rejection. */
function settle<T>(work: () => T): Promise<T> {
  return new Promise((resolve) => resolve(work()));
}

/**
 * The MetadataStore on one better-sqlite3 connection. Each method is one synchronous transaction
 * (better-sqlite3 never yields inside one), except stageManifest, which awaits its input between
 * batches, and selectEntries, which runs one statement per page. Several stores, in this process or
 * others, may share a file: WAL lets reads run alongside, IMMEDIATE transactions queue the writers.
 */
export class SqliteMetadataStore implements MetadataStore {
  /** In-flight staging per manifest, so concurrent pushes of one manifest here stage it once. */
  readonly #staging = new Map<Digest, Promise<void>>();

  constructor(readonly db: Database.Database) {}

  hasManifest(digest: Digest): Promise<boolean> {
    return settle(
      () => sql<[string], number>(this.db, "SELECT complete FROM manifests WHERE digest = ?").pluck().get(digest) === 1,
    );
  }

  async stageManifest(digest: Digest, header: ManifestHeader, entries: AsyncIterable<ManifestEntry>): Promise<void> {
    for (let running = this.#staging.get(digest); running !== undefined; running = this.#staging.get(digest)) {
      // Whether it fails or not, the other attempt leaves the manifest complete or ours to redo.
      await running.catch(() => undefined);
    }
    const attempt = stageManifest(this.db, digest, header, entries);
    this.#staging.set(digest, attempt);
    try {
      await attempt;
    } finally {
      this.#staging.delete(digest);
    }
  }

  missingBlobsOfManifest(digest: Digest, namespace: string, limit: number): Promise<Digest[]> {
    return settle(() => blobs.missingBlobsOfManifest(this.db, digest, namespace, limit));
  }

  sizeMismatchesOfManifest(digest: Digest, limit: number): Promise<SizeMismatchRecord[]> {
    return settle(() => blobs.sizeMismatchesOfManifest(this.db, digest, limit));
  }

  commit(input: CommitInput): Promise<CommitResult> {
    return settle(() => commit(this.db, input));
  }

  getPackage(pkg: PackageName): Promise<PackageRecord | null> {
    return settle(() => revisions.getPackage(this.db, pkg));
  }

  listRevisions(pkg: PackageName, options: { limit: number; before?: Date }): Promise<RevisionRecord[]> {
    return settle(() => revisions.listRevisions(this.db, pkg, options));
  }

  resolve(pkg: PackageName, selector: RefSelector): Promise<RevisionRecord> {
    return settle(() => revisions.resolve(this.db, pkg, selector));
  }

  setTag(pkg: PackageName, tag: string, target: Digest, by: string, at: Date): Promise<TagMoveRecord> {
    return settle(() => tags.setTag(this.db, pkg, tag, target, by, at));
  }

  deleteTag(pkg: PackageName, tag: string, by: string, at: Date): Promise<TagMoveRecord> {
    return settle(() => tags.deleteTag(this.db, pkg, tag, by, at));
  }

  tagHistory(pkg: PackageName, tag?: string): Promise<TagMoveRecord[]> {
    return settle(() => tags.tagHistory(this.db, pkg, tag));
  }

  selectEntries(manifest: Digest, selection: EntrySelection): AsyncIterable<ManifestEntry> {
    return selectEntries(this.db, manifest, selection);
  }

  missingBlobs(namespace: string, digests: Digest[]): Promise<Digest[]> {
    return settle(() => blobs.missingBlobs(this.db, namespace, digests));
  }

  recordBlobs(namespace: string | null, locations: BlobLocationRecord[], ticket?: number): Promise<void> {
    return settle(() => blobs.recordBlobs(this.db, namespace, locations, ticket));
  }

  objectWriteTicket(key: string): Promise<number> {
    return settle(() => deletions.objectWriteTicket(this.db, key));
  }

  storedBlobs(digests: Digest[]): Promise<Digest[]> {
    return settle(() => blobs.storedBlobs(this.db, digests));
  }

  grantStored(namespace: string, digests: Digest[]): Promise<Digest[]> {
    return settle(() => blobs.grantStored(this.db, namespace, digests));
  }

  blobLocations(pkg: PackageName, digests: Digest[]): Promise<BlobLocationRecord[]> {
    return settle(() => blobs.blobLocations(this.db, pkg, digests));
  }

  setNamespacePublic(namespace: string, isPublic: boolean): Promise<void> {
    return settle(() =>
      this.db
        .transaction(() => {
          const id = ensureNamespace(this.db, namespace);
          sql<[number, number]>(this.db, "UPDATE namespaces SET public_read = ? WHERE id = ?").run(
            isPublic ? 1 : 0,
            id,
          );
        })
        .immediate(),
    );
  }

  isNamespacePublic(namespace: string): Promise<boolean> {
    return settle(
      () =>
        sql<[string], number>(this.db, "SELECT public_read FROM namespaces WHERE name = ?").pluck().get(namespace) ===
        1,
    );
  }

  listPublicNamespaces(): Promise<string[]> {
    return settle(() =>
      sql<[], string>(this.db, "SELECT name FROM namespaces WHERE public_read = 1 ORDER BY name").pluck().all(),
    );
  }

  createToken(input: { id: string; name: string; hash: string; scopes: Scope[]; createdAt: Date }): Promise<void> {
    return settle(() => tokens.createToken(this.db, input));
  }

  findToken(hash: string): Promise<TokenRecord | null> {
    return settle(() => tokens.findToken(this.db, hash));
  }

  touchToken(id: string, at: Date): Promise<void> {
    return settle(() => tokens.touchToken(this.db, id, at));
  }

  listTokens(): Promise<TokenRecord[]> {
    return settle(() => tokens.listTokens(this.db));
  }

  revokeToken(id: string): Promise<boolean> {
    return settle(() => tokens.revokeToken(this.db, id, new Date()));
  }

  search(
    text: string,
    options: { limit: number; canRead: (namespace: string) => boolean },
  ): Promise<SearchHitRecord[]> {
    return settle(() => searchPackages(this.db, text, options));
  }

  pendingOutbox(limit: number): Promise<OutboxItem[]> {
    return settle(() => outbox.pendingOutbox(this.db, limit));
  }

  completeOutbox(ids: number[]): Promise<void> {
    return settle(() => outbox.completeOutbox(this.db, ids));
  }

  importRevision(record: RevisionRecord): Promise<void> {
    return settle(() => importRevision(this.db, record));
  }

  importTag(pkg: PackageName, move: TagMoveRecord): Promise<void> {
    return settle(() => tags.importTag(this.db, pkg, move));
  }

  liveObjectKeys(): Promise<Set<string>> {
    return settle(() => blobs.liveObjectKeys(this.db));
  }

  markDeleting(keys: string[], at: Date): Promise<string[]> {
    return settle(() => deletions.markDeleting(this.db, keys, at));
  }

  markDeleted(keys: string[], at: Date): Promise<void> {
    return settle(() => deletions.markDeleted(this.db, keys, at));
  }

  unfinishedDeletions(): Promise<string[]> {
    return settle(() => deletions.unfinishedDeletions(this.db));
  }

  integrityCheck(): Promise<string[]> {
    return settle(() => integrityCheck(this.db));
  }

  close(): Promise<void> {
    return settle(() => {
      if (this.db.open) this.db.close();
    });
  }
}

/** Opens (creating and migrating as needed) a metadata store on a file, or on a fresh in-memory database. */
export function openSqliteMetadataStore(file: string): SqliteMetadataStore {
  return new SqliteMetadataStore(openDatabase(file));
}
