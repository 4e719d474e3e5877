/**
 * The metadata index: everything the registry answers reads from. SQLite now, PostgreSQL later,
 * both behind this interface and one contract suite (test/contract/metadata-store-contract.ts).
 * Methods are async so that a networked database fits the same shape.
 *
 * Everything here can be rebuilt from the bucket (reindex): the index is a cache of the bucket's
 * manifests, revision records and tag files, plus blob locations and tokens.
 */
import type { Digest, JsonObject, ManifestEntry, ManifestHeader, PackageName, RefSelector } from "@dpkg/core";
import type { QueryNode } from "@dpkg/core";

export interface RevisionRecord {
  namespace: string;
  name: string;
  digest: Digest;
  parent: Digest | null;
  message: string;
  author: string;
  createdAt: Date;
  entryCount: number;
  totalSize: number;
}

export interface PackageRecord {
  namespace: string;
  name: string;
  /** Package metadata from the header of the latest revision's manifest. */
  meta: JsonObject;
  latest: RevisionRecord | null;
  tags: Record<string, Digest>;
  createdAt: Date;
}

export interface TagMoveRecord {
  tag: string;
  from: Digest | null;
  to: Digest | null;
  by: string;
  at: Date;
}

/** Where a blob's bytes are: an object key of the blob store and a byte range within it. */
export interface BlobLocationRecord {
  digest: Digest;
  size: number;
  key: string;
  /** Inclusive. */
  start: number;
  /** Exclusive. */
  end: number;
}

/**
 * A bucket write owed by a committed transaction. commit, setTag and deleteTag queue these in the
 * same transaction as their index change, and the registry mirrors them into the bucket afterwards
 * (and again at startup), so a crash between the two never leaves the bucket, from which reindex
 * rebuilds everything, short of what the index showed. A tag item names the tag only: the flusher
 * writes its *current* target, so out-of-order flushes still converge.
 */
export type OutboxItem = { id: number } & (
  | { kind: "revision"; revision: RevisionRecord }
  | { kind: "tag"; pkg: PackageName; tag: string }
);

/** A manifest entry whose declared size differs from the size of the stored blob it names. */
export interface SizeMismatchRecord {
  path: string;
  digest: Digest;
  declared: number;
  stored: number;
}

export interface CommitInput {
  pkg: PackageName;
  /** A manifest previously stored with stageManifest. */
  digest: Digest;
  message: string;
  author: string;
  createdAt: Date;
  /** Tags to point at this revision, besides `latest` (moved unless `moveLatest` is false). */
  tags: string[];
  moveLatest: boolean;
  /** undefined: no check; null: the package must have no revision yet; a digest: latest must be it. */
  expectParent?: Digest | null;
}

export interface CommitResult {
  revision: RevisionRecord;
  /** True when the content equals the current latest; nothing new was recorded. */
  unchanged: boolean;
  /** Tags that now point at the revision because of this commit. */
  tags: string[];
}

export interface EntrySelection {
  where?: QueryNode;
  /** Entry-path globs (see core's path-glob rules); an entry matches if any glob does. */
  paths?: string[];
  /** Only entries whose path sorts after this one (pagination). */
  after?: string;
  limit?: number;
}

export type Scope = { kind: "admin" } | { kind: "read" | "write"; pattern: string };

export interface TokenRecord {
  id: string;
  name: string;
  scopes: Scope[];
  createdAt: Date;
  lastUsedAt: Date | null;
}

export interface SearchHitRecord {
  namespace: string;
  name: string;
  title: string | null;
  description: string | null;
  matchedPaths: string[];
  score: number;
}

export interface MetadataStore {
  // --- manifests -------------------------------------------------------------------------
  /** True when the manifest and all its entries are indexed. */
  hasManifest(digest: Digest): Promise<boolean>;
  /**
   * Indexes a manifest's entries in batches, outside any commit transaction, so a 1,000,000-entry
   * manifest never holds the write lock for long. Idempotent; a manifest is usable only once fully
   * staged, and invisible until a revision references it. Entry count and total size are counted
   * here, as the entries stream by (they are not known before the end). If `entries` throws (for
   * example because the manifest did not hash to `digest`), the manifest stays incomplete.
   */
  stageManifest(digest: Digest, header: ManifestHeader, entries: AsyncIterable<ManifestEntry>): Promise<void>;
  /**
   * Up to `limit` digests named by a staged manifest that the namespace cannot use: no known
   * location, or no grant for `namespace` (it never proved it holds the bytes). Commit refuses
   * those, so knowing a digest never lets anyone reference another namespace's bytes.
   */
  missingBlobsOfManifest(digest: Digest, namespace: string, limit: number): Promise<Digest[]>;
  /** Up to `limit` entries of a staged manifest whose size is not that of the stored blob they name. */
  sizeMismatchesOfManifest(digest: Digest, limit: number): Promise<SizeMismatchRecord[]>;

