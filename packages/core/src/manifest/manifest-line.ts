import { canonicalJson, isJsonObject, type JsonObject } from "../canonical-json.js";
import { isDigest, type Digest } from "../digest.js";
import { DpkgError, isDpkgError } from "../errors.js";
import { pathProblem, validatePath } from "../paths.js";

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
export function encodeEntryLine(entry: ManifestEntry, where?: string): string {
  checkEntry(entry as unknown as Record<string, unknown>, where ?? `entry ${JSON.stringify(entry.path)}`);
  return entryJson(entry, where) + "\n";
}

/**
 * The canonical JSON of a checked entry, written field by field in sorted key order: the generic
 * canonicalJson's key sort and path strings cost more than the rest of a push's per-file work. Only
 * meta, whose keys are free, goes through canonicalJson. The strings need no check: a valid path has
 * no lone surrogate, a digest is ASCII, a size a safe integer.
 */
function entryJson(entry: ManifestEntry, where: string | undefined): string {
  const { path, size, digest, meta } = entry;
  const metaJson =
    meta !== undefined && Object.keys(meta).length > 0
      ? `,"meta":${canonicalJson(meta, `${where ?? `entry ${JSON.stringify(path)}`}.meta`)}`
      : "";
  return `{"digest":"${digest}"${metaJson},"path":${JSON.stringify(path)},"size":${size}}`;
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
  const fast = decodeCanonicalEntry(line);
  if (fast !== undefined) return fast;
  const value = parseLine(line, where);
  checkEntry(value, where);
  if (value.meta !== undefined && Object.keys(value.meta as JsonObject).length === 0) {
    fail(where, 'an empty meta must be omitted, not written as "meta":{}');
  }
  return value as unknown as ManifestEntry;
}

/**
 * The entry on a line that is exactly what encodeEntryLine writes for it, or undefined for anything
 * else (then the general path finds and names the problem). Registries read every manifest line of
 * every commit; this skips the generic canonical re-encoding for the lines that are already right.
 */
function decodeCanonicalEntry(line: string): ManifestEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isJsonObject(value) || !isEntryShaped(value)) return undefined;
  try {
    return entryJson(value, undefined) === line ? value : undefined;
  } catch {
    return undefined;
  }
}

function isEntryShaped(value: JsonObject): value is JsonObject & ManifestEntry {
  for (const key in value) if (!ENTRY_KEYS.has(key)) return false;
  return (
    typeof value.path === "string" &&
    pathProblem(value.path) === null &&
    typeof value.size === "number" &&
    Number.isSafeInteger(value.size) &&
    value.size >= 0 &&
    isDigest(value.digest) &&
    (value.meta === undefined || isJsonObject(value.meta))
  );
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
