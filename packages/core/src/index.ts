export * from "./errors.js";
export * from "./digest.js";
export { loadBlake3Backend, type Blake3Backend, type Blake3BackendName, type RawHasher } from "./blake3-backend.js";
export * from "./canonical-json.js";
