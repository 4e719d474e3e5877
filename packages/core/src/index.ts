// The public surface of @dpkg/core: pure formats and rules, no filesystem, no network.
export * from "./errors.js";
export * from "./digest.js";
export { loadBlake3Backend, type Blake3Backend, type Blake3BackendName, type RawHasher } from "./blake3-backend.js";
export * from "./canonical-json.js";
export * from "./paths.js";
export * from "./refs.js";
export * from "./manifest/manifest-line.js";
export * from "./manifest/entry-order.js";
export * from "./manifest/manifest-stream.js";
export * from "./path-glob.js";
export * from "./query/index.js";
// The schemas themselves (and typebox) are loaded from "@dpkg/core/api" and "@dpkg/core/api-check"
// by those who need them: the CLI's start-up does not.
export type * as api from "./api.js";
export type { ApiSchemaName } from "./api-check.js";
export { CONTENT_TYPES, MAX_DIGESTS_PER_CALL } from "./api-constants.js";
