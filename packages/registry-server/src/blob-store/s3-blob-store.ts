import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { Readable } from "node:stream";
import { DpkgError } from "@dpkg/core";
import {
  assertValidKey,
  assertValidPrefix,
  assertValidRange,
  isValidKey,
  iterateSource,
  objectNotFound,
  rangeOutsideObject,
  type BlobSource,
  type BlobStat,
  type BlobStore,
  type ByteRange,
  type ListedBlob,
  type PutOptions,
  type PutResult,
} from "./blob-store.js";
import {
  createS3Client,
  describeS3Failure,
  isInvalidRange,
  isNotFound,
  isPreconditionFailed,
  PartUploader,
  readParts,
  safeEndpoint,
  servedRange,
  toStoreError,
  type S3ConnectionOptions,
  type StoreLogger,
} from "./s3-client.js";
import { PartPool } from "./part-pool.js";

const MIB = 1024 * 1024;
/** S3's lower bound for every part but the last. */
export const MIN_PART_SIZE = 5 * MIB;
export const DEFAULT_PART_SIZE = 8 * MIB;
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

export interface S3BlobStoreOptions extends S3ConnectionOptions {
  bucket: string;
  /** Keys live under `<prefix>/`; none by default. */
  prefix?: string;
  /** Bytes per multipart part (default 8 MiB, at least 5 MiB); objects up to this size take one PutObject. */
  partSize?: number;
  /** Parts uploaded at once per put (default 4); memory per put is about (this + 2) × partSize. */
  partConcurrency?: number;
  /** Warnings that need no action from the caller, e.g. a multipart upload that could not be aborted. */
  logger?: StoreLogger;
  /** An existing client (it should be made by `createS3Client`); the connection options are then ignored. */
  client?: S3Client;
}

/**
 * The bucket layout in S3 or an S3-compatible store. Write-once rests on three things: a HEAD before
 * uploading (which also spares re-sending bytes that are stored), `If-None-Match: *` on the final write
 * (so real S3 refuses to replace an object another writer created meanwhile), and a per-key queue that
 * stops concurrent puts of one key in this process from uploading the same bytes twice.
 */
export class S3BlobStore implements BlobStore {
  private readonly client: S3Client;
  private readonly ownsClient: boolean;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly endpoint: string | undefined;
  readonly partSize: number;
  private readonly partConcurrency: number;
  private readonly logger: StoreLogger | undefined;
  private readonly writing = new Map<string, Promise<void>>();
  private readonly parts: PartPool;

  constructor(options: S3BlobStoreOptions) {
    const prefix = (options.prefix ?? "").replace(/\/+$/, "");
    if (prefix !== "") assertValidPrefix(prefix);
    const partSize = options.partSize ?? DEFAULT_PART_SIZE;
    if (!Number.isSafeInteger(partSize) || partSize < MIN_PART_SIZE) {
      throw new DpkgError("E_USAGE", `S3 part size must be an integer of at least ${MIN_PART_SIZE} bytes`, {
        partSize,
      });
    }
    this.client = options.client ?? createS3Client(options);
    this.ownsClient = options.client === undefined;
    this.bucket = options.bucket;
    this.prefix = prefix === "" ? "" : `${prefix}/`;
    this.endpoint = options.endpoint;
    this.partSize = partSize;
    this.partConcurrency = Math.max(1, options.partConcurrency ?? 4);
    // Enough for a few large uploads at once, each with its parts in flight and one filling.
    this.parts = new PartPool(partSize, 4 * (this.partConcurrency + 1));
    this.logger = options.logger;
  }

  /** Closes the connections of a client this store made; one passed in belongs to the caller. */
  close(): void {
    if (this.ownsClient) this.client.destroy();
  }

  describe(): string {
    const where = this.endpoint === undefined ? "" : ` at ${safeEndpoint(this.endpoint)}`;
    return `s3://${this.bucket}/${this.prefix}${where}`;
  }

