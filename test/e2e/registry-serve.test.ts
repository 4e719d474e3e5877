import { digestBytes } from "@dpkg/core";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { createTestBucket, S3RVER_CREDENTIALS } from "../../packages/registry-server/test/helpers/s3rver.js";
import { file, getJson, pushOverHttp } from "../helpers/http-push.js";
import { startRegistry } from "../helpers/registry.js";

const files = [file("a/one.txt", "one\n", { n: 1 }), file("a/two.txt", "two\n", { n: 2 }), file("b.bin", new Uint8Array(5000).fill(9))];

describe("dpkg-registry serve, as a process", () => {
  it("starts on embedded defaults, makes an admin token, accepts a push and serves reads", async () => {
    await using registry = await startRegistry();
    expect((await stat(join(registry.dataDir, "admin-token"))).mode & 0o777).toBe(0o600);
    expect(registry.stderr()).toContain("created an admin token");
    expect(registry.stderr()).not.toContain(registry.token);

    const health = await getJson(`${registry.url}/v1/health`);
    expect(health).toMatchObject({ status: 200, body: { status: "ok" } });

    const pushed = await pushOverHttp(registry.url, registry.token, "lab/cells", files, { message: "first" });
    expect(pushed.status, JSON.stringify(pushed.body)).toBe(200);
    const resolved = await getJson(`${registry.url}/v1/packages/lab/cells/resolve/latest`, registry.token);
    expect(resolved.body).toEqual({ digest: pushed.digest, ref: "latest" });
    const manifest = await fetch(`${registry.url}/v1/packages/lab/cells/revisions/${pushed.digest}/manifest`, {
      headers: { authorization: `Bearer ${registry.token}` },
    });
    expect(digestBytes(new Uint8Array(await manifest.arrayBuffer()))).toBe(pushed.digest);
  });

  it("finishes on SIGTERM with exit code 0, and keeps everything across a restart", async () => {
    const first = await startRegistry();
    const pushed = await pushOverHttp(first.url, first.token, "lab/keep", files);
    expect(pushed.status).toBe(200);
    expect(await first.stop("SIGTERM")).toBe(0);

    await using second = await startRegistry({ dataDir: first.dataDir });
    expect(second.token).toBe(first.token); // no second admin token on restart
    expect(second.stderr()).not.toContain("created an admin token");
    const info = await getJson(`${second.url}/v1/packages/lab/keep`, second.token);
    expect(info.body).toMatchObject({ tags: { latest: pushed.digest } });
    await first[Symbol.asyncDispose]();
  });

  it("keeps blobs in S3 with --s3-bucket and --s3-endpoint (s3rver)", async () => {
    const endpoint = inject("s3Endpoint");
    const bucket = await createTestBucket(endpoint);
    await using registry = await startRegistry({
      args: ["--s3-bucket", bucket, "--s3-endpoint", endpoint, "--s3-prefix", "dpkg"],
      env: { AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey },
    });
    expect((await getJson(`${registry.url}/v1/health`)).body).toMatchObject({ blobStore: expect.stringContaining(bucket) });
    const pushed = await pushOverHttp(registry.url, registry.token, "lab/s3", files);
    expect(pushed.status, JSON.stringify(pushed.body)).toBe(200);
    const loc = await fetch(`${registry.url}/v1/packages/lab/s3/blobs/locations`, {
      method: "POST",
      headers: { authorization: `Bearer ${registry.token}`, "content-type": "application/json" },
      body: JSON.stringify({ digests: files.map((f) => digestBytes(f.bytes)) }),
    });
    const { groups } = (await loc.json()) as { groups: { url: string; start: number; end: number; viaRegistry: boolean; blobs: { digest: string; offset: number; size: number }[] }[] };
    expect(groups.every((g) => !g.viaRegistry && g.url.startsWith(endpoint))).toBe(true);
    for (const g of groups) {
      const res = await fetch(g.url, { headers: { range: `bytes=${g.start}-${g.end - 1}` } });
      const bytes = new Uint8Array(await res.arrayBuffer()).subarray(0, g.end - g.start);
      for (const b of g.blobs) expect(digestBytes(bytes.subarray(b.offset, b.offset + b.size))).toBe(b.digest);
    }
  });
});
