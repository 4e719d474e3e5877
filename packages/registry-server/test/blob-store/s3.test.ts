import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { createServer } from "node:net";
import { randomBytes } from "node:crypto";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { DpkgError } from "@dpkg/core";
import { S3BlobStore, type S3BlobStoreOptions } from "../../src/blob-store/s3-blob-store.js";
import { PartPool } from "../../src/blob-store/part-pool.js";
import { createS3Client, readParts, unsignedPayloadWanted } from "../../src/blob-store/s3-client.js";
import { blobStoreContract, chunked, expectBytes, readAll } from "../contract/blob-store-contract.js";
import { createTestBucket, S3RVER_CREDENTIALS, S3RVER_REGION, s3rverClient } from "../helpers/s3rver.js";

const MIB = 1024 * 1024;
const endpoint = inject("s3Endpoint");
const connection = { endpoint, region: S3RVER_REGION, credentials: S3RVER_CREDENTIALS, forcePathStyle: true };
let bucket: string;
let stores = 0;

function makeStore(options: Partial<S3BlobStoreOptions> = {}): S3BlobStore {
  // A fresh prefix per store keeps tests apart inside the file's bucket, and exercises prefixes.
  return new S3BlobStore({ ...connection, bucket, prefix: `t${++stores}`, partSize: 5 * MIB, ...options });
}

beforeAll(async () => {
  bucket = await createTestBucket(endpoint);
});

blobStoreContract("s3", () => {
  const store = makeStore();
  return Promise.resolve({ store, cleanup: () => Promise.resolve(store.close()) });
});

