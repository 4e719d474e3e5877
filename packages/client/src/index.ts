// The public surface of @dpkg/client: everything the dpkg command does, as library calls.
export { RegistryClient, type RegistryClientOptions } from "./registry-client.js";
export {
  ContentCache,
  defaultCacheDir,
  type CacheItem,
  type CacheVerifyOptions,
  type CacheVerifyReport,
  type DamagedItem,
} from "./cache/content-cache.js";
export { fetchBlobs, ensureManifest, type WantedBlob, type FetchProgress } from "./fetch-blobs.js";
export { configDir, saveCredentials, removeCredentials, loadToken } from "./credentials.js";
export { push, type PushOptions, type PushProgress, type PushReport } from "./push/push.js";
export { readEntryMetaFile } from "./push/entry-meta.js";
export { install, type InstallOptions, type InstallReport, type PackageReport } from "./install.js";
export { update, type UpdateOptions, type UpdateReport } from "./update.js";
export { findWorkspaceRoot } from "./workspace/find-root.js";
export { readLockfile, writeLockfile, type Lockfile, type LockedPackage } from "./workspace/lockfile.js";
export { readWanted, writeWanted, type Wanted, type WantedPackage } from "./workspace/wanted.js";
export { createEntryFilter, selectEntries, type Selection } from "./select.js";
export * from "./ops/index.js";
export { open, DEFAULT_REGISTRY, type OpenOptions } from "./open.js";
export type { PackageHandle, PackageEntry, EntrySelection } from "./package-handle.js";
