/**
 * The S3 wire, below BlobStore semantics: client settings, error mapping, cutting a stream into
 * multipart parts that upload a few at a time, and checking what a ranged GET served.
 */
import { S3Client, S3ServiceException, UploadPartCommand, type CompletedPart } from "@aws-sdk/client-s3";
import { isIPv4 } from "node:net";
import { Readable } from "node:stream";
import { DpkgError } from "@dpkg/core";
import { rangeOutsideObject, type ByteRange } from "./blob-store.js";

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
  const client = new S3Client({
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
  client.middlewareStack.add(
    (next) => async (args) => {
      if (unsignedPayloadWanted(args.request)) args.request.headers[PAYLOAD_HASH_HEADER] = "UNSIGNED-PAYLOAD";
      return next(args);
    },
    { step: "build", name: "dpkgUnsignedPayloadWhereIntact" },
  );
  return client;
}

const PAYLOAD_HASH_HEADER = "x-amz-content-sha256";

/**
 * Uploads over TLS, or to a server on this machine's loopback interface, are sent as UNSIGNED-PAYLOAD:
 * the SDK would otherwise hash every part with SHA-256 to sign it (the dearest step of a large upload
 * after our own BLAKE3 check), though TLS, or bytes that never leave the machine, arrive intact, and
 * every blob is verified against its BLAKE3 digest before it is stored and again whenever it is read.
 * Over plain HTTP across a network the signed hash is the only check S3 makes of the bytes it
 * receives, so payloads stay signed there, as AWS's own SDKs do.
 */
export function unsignedPayloadWanted(request: unknown): request is { headers: Record<string, string> } {
  if (typeof request !== "object" || request === null) return false;
  const { protocol, hostname, method, headers } = request as { protocol?: unknown; hostname?: unknown; method?: unknown; headers?: unknown };
  if (method !== "PUT" || typeof headers !== "object" || headers === null) return false;
  return protocol === "https:" || (protocol === "http:" && typeof hostname === "string" && isLoopback(hostname));
}

/** 127.0.0.0/8, ::1 and localhost: names and addresses that cannot leave this machine. */
function isLoopback(hostname: string): boolean {
  const host = hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
  if (host === "localhost" || host === "::1") return true;
  if (isIPv4(host)) return host.startsWith("127.");
  return false;
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

/**
 * Cuts a byte stream into buffers of exactly `partSize` bytes, then a shorter last one (an empty one for
 * an empty stream). Whole buffers of known length are what keeps the SDK from sending aws-chunked bodies.
 * Part buffers come from `take` (a pool, say); the caller owns each part it is given. A whole part of
 * the source that starts at a part boundary is passed on as a view, not copied (packs arrive in
 * part-sized buffers): the source must leave its chunks unchanged until the parts are sent.
 */
export async function* readParts(
  source: AsyncIterable<Uint8Array>,
  partSize: number,
  take: () => Buffer = () => Buffer.allocUnsafe(partSize),
): AsyncGenerator<Buffer, void, undefined> {
  let part: Buffer | undefined;
  let filled = 0;
  let yielded = false;
  for await (const chunk of source) {
    for (let at = 0; at < chunk.byteLength; ) {
      if (filled === 0 && chunk.byteLength - at >= partSize) {
        const whole = Buffer.from(chunk.buffer, chunk.byteOffset + at, partSize);
        at += partSize;
        yielded = true;
        yield whole;
        continue;
      }
      part ??= take();
      const n = Math.min(partSize - filled, chunk.byteLength - at);
      part.set(chunk.subarray(at, at + n), filled);
      filled += n;
      at += n;
      if (filled === partSize) {
        const full = part;
        part = undefined;
        filled = 0;
        yielded = true;
        yield full;
      }
    }
  }
  if (filled > 0 || !yielded) yield part === undefined ? Buffer.alloc(0) : part.subarray(0, filled);
}

const MAX_PARTS = 10_000;

/** Uploads the parts of one multipart upload, at most `concurrency` at once. */
export class PartUploader {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly done: CompletedPart[] = [];
  private failure: DpkgError | undefined;
  private count = 0;
  private size = 0;

  constructor(
    private readonly client: S3Client,
    private readonly target: { Bucket: string; Key: string; UploadId: string },
    private readonly concurrency: number,
    private readonly key: string,
    /** Told of each part once its upload has ended, so its buffer can be reused. */
    private readonly released: (body: Buffer) => void = () => undefined,
  ) {}

  /** Starts uploading `body` once a slot is free; throws the first failed part's error instead. */
  async add(body: Buffer): Promise<void> {
    while (this.inFlight.size >= this.concurrency && this.failure === undefined) await Promise.race(this.inFlight);
    if (this.failure !== undefined) throw this.failure;
    if (this.count === MAX_PARTS) {
      throw new DpkgError("E_TOO_LARGE", `S3 put ${this.key}: more than ${MAX_PARTS} parts; raise the part size`, {
        key: this.key,
      });
    }
    const PartNumber = ++this.count;
    this.size += body.byteLength;
    const command = new UploadPartCommand({ ...this.target, PartNumber, Body: body, ContentLength: body.byteLength });
    const task: Promise<void> = this.client
      .send(command)
      .then((out) => {
        if (out.ETag === undefined) throw new Error("no ETag in the UploadPart response");
        this.done.push({ PartNumber, ETag: out.ETag });
      })
      .catch((err: unknown) => {
        this.failure ??= toStoreError(err, "upload part of", this.key);
      })
      .finally(() => {
        this.inFlight.delete(task);
        this.released(body);
      });
    this.inFlight.add(task);
  }

  /** Waits for every part; the parts in order for CompleteMultipartUpload, and the total size. */
  async finish(): Promise<{ parts: CompletedPart[]; size: number }> {
    await this.settle();
    if (this.failure !== undefined) throw this.failure;
    const parts = [...this.done].sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    return { parts, size: this.size };
  }

  /** Waits for parts in flight without throwing: an abort must not race uploads still arriving. */
  async settle(): Promise<void> {
    await Promise.all(this.inFlight);
  }
}

/**
 * Checks what a ranged GET actually served against what was asked. A range reaching past the end is an
 * error, not a short read. Over-served bytes are trimmed: s3rver answers `bytes=0-0` with the whole
 * object (it reads an end of 0 as "no end"), and a server may ignore Range altogether with a 200.
 */
export function servedRange(
  key: string,
  range: ByteRange,
  body: Readable,
  contentRange: string | undefined,
  length: number,
): Readable {
  const served = parseContentRange(contentRange) ?? { start: 0, end: length, size: length };
  if (range.end > served.size) {
    body.destroy();
    throw rangeOutsideObject(key, range, served.size);
  }
  if (served.start === range.start && served.end === range.end) return body;
  if (served.start > range.start || served.end < range.end) {
    body.destroy();
    const asked = `${range.start}-${range.end - 1}`;
    const got = `${served.start}-${served.end - 1}`;
    throw new DpkgError("E_UNAVAILABLE", `S3 get ${key}: asked for bytes ${asked}, got ${got}`, { key });
  }
  return Readable.from(slice(body, range.start - served.start, range.end - range.start));
}

function parseContentRange(header: string | undefined): { start: number; end: number; size: number } | null {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header ?? "");
  if (m?.[1] === undefined || m[2] === undefined || m[3] === undefined) return null;
  const end = Number(m[2]) + 1;
  return { start: Number(m[1]), end, size: m[3] === "*" ? Number.MAX_SAFE_INTEGER : Number(m[3]) };
}

async function* slice(body: Readable, skip: number, length: number): AsyncGenerator<Buffer, void, undefined> {
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      const from = Math.min(skip, chunk.byteLength);
      skip -= from;
      const piece = chunk.subarray(from, from + length);
      length -= piece.byteLength;
      if (piece.byteLength > 0) yield piece;
      if (length === 0) return;
    }
    throw new DpkgError("E_UNAVAILABLE", "S3 response ended before the requested range");
  } finally {
    body.destroy();
  }
}
