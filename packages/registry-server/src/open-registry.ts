import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { AppConfig } from "./app.js";
import type { BlobStore } from "./blob-store/blob-store.js";
import { FsBlobStore } from "./blob-store/fs-blob-store.js";
import { S3BlobStore } from "./blob-store/s3-blob-store.js";
import type { RegistryConfig } from "./config.js";
import type { MetadataStore } from "./metadata/metadata-store.js";
import { openSqliteMetadataStore } from "./metadata/sqlite/sqlite-metadata-store.js";
import { generateTokenSecret, hashTokenSecret, newTokenId } from "./tokens.js";

export interface OpenRegistry {
  blobs: BlobStore;
  meta: MetadataStore;
  appConfig: AppConfig;
  close(): Promise<void>;
}

export const VERSION: string = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string })
  .version;

export function indexFile(config: RegistryConfig): string {
  return join(config.dataDir, "index.sqlite");
}

/** Opens the stores a config names, creating the data folder and its secrets on first use. */
export async function openRegistry(config: RegistryConfig, options: { indexFile?: string } = {}): Promise<OpenRegistry> {
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const tmpDir = join(config.dataDir, "tmp");
  await mkdir(tmpDir, { recursive: true });
  const blobs: BlobStore =
    config.s3 === undefined
      ? new FsBlobStore(join(config.dataDir, "blobs"))
      : new S3BlobStore({
          bucket: config.s3.bucket,
          prefix: config.s3.prefix,
          endpoint: config.s3.endpoint,
          region: config.s3.region,
          forcePathStyle: config.s3.forcePathStyle,
        });
  const meta = openSqliteMetadataStore(options.indexFile ?? indexFile(config));
  return {
    blobs,
    meta,
    appConfig: {
      version: VERSION,
      tmpDir,
      urlSecret: await secretFile(join(config.dataDir, "url-secret")),
      presignSeconds: config.presignSeconds,
      packBytes: config.packBytes,
      largeBlobBytes: config.largeBlobBytes,
      jsonBodyLimit: 16 * 1024 * 1024,
      maxManifestBytes: config.maxManifestBytes,
    },
    close: () => meta.close(),
  };
}

/** A random secret kept in a 0600 file, created on first use. */
async function secretFile(file: string): Promise<Uint8Array> {
  try {
    return Buffer.from((await readFile(file, "utf8")).trim(), "base64url");
  } catch {
    const secret = randomBytes(32);
    await writeFile(file, secret.toString("base64url") + "\n", { mode: 0o600, flag: "wx" }).catch(() => undefined);
    return Buffer.from((await readFile(file, "utf8")).trim(), "base64url");
  }
}

/**
 * On a registry with no tokens at all, creates an admin token and writes it to a 0600 file in
 * the data folder, so a fresh `dpkg-registry serve` can be pushed to from the same machine.
 * Returns the file, or null when tokens already exist.
 */
export async function ensureAdminToken(meta: MetadataStore, dataDir: string): Promise<string | null> {
  if ((await meta.listTokens()).length > 0) return null;
  const secret = generateTokenSecret();
  await meta.createToken({
    id: newTokenId(),
    name: "admin",
    hash: hashTokenSecret(secret),
    scopes: [{ kind: "admin" }],
    createdAt: new Date(),
  });
  const file = join(dataDir, "admin-token");
  await writeFile(file, secret + "\n", { mode: 0o600 });
  await chmod(file, 0o600);
  return file;
}
