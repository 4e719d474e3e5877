import { S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { DpkgError } from "@dpkg/core";

export interface S3ConnectionOptions {
  /** e.g. `http://127.0.0.1:9000` for an S3-compatible server; AWS's own endpoint when absent. */
  endpoint?: string;
  /** From the standard AWS chain (AWS_REGION, config files) when absent. */
  region?: string;
  /** `bucket` in the path instead of the host name; most S3-compatible servers need it. */
  forcePathStyle?: boolean;
  /** From the standard AWS chain (environment, config files, instance roles) when absent. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Attempts per request, including the first (the SDK's default is 3). */
  maxAttempts?: number;
}

/** Pino's argument order, so Fastify's logger fits as is. */
export interface StoreLogger {
  warn(details: Record<string, unknown>, message: string): void;
}

export function createS3Client(options: S3ConnectionOptions): S3Client {
  return new S3Client({
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
    forcePathStyle: options.forcePathStyle ?? false,
    // The SDK's default checksums send aws-chunked bodies with trailers, which S3-compatible servers
    // (s3rver, older MinIO, Ceph) store with the framing; we verify BLAKE3 digests ourselves anyway.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/** An endpoint safe to log: no user info, query or fragment. */
export function safeEndpoint(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    return `${url.protocol}//${url.host}${url.pathname === "/" ? "" : url.pathname}`;
  } catch {
    return "(invalid endpoint)";
  }
}

export interface S3Failure {
  /** The S3 error code (`NoSuchKey`, `PreconditionFailed`, …) or the network error code. */
  code: string;
  status: number | undefined;
}

/** What went wrong, from fields that never carry credentials or signatures. */
export function describeS3Failure(err: unknown): S3Failure {
  if (err instanceof S3ServiceException) return { code: err.name, status: err.$metadata.httpStatusCode };
  if (err instanceof Error) {
    const errno = "code" in err && typeof err.code === "string" ? err.code : undefined;
    return { code: errno ?? err.name, status: undefined };
  }
  return { code: "unknown", status: undefined };
}

export function isNotFound(err: unknown): boolean {
  const { code, status } = describeS3Failure(err);
  return err instanceof S3ServiceException && code !== "NoSuchBucket" && (status === 404 || code === "NoSuchKey");
}

export function isPreconditionFailed(err: unknown): boolean {
  const { code, status } = describeS3Failure(err);
  return err instanceof S3ServiceException && (status === 412 || code === "PreconditionFailed");
}

export function isInvalidRange(err: unknown): boolean {
  const { code, status } = describeS3Failure(err);
  return err instanceof S3ServiceException && (status === 416 || code === "InvalidRange");
}

const RETRYABLE_CODES = new Set(["SlowDown", "ServiceUnavailable", "RequestTimeout", "ConditionalRequestConflict"]);

/**
 * Maps an SDK error to the catalog. Missing keys are E_NOT_FOUND; what a retry may fix (network errors,
 * 5xx, throttling, a conflicting concurrent write) is E_UNAVAILABLE; the rest (access denied, missing
 * bucket: the registry's configuration) is E_INTERNAL. Messages are built from the error code and
 * status only: the SDK's own messages may quote request details we do not want in logs or responses.
 */
export function toStoreError(err: unknown, op: string, key: string): DpkgError {
  if (err instanceof DpkgError) return err;
  const { code, status } = describeS3Failure(err);
  const details = { op, key, s3Code: code, ...(status === undefined ? {} : { httpStatus: status }) };
  const what = `S3 ${op} ${key} failed: ${code}${status === undefined ? "" : ` (HTTP ${status})`}`;
  if (isNotFound(err)) return new DpkgError("E_NOT_FOUND", `no object at ${key}`, details);
  if (!(err instanceof S3ServiceException)) {
    // Not an answer from S3: a socket error, a timeout, or the SDK failing to load credentials or a region.
    const network = /^(E[A-Z]+|TimeoutError|AbortError|RequestTimeout.*)$/.test(code);
    return new DpkgError(network ? "E_UNAVAILABLE" : "E_INTERNAL", what, details, { cause: err });
  }
  const retryable = (status !== undefined && status >= 500) || status === 429 || RETRYABLE_CODES.has(code);
  return new DpkgError(retryable ? "E_UNAVAILABLE" : "E_INTERNAL", what, details);
}
