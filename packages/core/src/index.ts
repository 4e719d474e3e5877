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
export * as api from "./api.js";
export { matchesApi, type ApiSchema } from "./api-check.js";