  // --- revisions and tags ----------------------------------------------------------------
  /** Records a revision and moves tags in one transaction; throws E_CONFLICT on a parent mismatch. */
  commit(input: CommitInput): Promise<CommitResult>;
  getPackage(pkg: PackageName): Promise<PackageRecord | null>;
  listRevisions(pkg: PackageName, options: { limit: number; before?: Date }): Promise<RevisionRecord[]>;
  /** A revision of this package by tag or (unique) digest prefix; E_NOT_FOUND / E_AMBIGUOUS_REF. */
  resolve(pkg: PackageName, selector: RefSelector): Promise<RevisionRecord>;
  setTag(pkg: PackageName, tag: string, target: Digest, by: string, at: Date): Promise<TagMoveRecord>;
  deleteTag(pkg: PackageName, tag: string, by: string, at: Date): Promise<TagMoveRecord>;
  tagHistory(pkg: PackageName, tag?: string): Promise<TagMoveRecord[]>;

  // --- entries ---------------------------------------------------------------------------
  /** Entries of a staged manifest, in path order, filtered in the database. */
  selectEntries(manifest: Digest, selection: EntrySelection): AsyncIterable<ManifestEntry>;

  // --- blobs -----------------------------------------------------------------------------
  /** Of `digests`, those that `namespace` has not proven it holds (upload or a revision in it). */
  missingBlobs(namespace: string, digests: Digest[]): Promise<Digest[]>;
  /**
   * Records where blobs now are and, unless `namespace` is null, that `namespace` holds them (it
   * proved it by uploading the bytes). Reindex passes null: grants then come from revisions.
   * Throws E_UNAVAILABLE if gc is deleting one of the objects, or started to after `ticket` (from
   * objectWriteTicket, taken before the objects were written) was issued.
   */
  recordBlobs(namespace: string | null, locations: BlobLocationRecord[], ticket?: number): Promise<void>;
  /**
   * Take before writing an object whose locations recordBlobs will record: E_UNAVAILABLE while gc
   * is deleting `key`. A put of an existing key writes nothing, so without this handshake an upload
   * could record locations in an object that gc deletes right after the put found it.
   */
  objectWriteTicket(key: string): Promise<number>;
  /** Of `digests`, those stored for any namespace (they have a location). */
  storedBlobs(digests: Digest[]): Promise<Digest[]>;
  /**
   * Grants `namespace` those of `digests` that are stored right now, atomically; returns them. For an
   * upload that verified bytes another namespace already stored: proof of possession, no second copy.
   */
  grantStored(namespace: string, digests: Digest[]): Promise<Digest[]>;
  /** Locations of those digests that some revision of `pkg` references; others are left out. */
  blobLocations(pkg: PackageName, digests: Digest[]): Promise<BlobLocationRecord[]>;

  // --- namespaces, tokens, search ---------------------------------------------------------
  setNamespacePublic(namespace: string, isPublic: boolean): Promise<void>;
  isNamespacePublic(namespace: string): Promise<boolean>;
  listPublicNamespaces(): Promise<string[]>;
  createToken(input: { id: string; name: string; hash: string; scopes: Scope[]; createdAt: Date }): Promise<void>;
  /** The token whose stored hash equals `hash` (compare in constant time where possible). */
  findToken(hash: string): Promise<TokenRecord | null>;
  touchToken(id: string, at: Date): Promise<void>;
  listTokens(): Promise<TokenRecord[]>;
  revokeToken(id: string): Promise<boolean>;
  search(text: string, options: { limit: number; canRead: (namespace: string) => boolean }): Promise<SearchHitRecord[]>;

  // --- bucket outbox ---------------------------------------------------------------------
  /** Queued bucket writes, oldest first. */
  pendingOutbox(limit: number): Promise<OutboxItem[]>;
  /** Marks queued writes done. */
  completeOutbox(ids: number[]): Promise<void>;

  // --- reindex and gc ----------------------------------------------------------------------
  /**
   * Records a revision read back from the bucket, as it was (no tag moves, no parent check), and
   * grants its namespace every blob the manifest names (the revision proves they were held). Idempotent.
   */
  importRevision(record: RevisionRecord): Promise<void>;
  /** Sets a tag read back from the bucket, as it was. Idempotent. */
  importTag(pkg: PackageName, move: TagMoveRecord): Promise<void>;
  /** Object keys holding at least one blob that a revision or a staged manifest references. */
  liveObjectKeys(): Promise<Set<string>>;
  /**
   * Of `keys`, those holding no blob that a revision or staged manifest names: forgets their
   * locations and marks them deleting (recordBlobs refuses them), in one transaction so that no
   * manifest can be committed against them meanwhile. Returns them; gc deletes only these.
   */
  markDeleting(keys: string[], at: Date): Promise<string[]>;
  /** Ends the deletion of objects that are gone (uploads may write these keys again). */
  markDeleted(keys: string[], at: Date): Promise<void>;
  /** Objects marked deleting by a gc that did not finish (it failed or was killed). */
  unfinishedDeletions(): Promise<string[]>;

  // --- lifecycle -------------------------------------------------------------------------
  /** Runs the database's own consistency check; returns the problems found (empty when sound). */
  integrityCheck(): Promise<string[]>;
  close(): Promise<void>;
}
