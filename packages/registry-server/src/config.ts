import { DpkgError } from "@dpkg/core";
import { resolve } from "node:path";

/** Everything `dpkg-registry` can be told, from flags or DPKG_* environment variables. */
export interface RegistryConfig {
  host: string;
  port: number;
  /** SQLite index, temp files, secrets and (without S3) the blobs live here. */
  dataDir: string;
  s3?: {
    bucket: string;
    prefix?: string;
    endpoint?: string;
    region?: string;
    forcePathStyle: boolean;
  };
  logLevel: string;
  presignSeconds: number;
  packBytes: number;
  largeBlobBytes: number;
  /** Manifests larger than this are refused (E_TOO_LARGE). */
  maxManifestBytes: number;
}

export interface RawOptions {
  host?: string;
  port?: number;
  data?: string;
  s3Bucket?: string;
  s3Prefix?: string;
  s3Endpoint?: string;
  s3Region?: string;
  s3ForcePathStyle?: boolean;
  logLevel?: string;
  maxManifestBytes?: number;
}

const MIB = 1024 * 1024;

/** Flags win over environment variables, which win over the embedded defaults. */
export function resolveConfig(flags: RawOptions, env: NodeJS.ProcessEnv = process.env): RegistryConfig {
  const bucket = flags.s3Bucket ?? env.DPKG_S3_BUCKET;
  const endpoint = flags.s3Endpoint ?? env.DPKG_S3_ENDPOINT;
  const port = flags.port ?? (env.DPKG_REGISTRY_PORT === undefined ? 7777 : Number(env.DPKG_REGISTRY_PORT));
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new DpkgError("E_USAGE", `port must be an integer from 0 to 65535, got ${String(port)}`);
  }
  return {
    host: flags.host ?? env.DPKG_REGISTRY_HOST ?? "127.0.0.1",
    port,
    dataDir: resolve(flags.data ?? env.DPKG_REGISTRY_DATA ?? ".dpkg-registry"),
    ...(bucket === undefined || bucket === ""
      ? {}
      : {
          s3: {
            bucket,
            prefix: flags.s3Prefix ?? env.DPKG_S3_PREFIX,
            endpoint,
            region: flags.s3Region ?? env.DPKG_S3_REGION ?? env.AWS_REGION ?? "us-east-1",
            // S3-compatible servers at a custom endpoint nearly always need path-style addressing.
            forcePathStyle: flags.s3ForcePathStyle ?? (env.DPKG_S3_FORCE_PATH_STYLE !== undefined ? env.DPKG_S3_FORCE_PATH_STYLE === "true" : endpoint !== undefined),
          },
        }),
    logLevel: flags.logLevel ?? env.DPKG_LOG_LEVEL ?? "info",
    presignSeconds: 3600,
    packBytes: 16 * MIB,
    largeBlobBytes: 4 * MIB,
    maxManifestBytes: byteCount("max manifest bytes", flags.maxManifestBytes ?? env.DPKG_MAX_MANIFEST_BYTES, 2 * 1024 * MIB),
  };
}

/** "24h", "30m", "90s", "7d" or plain milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim());
  if (m === null) throw new DpkgError("E_USAGE", `${JSON.stringify(text)} is not a duration like 24h, 30m, 90s or 7d`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? "ms") as "ms" | "s" | "m" | "h" | "d"];
  return Number(m[1]) * unit;
}

function byteCount(what: string, value: number | string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new DpkgError("E_USAGE", `${what} must be a positive whole number of bytes, got ${String(value)}`);
  return n;
}
