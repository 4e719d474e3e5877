/**
 * The one catalog of error codes. Codes are part of the user interface: the server maps them to HTTP
 * statuses from here, the client turns HTTP error bodies back into the same codes, and the CLI maps
 * them to exit codes. Never rename a code; add a new one.
 */
export const ERROR_CATALOG = {
  E_BAD_REQUEST: { status: 400, hint: "Check the request against the API description at /docs." },
  E_USAGE: { status: 400, hint: "Run the command with --help for its options and examples." },
  E_BAD_DIGEST: { status: 400, hint: "A digest is 'blake3:' followed by 64 lowercase hex digits." },
  E_BAD_PATH: {
    status: 400,
    hint: "Entry paths are relative, '/'-separated, NFC, without empty, '.' or '..' segments, '\\' or control characters, at most 4096 bytes.",
  },
  E_BAD_MANIFEST: {
    status: 400,
    hint: "A manifest is canonical JSON Lines: a header line, then entries sorted by path.",
  },
  E_BAD_JSON: {
    status: 400,
    hint: "The value must be plain JSON: objects, arrays, strings, finite numbers, booleans, null.",
  },
  E_BAD_NAME: {
    status: 400,
    hint: "A package name is 'namespace/name', each part lowercase [a-z0-9][a-z0-9._-]{0,63}, e.g. 'mypkg/images'.",
  },
  E_BAD_TAG: { status: 400, hint: "A tag is [A-Za-z0-9][A-Za-z0-9._-]{0,127}, e.g. 'latest', 'v1.2', 'prod'." },
  E_BAD_REF: {
    status: 400,
    hint: "A ref is 'ns/name', 'ns/name@TAG' or 'ns/name@blake3:HEX' with at least 8 hex digits.",
  },
  E_QUERY_SYNTAX: {
    status: 400,
    hint: "See the query language in the README: e.g. meta.label = 'cat' AND size < 5e7.",
  },
  E_AMBIGUOUS_REF: { status: 409, hint: "Give more hex digits of the revision digest." },
  E_INTEGRITY: {
    status: 422,
    hint: "The bytes do not hash to their digest; nothing was stored under it. Retry, and report it if it persists.",
  },
  E_SIZE_MISMATCH: { status: 422, hint: "The bytes sent do not have the size that was declared for them." },
  E_MISSING_BLOBS: { status: 409, hint: "Upload the missing blobs first, then commit again (dpkg push resumes)." },
  E_NOT_STAGED: { status: 404, hint: "Send the manifest with the commit, or stage it first (dpkg push does either itself)." },
  E_UNAUTHORIZED: { status: 401, hint: "Pass a token with --token or DPKG_TOKEN, or run 'dpkg login'." },
  E_FORBIDDEN: { status: 403, hint: "Ask an admin for a token that grants this on the namespace." },
  E_NOT_FOUND: { status: 404, hint: "Check the name and ref; 'dpkg search' lists what you can read." },
  E_CONFLICT: {
    status: 409,
    hint: "Someone else committed first: fetch the new latest with 'dpkg log', then retry or drop --expect-parent.",
  },
  E_TOO_LARGE: { status: 413, hint: "The request is larger than the registry accepts." },
  E_RATE_LIMITED: { status: 429, hint: "Too many failed attempts; wait a minute and try again." },
  E_OFFLINE: { status: 503, hint: "DPKG_OFFLINE is set and the cache does not hold this; unset it or go online." },
  E_LOCK_MISMATCH: {
    status: 409,
    hint: "dpkg.json and dpkg.lock disagree: run 'dpkg install' without --frozen to update the lock.",
  },
  E_IO: { status: 500, hint: "Check that the path exists, is readable and the disk is not full." },
  E_NETWORK: { status: 502, hint: "Check that the registry URL is right and reachable." },
  E_UNAVAILABLE: { status: 503, hint: "The service or its storage is unavailable; retry shortly." },
  E_INTERNAL: { status: 500, hint: "An unexpected error; the registry log has the details under the request id." },
} as const satisfies Record<string, { status: number; hint: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export type ErrorDetails = Record<string, unknown>;

export class DpkgError extends Error {
  override readonly name = "DpkgError";
  readonly code: ErrorCode;
  readonly details: ErrorDetails;
  readonly hint: string;

  constructor(
    code: ErrorCode,
    message: string,
    details: ErrorDetails = {},
    options?: { cause?: unknown; hint?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = details;
    this.hint = options?.hint ?? ERROR_CATALOG[code].hint;
  }

  get status(): number {
    return ERROR_CATALOG[this.code].status;
  }

  toJSON(): { code: ErrorCode; message: string; hint: string; details: ErrorDetails } {
    return { code: this.code, message: this.message, hint: this.hint, details: this.details };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(ERROR_CATALOG, value);
}

export function isDpkgError(value: unknown, code?: ErrorCode): value is DpkgError {
  return value instanceof DpkgError && (code === undefined || value.code === code);
}
