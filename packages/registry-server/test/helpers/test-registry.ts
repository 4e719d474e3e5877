import { S3Client } from "@aws-sdk/client-s3";
import { inject } from "vitest";
import { buildApp, type App } from "../../src/app.js";
import type { BlobStore } from "../../src/blob-store/blob-store.js";
import { FsBlobStore } from "../../src/blob-store/fs-blob-store.js";
import { S3BlobStore } from "../../src/blob-store/s3-blob-store.js";
import type { MetadataStore, Scope } from "../../src/metadata/metadata-store.js";
import { openSqliteMetadataStore } from "../../src/metadata/sqlite/sqlite-metadata-store.js";
import { generateTokenSecret, hashTokenSecret, newTokenId } from "../../src/tokens.js";
import { createTestBucket, S3RVER_CREDENTIALS, S3RVER_REGION } from "./s3rver.js";
import { makeTempDir } from "./temp-dir.js";
import { join } from "node:path";
import { mkdir } from "node:fs/promises";

export interface TestRegistry {
  app: App;
  blobs: BlobStore;
  meta: MetadataStore;
  dir: string;
  adminToken: string;
  /** A new token with these scopes, e.g. [{ kind: "write", pattern: "lab" }]. */
  token(scopes: Scope[], name?: string): Promise<string>;
  close(): Promise<void>;
}

export interface TestRegistryOptions {
  store?: "fs" | "s3";
  packBytes?: number;
  largeBlobBytes?: number;
  jsonBodyLimit?: number;
  /** Logs are off unless a level is given; they go to `logStream` (default stdout). */
  logLevel?: string;
  logStream?: NodeJS.WritableStream;
}

/** A registry app (not listening; use inject) over a temp folder or a fresh s3rver bucket, and SQLite in a temp file. */
export async function startTestRegistry(options: TestRegistryOptions = {}): Promise<TestRegistry> {
  const dir = await makeTempDir("dpkg-registry");
  let blobs: BlobStore;
  if (options.store === "s3") {
    const endpoint = inject("s3Endpoint");
    const bucket = await createTestBucket(endpoint);
    blobs = new S3BlobStore({ bucket, endpoint, region: S3RVER_REGION, forcePathStyle: true, credentials: S3RVER_CREDENTIALS, partSize: 5 * 1024 * 1024 });
  } else {
    blobs = new FsBlobStore(join(dir.path, "blobs"));
  }
  const meta = openSqliteMetadataStore(join(dir.path, "index.sqlite"));
  const tmpDir = join(dir.path, "tmp");
  await mkdir(tmpDir);
  const app = await buildApp({
    blobs,
    meta,
    config: {
      version: "0.0.0-test",
      tmpDir,
      urlSecret: new Uint8Array(32).fill(7),
      presignSeconds: 600,
      packBytes: options.packBytes ?? 64 * 1024,
      largeBlobBytes: options.largeBlobBytes ?? 32 * 1024,
      jsonBodyLimit: options.jsonBodyLimit ?? 1024 * 1024,
    },
    logLevel: options.logLevel,
    logStream: options.logStream,
  });
  await app.ready();
  const token = async (scopes: Scope[], name = "test"): Promise<string> => {
    const secret = generateTokenSecret();
    await meta.createToken({ id: newTokenId(), name, hash: hashTokenSecret(secret), scopes, createdAt: new Date() });
    return secret;
  };
  const adminToken = await token([{ kind: "admin" }], "admin");
  return {
    app,
    blobs,
    meta,
    dir: dir.path,
    adminToken,
    token,
    async close() {
      await app.close();
      await meta.close();
      await dir.cleanup();
    },
  };
}

export { S3Client };