describe("S3BlobStore", () => {
  it("presigns GET URLs that serve the bytes and honour Range", async () => {
    const store = makeStore();
    const data = randomBytes(1000);
    await store.put("blobs/ab/obj", data);
    const url = await store.presignGet("blobs/ab/obj", 60);
    expect(new URL(url).hostname).toBe("127.0.0.1");

    const whole = await fetch(url);
    expect(whole.status).toBe(200);
    expectBytes(Buffer.from(await whole.arrayBuffer()), data);
    const part = await fetch(url, { headers: { Range: "bytes=100-199" } });
    expect(part.status).toBe(206);
    expectBytes(Buffer.from(await part.arrayBuffer()), data.subarray(100, 200));
    await expect(store.presignGet("blobs/ab/obj", 0)).rejects.toMatchObject({ code: "E_BAD_REQUEST" });
  });

  it("stores plain bytes (never aws-chunked framing) and sends If-None-Match only when creating", async () => {
    const client = createS3Client(connection);
    const seen = recordRequests(client);
    const store = makeStore({ client });
    const large = randomBytes(11 * MIB);
    await store.put("single", Buffer.from("hello"));
    await store.put("multi", chunked(large, 1 * MIB));
    await store.put("tag", Buffer.from("v1"), { overwrite: true });

    const writes = seen.filter((r) => r.method === "PUT" || (r.method === "POST" && r.query.includes("uploadId")));
    for (const r of writes) {
      expect(r.headers["content-encoding"] ?? "").not.toContain("aws-chunked");
      expect(r.headers["x-amz-content-sha256"] ?? "").not.toMatch(/^STREAMING/);
      expect(r.headers["x-amz-decoded-content-length"]).toBeUndefined();
    }
    const ifNoneMatch = (path: string, method: string): (string | undefined)[] =>
      seen.filter((r) => r.path.endsWith(path) && r.method === method).map((r) => r.headers["if-none-match"]);
    expect(ifNoneMatch("/single", "PUT")).toEqual(["*"]);
    expect(ifNoneMatch("/multi", "POST").at(-1)).toBe("*");
    expect(ifNoneMatch("/tag", "PUT")).toEqual([undefined]);

    // Read around the store, so its own reads cannot hide framing stored with the bytes.
    const raw = s3rverClient(endpoint);
    const out = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: `t${stores}/multi` }));
    expectBytes(Buffer.from(await out.Body!.transformToByteArray()), large);
    raw.destroy();
  });

  it("sends uploads as UNSIGNED-PAYLOAD over TLS and on loopback, and signs payload hashes over plain HTTP elsewhere", async () => {
    // s3rver listens on 127.0.0.1: the bytes never leave the machine, so nothing is hashed to sign them.
    const loopback = createS3Client(connection);
    const seenLoopback = recordRequests(loopback);
    await makeStore({ client: loopback }).put("unsigned", Buffer.from("loopback bytes"));
    expect(seenLoopback.filter((r) => r.method === "PUT").map((r) => r.headers["x-amz-content-sha256"])).toEqual(["UNSIGNED-PAYLOAD"]);
    loopback.destroy();

    // Nothing listens there: the request is recorded as unsigned, then refused.
    const tls = createS3Client({ ...connection, endpoint: `https://127.0.0.1:${await closedPort()}`, maxAttempts: 1 });
    const seenTls = recordRequests(tls);
    const sent = tls.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: Buffer.from("x"), ContentLength: 1 }));
    await expect(sent).rejects.toThrow();
    expect(seenTls.map((r) => [r.method, r.headers["x-amz-content-sha256"]])).toEqual([["PUT", "UNSIGNED-PAYLOAD"]]);
    tls.destroy();

    // Plain HTTP to another host is not tried here (tests talk to 127.0.0.1 only): the rule itself.
    const put = (protocol: string, hostname: string) => ({ protocol, hostname, method: "PUT", headers: {} });
    expect(unsignedPayloadWanted(put("http:", "s3.example.org"))).toBe(false);
    expect(unsignedPayloadWanted(put("http:", "10.0.0.5"))).toBe(false);
    expect(unsignedPayloadWanted(put("http:", "127.0.0.1.example.org"))).toBe(false);
    expect(unsignedPayloadWanted(put("http:", "127.9.0.1"))).toBe(true);
    expect(unsignedPayloadWanted(put("http:", "[::1]"))).toBe(true);
    expect(unsignedPayloadWanted(put("http:", "localhost"))).toBe(true);
    expect(unsignedPayloadWanted(put("https:", "s3.example.org"))).toBe(true);
    expect(unsignedPayloadWanted({ ...put("http:", "127.0.0.1"), method: "GET" })).toBe(false);
  });

  it("uploads once when puts of one key overlap in this process", async () => {
    const client = createS3Client(connection);
    const seen = recordRequests(client);
    const store = makeStore({ client });
    const data = randomBytes(1000);
    const results = await Promise.all([1, 2, 3].map(() => store.put("k", chunked(data, 100, true))));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(seen.filter((r) => r.method === "PUT")).toHaveLength(1);
  });

  it("keeps stores with different prefixes apart", async () => {
    const a = makeStore();
    const b = makeStore();
    await a.put("same/key", Buffer.from("a"));
    expect(await b.stat("same/key")).toBeNull();
    expect(await b.put("same/key", Buffer.from("bb"))).toEqual({ created: true, size: 2 });
    const keys: string[] = [];
    for await (const { key } of a.list("")) keys.push(key);
    expect(keys).toEqual(["same/key"]);
    expect(a.describe()).toMatch(new RegExp(`^s3://${bucket}/t\\d+/ at http://127\\.0\\.0\\.1:\\d+$`));
  });

  it("maps a refused connection to E_UNAVAILABLE", async () => {
    const store = makeStore({ endpoint: `http://127.0.0.1:${await closedPort()}`, maxAttempts: 1 });
    await expect(store.stat("k")).rejects.toMatchObject({ code: "E_UNAVAILABLE" });
  });

  it("never puts credentials or signatures in errors or descriptions", async () => {
    const secret = "wrong-secret-0123456789";
    const store = makeStore({ credentials: { accessKeyId: "S3RVER", secretAccessKey: secret }, maxAttempts: 1 });
    const error = await store.get("k").catch((err: unknown) => err);
    expect(error).toBeInstanceOf(DpkgError);
    const text = [String(error), JSON.stringify(error), (error as Error).stack, store.describe()].join("\n");
    expect(text).not.toContain(secret);
    expect(text).not.toMatch(/signature=|x-amz-signature|AWS4-HMAC/i);
  });

  it("refuses part sizes S3 would reject", () => {
    expect(() => makeStore({ partSize: 5 * MIB - 1 })).toThrow(DpkgError);
  });
});

