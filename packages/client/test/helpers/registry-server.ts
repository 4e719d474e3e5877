import type { api } from "@dpkg/core";
import { buildApp, ensureAdminToken, FsBlobStore, openSqliteMetadataStore, S3BlobStore, type BlobStore } from "@dpkg/registry-server";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { inject } from "vitest";
import { createTestBucket, S3RVER_CREDENTIALS, S3RVER_REGION } from "../../../registry-server/test/helpers/s3rver.js";
import { makeTempDir } from "../../../registry-server/test/helpers/temp-dir.js";

export interface TestRegistryServer {
  /** http://127.0.0.1:<port> */
  url: string;
  /** An admin token. */
  token: string;
  /** The registry's data folder; with the "fs" store its blobs live under `<dataDir>/blobs`. */
  dataDir: string;
  /** A new token with these scopes, e.g. [{ kind: "read", pattern: "lab" }]. */
  tokenFor(scopes: api.Scope[]): Promise<string>;
  close(): Promise<void>;
}

export interface TestRegistryServerOptions {
  store?: "fs" | "s3";
  /** Small blobs are packed up to this many bytes per pack (default 1 MiB, so tests see several packs). */
  packBytes?: number;
  /** Blobs at or above this size are stored alone (default 4 MiB, as in production). */
  largeBlobBytes?: number;
}

/**
 * A real registry listening on a free port of 127.0.0.1: SQLite index and a folder blob store in a
 * temp dir, or a fresh bucket of the run's s3rver (needs the global setup of the vitest project).
 */
export async function startTestRegistryServer(options: TestRegistryServerOptions = {}): Promise<TestRegistryServer> {
  const dir = await makeTempDir("dpkg-client-registry");
  const dataDir = dir.path;
  let blobs: BlobStore;
  if (options.store === "s3") {
    const endpoint = inject("s3Endpoint");
    const bucket = await createTestBucket(endpoint);
    blobs = new S3BlobStore({ bucket, endpoint, region: S3RVER_REGION, forcePathStyle: true, credentials: S3RVER_CREDENTIALS, partSize: 5 * 1024 * 1024 });
  } else {
    blobs = new FsBlobStore(join(dataDir, "blobs"));
  }
  const meta = openSqliteMetadataStore(join(dataDir, "index.sqlite"));
  const tmpDir = join(dataDir, "tmp");
  await mkdir(tmpDir);
  const app = await buildApp({
    blobs,
    meta,
    config: {
      version: "0.0.0-test",
      tmpDir,
      urlSecret: new Uint8Array(32).fill(7),
      presignSeconds: 600,
      packBytes: options.packBytes ?? 1024 * 1024,
      largeBlobBytes: options.largeBlobBytes ?? 4 * 1024 * 1024,
      jsonBodyLimit: 16 * 1024 * 1024,
    },
    logLevel: false,
  });
  const tokenFile = await ensureAdminToken(meta, dataDir);
  if (tokenFile === null) throw new Error("a fresh test registry already had tokens");
  const token = (await readFile(tokenFile, "utf8")).trim();
  await app.listen({ port: 0, host: "127.0.0.1" });
  const address = app.server.address();
  if (address === null || typeof address === "string") throw new Error("the test registry has no TCP address");
  const url = `http://127.0.0.1:${address.port}`;

  const tokenFor = async (scopes: api.Scope[]): Promise<string> => {
    const res = await fetch(`${url}/v1/tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "test", scopes }),
    });
    if (!res.ok) throw new Error(`minting a test token failed: HTTP ${res.status} ${await res.text()}`);
    return ((await res.json()) as api.CreateTokenResponse).token;
  };

  return {
    url,
    token,
    dataDir,
    tokenFor,
    async close() {
      await app.close();
      await meta.close();
      await dir.cleanup();
    },
  };
}
