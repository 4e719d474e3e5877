// s3rver in its own process (the test suite's launcher: it needs --openssl-legacy-provider past
// 1,000 keys), with one bucket, and the counting proxy in front of it that every S3 client uses.
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { startCountingProxy } from "./counting-proxy.mjs";

const LAUNCHER = fileURLToPath(
  new URL("../../packages/registry-server/test/helpers/s3rver-process.mjs", import.meta.url),
);

/** s3rver's fixed test credentials: fixtures, not secrets. */
export const S3_ENV = { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", AWS_REGION: "us-east-1" };
export const BUCKET = "bench";

export function s3Client(endpoint) {
  return new S3Client({
    endpoint,
    region: S3_ENV.AWS_REGION,
    credentials: { accessKeyId: S3_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: S3_ENV.AWS_SECRET_ACCESS_KEY },
    forcePathStyle: true,
    // The registry's settings (see registry-server/src/blob-store/s3-client.ts), so both pay the same.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/** Starts s3rver on a free port with its folder in `dir`, makes the bucket, and puts the proxy in front. */
export async function startS3(dir) {
  await mkdir(dir, { recursive: true });
  const child = spawn(process.execPath, ["--openssl-legacy-provider", LAUNCHER, dir], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise((_, reject) => child.once("exit", (code) => reject(new Error(`s3rver exited (${code})`))));
  const lines = createInterface({ input: child.stdout });
  const line = await Promise.race([new Promise((resolve) => lines.once("line", resolve)), exited]);
  lines.close();
  const direct = `http://127.0.0.1:${JSON.parse(line).port}`;
  const client = s3Client(direct);
  try {
    await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  } finally {
    client.destroy();
  }
  const proxy = await startCountingProxy(direct);
  return {
    pid: child.pid,
    /** What clients use: the proxy, which counts requests and bytes. */
    endpoint: proxy.endpoint,
    proxy,
    async stop() {
      await proxy.close();
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await gone;
      }
    },
  };
}
