// Small operations behind the dpkg commands that have no module of their own; each returns data.
export { resolveRef, selectorText, type ResolvedRef } from "./resolve-ref.js";
export { listEntries, type EntryListing, type ListEntriesOptions } from "./ls.js";
export { packageLog, type LogRevision, type PackageLog } from "./log.js";
export { tagRevision, deleteTag, type TagResult } from "./tag.js";
export {
  diffRevisions,
  diffManifests,
  type DiffTotals,
  type EntryChange,
  type MetaChange,
  type RevisionDiff,
} from "./diff.js";
export { searchPackages, type SearchHit } from "./search.js";
export { openEntry, type OpenedEntry } from "./cat.js";
export {
  verifyWorkspace,
  type Mismatch,
  type MismatchProblem,
  type VerifiedPackage,
  type VerifyOptions,
  type VerifyReport,
} from "./verify-workspace.js";
export {
  cacheListing,
  pruneCacheForWorkspace,
  pinnedDigests,
  parseAge,
  type CacheTotals,
  type PruneResult,
} from "./cache-commands.js";
export { login, logout, whoami, pickToken, normalizeRegistry, type Identity, type TokenSource } from "./login.js";
export { readMetaFile } from "./read-meta-file.js";