  async put(key: string, source: BlobSource, options: PutOptions = {}): Promise<PutResult> {
    assertValidKey(key);
    return this.oneWriterAtATime(key, async () => {
      if (!options.overwrite) {
        const existing = await this.stat(key);
        if (existing) return { created: false, size: existing.size };
      }
      if (source instanceof Uint8Array && source.byteLength <= this.partSize) {
        // A pack in one buffer: sent as it is, not copied into a part first.
        return this.putSingle(key, Buffer.from(source.buffer, source.byteOffset, source.byteLength), options);
      }
      const parts = readParts(iterateSource(source), this.partSize, () => this.parts.take());
      try {
        // Two parts decide the path: a source that ends within the first part takes one PutObject.
        const first = await parts.next();
        const second = first.done ? first : await parts.next();
        const body = first.done ? Buffer.alloc(0) : first.value;
        if (second.done) return await this.putSingle(key, body, options);
        return await this.putMultipart(key, [body, second.value], parts, options);
      } finally {
        // Runs the source's own cleanup when we stopped reading it early; a no-op once it has ended.
        await parts.return(undefined);
      }
    });
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    assertValidKey(key);
    if (range) assertValidRange(key, range);
    if (range && range.start === range.end) {
      // An empty range has no Range header; a HEAD still tells a missing key and a range beyond the end.
      const info = await this.stat(key);
      if (!info) throw objectNotFound(key);
      if (range.end > info.size) throw rangeOutsideObject(key, range, info.size);
      return Readable.from([]);
    }
    const header = range ? `bytes=${range.start}-${range.end - 1}` : undefined;
    let out;
    try {
      out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, Range: header }),
      );
    } catch (err) {
      if (!range || !isInvalidRange(err)) throw toStoreError(err, "get", key);
      const info = await this.stat(key);
      throw info ? rangeOutsideObject(key, range, info.size) : objectNotFound(key);
    }
    if (!(out.Body instanceof Readable)) throw new DpkgError("E_INTERNAL", `S3 get ${key}: response has no body`);
    if (!range) return out.Body;
    return servedRange(key, range, out.Body, out.ContentRange, out.ContentLength ?? 0);
  }

  async stat(key: string): Promise<BlobStat | null> {
    assertValidKey(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      return { size: out.ContentLength ?? 0, modified: out.LastModified ?? new Date(0) };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw toStoreError(err, "stat", key);
    }
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
    } catch (err) {
      if (!isNotFound(err)) throw toStoreError(err, "delete", key);
    }
  }

  async *list(prefix: string): AsyncGenerator<ListedBlob, void, undefined> {
    assertValidPrefix(prefix);
    let token: string | undefined;
    do {
      // No delimiter: a flat listing is what reindex wants, and s3rver drops deep keys when given one.
      const command = new ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix: this.prefix + prefix,
        ContinuationToken: token,
      });
      const out = await this.client.send(command).catch((err: unknown) => {
        throw toStoreError(err, "list", prefix);
      });
      for (const object of out.Contents ?? []) {
        const key = object.Key?.slice(this.prefix.length);
        // Skips what this store cannot have written, such as "folder/" markers made by web consoles.
        if (key === undefined || !isValidKey(key)) continue;
        yield { key, size: object.Size ?? 0, modified: object.LastModified ?? new Date(0) };
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async presignGet(key: string, expiresInSeconds: number, range?: ByteRange): Promise<string> {
    assertValidKey(key);
    if (!Number.isSafeInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > MAX_PRESIGN_SECONDS) {
      throw new DpkgError("E_BAD_REQUEST", `presigned URLs expire after 1 to ${MAX_PRESIGN_SECONDS} seconds`, {
        expiresInSeconds,
      });
    }
    if (range !== undefined) assertValidRange(key, range);
    // With a range, the Range header is part of the signature: the URL then serves those bytes only.
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: this.prefix + key,
      ...(range === undefined ? {} : { Range: `bytes=${range.start}-${range.end - 1}` }),
    });
    const signableHeaders = range === undefined ? undefined : new Set(["range"]);
    return getSignedUrl(this.client, command, { expiresIn: expiresInSeconds, ...(signableHeaders ? { signableHeaders } : {}) }).catch((err: unknown) => {
      throw toStoreError(err, "presign", key);
    });
  }

  private async putSingle(key: string, body: Buffer, options: PutOptions): Promise<PutResult> {
    const command = new PutObjectCommand({
      Bucket: this.bucket,
      Key: this.prefix + key,
      // A buffer of known length: the SDK sends it as a plain body, never aws-chunked.
      Body: body,
      ContentLength: body.byteLength,
      ContentType: "application/octet-stream",
      IfNoneMatch: options.overwrite ? undefined : "*",
    });
    try {
      await this.client.send(command);
      return { created: true, size: body.byteLength };
    } catch (err) {
      if (!options.overwrite && isPreconditionFailed(err)) return this.existing(key, body.byteLength);
      throw toStoreError(err, "put", key);
    } finally {
      this.parts.give(body);
    }
  }

  private async putMultipart(
    key: string,
    initial: Buffer[],
    parts: AsyncGenerator<Buffer, void, undefined>,
    options: PutOptions,
  ): Promise<PutResult> {
    const target = { Bucket: this.bucket, Key: this.prefix + key };
    const created = await this.client
      .send(new CreateMultipartUploadCommand({ ...target, ContentType: "application/octet-stream" }))
      .catch((err: unknown) => {
        throw toStoreError(err, "put", key);
      });
    const uploadId = created.UploadId;
    if (uploadId === undefined) throw new DpkgError("E_INTERNAL", `S3 put ${key}: no upload id in the response`);

    const uploader = new PartUploader(this.client, { ...target, UploadId: uploadId }, this.partConcurrency, key, (body) =>
      this.parts.give(body),
    );
    try {
      for (const body of initial) await uploader.add(body);
      for (let next = await parts.next(); !next.done; next = await parts.next()) await uploader.add(next.value);
      const uploaded = await uploader.finish();
      try {
        await this.client.send(
          new CompleteMultipartUploadCommand({
            ...target,
            UploadId: uploadId,
            MultipartUpload: { Parts: uploaded.parts },
            IfNoneMatch: options.overwrite ? undefined : "*",
          }),
        );
      } catch (err) {
        if (options.overwrite || !isPreconditionFailed(err)) throw toStoreError(err, "put", key);
        await this.abort(key, uploadId);
        return this.existing(key, uploaded.size);
      }
      return { created: true, size: uploaded.size };
    } catch (err) {
      await uploader.settle();
      await this.abort(key, uploadId);
      throw err;
    }
  }

  /** Parts of an aborted upload cost storage until a lifecycle rule expires them; a failed abort only warns. */
  private async abort(key: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(
        new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.prefix + key, UploadId: uploadId }),
      );
    } catch (err) {
      const { code, status } = describeS3Failure(err);
      this.logger?.warn(
        { bucket: this.bucket, key: this.prefix + key, uploadId, s3Code: code, httpStatus: status },
        "could not abort a multipart upload; a bucket lifecycle rule for incomplete uploads will clean it up",
      );
    }
  }

  private async existing(key: string, fallbackSize: number): Promise<PutResult> {
    return { created: false, size: (await this.stat(key))?.size ?? fallbackSize };
  }

  private async oneWriterAtATime<T>(key: string, write: () => Promise<T>): Promise<T> {
    const previous = this.writing.get(key) ?? Promise.resolve();
    let release = (): void => undefined;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.writing.set(key, tail);
    await previous;
    try {
      return await write();
    } finally {
      release();
      if (this.writing.get(key) === tail) this.writing.delete(key);
    }
  }
}