describe("readParts", () => {
  const partsOf = async (sizes: number[], partSize: number): Promise<number[]> => {
    const source = (async function* () {
      for (const size of sizes) yield new Uint8Array(size);
    })();
    const lengths: number[] = [];
    for await (const part of readParts(source, partSize)) lengths.push(part.byteLength);
    return lengths;
  };

  it("cuts a stream into full parts and a shorter last one", async () => {
    expect(await partsOf([], 10)).toEqual([0]);
    expect(await partsOf([3, 0, 4], 10)).toEqual([7]);
    expect(await partsOf([10], 10)).toEqual([10]);
    expect(await partsOf([7, 7, 7], 10)).toEqual([10, 10, 1]);
    expect(await partsOf([25], 10)).toEqual([10, 10, 5]);
    expect(await partsOf([5, 5, 10], 10)).toEqual([10, 10]);
  });

  it("takes part buffers from a pool that keeps given-back parts for a while", async () => {
    const pool = new PartPool(10, 2, 50);
    const parts: Buffer[] = [];
    for await (const part of readParts(chunked(randomBytes(25), 7), 10, () => pool.take())) parts.push(part);
    expect(parts.map((p) => p.byteLength)).toEqual([10, 10, 5]);
    for (const part of parts) pool.give(part);
    pool.give(Buffer.alloc(10)); // the pool keeps 2 at most
    pool.give(Buffer.alloc(12)); // not a part buffer: ignored
    const given = new Set(parts.map((p) => p.buffer));
    const again = [pool.take(), pool.take(), pool.take()];
    expect(again.map((b) => given.has(b.buffer))).toEqual([true, true, false]);
    // Idle buffers are dropped once none was taken for a while.
    pool.give(again[0]!);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(pool.take().buffer).not.toBe(again[0]!.buffer);
  });

  it("passes whole parts of the source on as they are, and copies the rest", async () => {
    const data = randomBytes(35);
    const source = (async function* () {
      yield data.subarray(0, 20); // two whole parts
      yield data.subarray(20, 23); // the start of a part
      yield data.subarray(23, 35); // its end, then a part that is not whole
    })();
    const parts: Buffer[] = [];
    for await (const part of readParts(source, 10)) parts.push(part);
    expect(parts.map((p) => p.byteLength)).toEqual([10, 10, 10, 5]);
    expect(parts.map((p) => p.buffer === data.buffer)).toEqual([true, true, false, false]);
    expectBytes(Buffer.concat(parts), data);
  });

  it("never keeps a buffer it did not make, even one of the part size", () => {
    const pool = new PartPool(10, 2, 50);
    const foreign = Buffer.allocUnsafeSlow(10);
    pool.give(foreign);
    expect(pool.take().buffer).not.toBe(foreign.buffer);
  });

  it("keeps the bytes in order", async () => {
    const data = randomBytes(1000);
    const parts: Buffer[] = [];
    for await (const part of readParts(chunked(data, 33), 128)) parts.push(part);
    expectBytes(Buffer.concat(parts), data);
    expectBytes(await readAll(readParts(chunked(data, 1000), 1000)), data);
  });
});

interface SeenRequest {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string | undefined>;
}

/** Records each HTTP request as signed and sent (the finalize step sees the final headers). */
function recordRequests(client: S3Client): SeenRequest[] {
  const seen: SeenRequest[] = [];
  client.middlewareStack.add(
    (next) => (args) => {
      const request = args.request as { method: string; path: string; query?: object; headers: Record<string, string> };
      const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]));
      seen.push({
        method: request.method,
        path: request.path,
        query: Object.keys(request.query ?? {}).join("&"),
        headers,
      });
      return next(args);
    },
    { step: "finalizeRequest", priority: "low" },
  );
  return seen;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}
