import { DpkgError } from "@dpkg/core";

/**
 * The lowest storage layer: bytes by object key, nothing else. Keys are relative to the store's own root
 * (a folder or a bucket prefix) and are built only by `layout.ts`. The content-addressed layer above decides
 * what a key means; this layer only promises that what it shows under a key was written completely.
 */
export interface BlobStore {
  /**
   * Streams `source` into `key` with bounded memory. The object becomes visible only if `source` completes
   * without throwing (callers pass core's `verifyStream`, which throws at the end on a digest mismatch); if it
   * throws, nothing is left visible and that same error propagates.
   *
   * Write-once: if `key` exists the call is a no-op returning `created: false`, and `source` may be left
   * unread (the caller owns whatever remains of it). `overwrite: true` replaces atomically instead; it is
   * meant only for mutable pointer files such as tags. Concurrent puts of one key are safe: readers see
   * exactly one complete write. `size` is the size of the object stored under `key` when the call returns.
   * The source's chunks must stay unchanged until the call returns: a store may send them as they are.
   */
  put(key: string, source: BlobSource, options?: PutOptions): Promise<PutResult>;

  /**
   * The size of the parts a put cuts its source into, for stores that upload in parts. A source whose
   * chunks are whole parts (or one chunk of at most a part) is sent without copying its bytes.
   */
  readonly partSize?: number;

  /** The object's bytes, or `range` of them. Missing key → E_NOT_FOUND; a range outside it → E_BAD_REQUEST. */
  get(key: string, range?: ByteRange): Promise<AsyncIterable<Uint8Array>>;

  /** Size and modification time, or null when `key` does not exist. */
  stat(key: string): Promise<BlobStat | null>;

  /** Removes `key`; a missing key is not an error. */
  delete(key: string): Promise<void>;

  /**
   * Every key starting with `prefix` (a plain string prefix, as S3 means it), in no promised order,
   * paginated internally. Only reindex, gc and verify list: request paths never do.
   */
  list(prefix: string): AsyncIterable<ListedBlob>;

  /**
   * A URL anyone holding it can GET (honouring Range headers) until it expires, or null when the store
   * has no such URLs and the registry must serve the bytes itself. Does not check that `key` exists.
   * With `range`, the URL serves exactly those bytes and no others (the Range header is signed): packs
   * hold blobs of many packages, and a URL must never open more of one than the caller may read.
   */
  presignGet(key: string, expiresInSeconds: number, range?: ByteRange): Promise<string | null>;

  /** Where the bytes live, for logs. Never contains credentials. */
  describe(): string;
}

export type BlobSource = AsyncIterable<Uint8Array> | Uint8Array;

export interface PutOptions {
  overwrite?: boolean;
}

export interface PutResult {
  created: boolean;
  size: number;
}

/** Bytes `start` (inclusive) to `end` (exclusive). */
export interface ByteRange {
  start: number;
  end: number;
}

export interface BlobStat {
  size: number;
  modified: Date;
}

export interface ListedBlob extends BlobStat {
  key: string;
}

/**
 * The key grammar every store enforces, so that no key can escape a folder and both stores accept exactly
 * the same keys: non-empty `/`-separated segments of printable characters, none starting with `.` (which
 * rules out `.` and `..` and leaves dot-names free for a store's own bookkeeping, such as a temp folder),
 * no `\`, at most 1024 bytes (the S3 limit). Every key `layout.ts` builds satisfies it.
 */
export function assertValidKey(key: string): void {
  const problem = keyProblem(key);
  if (problem !== undefined) {
    throw new DpkgError("E_BAD_REQUEST", `invalid object key ${JSON.stringify(key)}: ${problem}`, { key });
  }
}

export function isValidKey(key: string): boolean {
  return keyProblem(key) === undefined;
}

function keyProblem(key: string): string | undefined {
  if (key.length === 0) return "empty";
  if (Buffer.byteLength(key) > 1024) return "longer than 1024 bytes";
  if (key.includes("\\")) return "contains a backslash";
  // Matching control characters is the point here (they are refused in keys), which is exactly
  // what no-control-regex warns about; the rule is off for this one line only.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) return "contains a control character";
  for (const segment of key.split("/")) {
    if (segment === "") return "has an empty segment (or a leading or trailing '/')";
    if (segment.startsWith(".")) return `segment ${JSON.stringify(segment)} starts with '.'`;
  }
  return undefined;
}

/** A list prefix is "" or a key, optionally followed by "/". */
export function assertValidPrefix(prefix: string): void {
  if (prefix === "") return;
  const body = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  if (!isValidKey(body)) {
    throw new DpkgError("E_BAD_REQUEST", `invalid list prefix ${JSON.stringify(prefix)}`, { prefix });
  }
}

/** Rejects malformed ranges before any I/O; whether the range fits the object is each store's check. */
export function assertValidRange(key: string, range: ByteRange): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new DpkgError("E_BAD_REQUEST", `invalid byte range ${start}-${end} (end exclusive) for ${key}`, {
      key,
      start,
      end,
    });
  }
}

export function rangeOutsideObject(key: string, range: ByteRange, size: number): DpkgError {
  return new DpkgError(
    "E_BAD_REQUEST",
    `byte range ${range.start}-${range.end} (end exclusive) is outside ${key}, which has ${size} bytes`,
    { key, start: range.start, end: range.end, size },
  );
}

export function objectNotFound(key: string): DpkgError {
  return new DpkgError("E_NOT_FOUND", `no object at ${key}`, { key });
}

/** Lets stores treat both source shapes as one stream. */
export async function* iterateSource(source: BlobSource): AsyncGenerator<Uint8Array, void, undefined> {
  if (source instanceof Uint8Array) {
    yield source;
    return;
  }
  yield* source;
}
