// @dpkg/registry-server as a library: build the app around stores of your choosing (tests, embedding).
export { buildApp, type AppConfig, type AppDeps, type App } from "./app.js";
export type { BlobStore } from "./blob-store/blob-store.js";
export { FsBlobStore } from "./blob-store/fs-blob-store.js";
export { S3BlobStore, type S3BlobStoreOptions } from "./blob-store/s3-blob-store.js";
export type { MetadataStore } from "./metadata/metadata-store.js";
export { openSqliteMetadataStore } from "./metadata/sqlite/sqlite-metadata-store.js";
export { resolveConfig, type RegistryConfig } from "./config.js";
export { openRegistry, ensureAdminToken } from "./open-registry.js";
