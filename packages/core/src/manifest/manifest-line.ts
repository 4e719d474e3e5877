import { canonicalJson, isJsonObject, type JsonObject, type JsonValue } from "../canonical-json.js";
import { isDigest, type Digest } from "../digest.js";
import { DpkgError, isDpkgError } from "../errors.js";
import { validatePath } from "../paths.js";

export const MANIFEST_FORMAT = "dpkg.manifest/1";

export interface ManifestHeader {
  format: typeof MANIFEST_FORMAT;
  /** Package-level metadata: title, description, readme, anything. */
  meta: JsonObject;
}

export interface ManifestEntry {
  path: string;
  size: number;
  digest: Digest;
  /** Omitted when empty, so that `{}` and "no meta" cannot give two different top hashes. */
  meta?: JsonObject;
}

const HEADER_KEYS = new Set(["format", "meta"]);
const ENTRY_KEYS = new Set(["digest", "meta", "path", "size"]);

function fail(where: string, problem: string, details: Record<string, unknown> = {}): never {
  throw new DpkgError("E_BAD_MANIFEST", `${where}: ${problem}`, { where, ...details });
}

/** The canonical header line, `\n` included. */
export function encodeHeaderLine(header: { meta?: JsonObject }, where = "manifest header"): string {
  const meta = header.meta ?? {};
  if (!isJsonObject(meta)) fail(where, "meta must be a JSON object");
  return canonicalJson({ format: MANIFEST_FORMAT, meta }, where) + "\n";
}

/** Validates one entry and returns its canonical line, `\n` included. */
export function encodeEntryLine(entry: ManifestEntry, where = `entry ${JSON.stringify(entry.path)}`): string {
  checkEntry(entry as unknown as Record<string, unknown>, where);
  const { path, size, digest, meta } = entry;
  const value: Record<string, JsonValue> = { digest, path, size };
  if (meta !== undefined && Object.keys(meta).length > 0) value.meta = meta;
  return canonicalJson(value, where) + "\n";
}

/** Decodes a line (without its `\n`) that must be a canonical header. */
export function decodeHeaderLine(line: string, where = "manifest line 1"): ManifestHeader {
  const value = parseLine(line, where);
  for (const key of Object.keys(value)) {
    if (!HEADER_KEYS.has(key)) fail(where, `unexpected field ${JSON.stringify(key)} in the header`);
  }
  if (value.format !== MANIFEST_FORMAT) {
    fail(where, `format must be ${JSON.stringify(MANIFEST_FORMAT)}, got ${JSON.stringify(value.format)}`);
  }
  if (!isJsonObject(value.meta)) fail(where, "header meta must be a JSON object");
  return { format: MANIFEST_FORMAT, meta: value.meta };
}

/** Decodes a line (without its `\n`) that must be a canonical entry. */
export function decodeEntryLine(line: string, where: string): ManifestEntry {
  const value = parseLine(line, where);
  checkEntry(value, where);
  if (value.meta !== undefined && Object.keys(value.meta as JsonObject).length === 0) {
    fail(where, 'an empty meta must be omitted, not written as "meta":{}');
  }
  return value as unknown as ManifestEntry;
}

function parseLine(line: string, where: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    fail(where, `invalid JSON (${(e as Error).message})`);
  }
  if (!isJsonObject(value)) fail(where, "each line must be a JSON object");
  let canonical: string;
  try {
    canonical = canonicalJson(value, where);
  } catch (e) {
    if (isDpkgError(e)) fail(where, e.message);
    throw e;
  }
  if (canonical !== line) {
    fail(where, "line is not canonical JSON (keys sorted at every depth, no whitespace, minimal escapes)", {
      expected: canonical.length <= 300 ? canonical : undefined,
    });
  }
  return value;
}

function checkEntry(value: Record<string, unknown>, where: string): void {
  for (const key of Object.keys(value)) {
    if (!ENTRY_KEYS.has(key)) fail(where, `unexpected field ${JSON.stringify(key)} in an entry`);
  }
  if (typeof value.path !== "string") fail(where, "path must be a string");
  validatePath(value.path, where);
  if (typeof value.size !== "number" || !Number.isSafeInteger(value.size) || value.size < 0) {
    fail(where, `size must be a non-negative integer, got ${JSON.stringify(value.size)}`);
  }
  if (!isDigest(value.digest)) fail(where, `digest ${JSON.stringify(value.digest)} is not blake3: + 64 lowercase hex`);
  if (value.meta !== undefined && !isJsonObject(value.meta)) fail(where, "meta must be a JSON object");
}
