import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { makeTempDir } from "./temp-dir.js";

/** s3rver accepts only these; they are test fixtures, not secrets. */
export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;
export const S3RVER_REGION = "us-east-1";

export interface S3rverHandle {
  /** `http://127.0.0.1:<port>`; use path-style addressing. */
  endpoint: string;
  /** Where s3rver keeps its buckets (deleted by `stop`). */
  directory: string;
  stop(): Promise<void>;
}

const launcher = fileURLToPath(new URL("./s3rver-process.mjs", import.meta.url));

/**
 * Starts s3rver in a child process on a free port of 127.0.0.1, with a fresh temp directory. The
 * child runs with --openssl-legacy-provider, which s3rver's continuation tokens need past 1,000 keys.
 */
export async function startS3rver(): Promise<S3rverHandle> {
  const dir = await makeTempDir("dpkg-s3rver");
  const child = spawn(process.execPath, ["--openssl-legacy-provider", launcher, dir.path], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  try {
    const port = await readPort(child);
    return {
      endpoint: `http://127.0.0.1:${port}`,
      directory: dir.path,
      async stop() {
        await stopChild(child);
        await dir.cleanup();
      },
    };
  } catch (err) {
    await stopChild(child);
    await dir.cleanup();
    throw err;
  }
}

async function readPort(child: ChildProcess): Promise<number> {
  if (child.stdout === null) throw new Error("s3rver child has no stdout");
  const lines = createInterface({ input: child.stdout });
  const exited = new Promise<never>((_, reject) => {
    child.once("exit", (code, signal) => reject(new Error(`s3rver exited before listening (${code ?? signal})`)));
    child.once("error", reject);
  });
  const firstLine = new Promise<string>((resolve) => lines.once("line", resolve));
  try {
    const line = await Promise.race([firstLine, exited]);
    const { port } = JSON.parse(line) as { port: unknown };
    if (typeof port !== "number") throw new Error(`s3rver printed ${line}, not a port`);
    return port;
  } finally {
    lines.close();
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  await exited;
}

/** A client for fixtures and assertions that go around the store. */
export function s3rverClient(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: S3RVER_REGION,
    credentials: S3RVER_CREDENTIALS,
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/** Creates a bucket with a fresh name, so test files sharing one s3rver never see each other's keys. */
export async function createTestBucket(endpoint: string): Promise<string> {
  const bucket = `test-${randomBytes(6).toString("hex")}`;
  const client = s3rverClient(endpoint);
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
  return bucket;
}
