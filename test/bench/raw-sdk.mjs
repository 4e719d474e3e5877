#!/usr/bin/env node
// The raw SDK baseline, run as its own process like the dpkg CLI: @aws-sdk/client-s3 alone, one
// object per file, 16 requests in flight; multipart (our own UploadPart loop) for large files and
// parallel ranged GETs to download them.
//   node raw-sdk.mjs upload   <endpoint> <index.json> <prefix>
//   node raw-sdk.mjs download <endpoint> <index.json> <prefix> <dest>
//   node raw-sdk.mjs read     <endpoint> - <prefix>     GETs every object under <prefix> and drops the
//     bytes: what reading a package's packs costs the store alone (no hashing, no files written).
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { createWriteStream } from "node:fs";
import { mkdir, open, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { BUCKET, s3Client } from "./s3-server.mjs";

const CONCURRENCY = 16;
const PART = 8 * 1024 * 1024;

const [mode, endpoint, indexFile, prefix, dest] = process.argv.slice(2);
const index = mode === "read" ? { files: [], bytes: 0 } : JSON.parse(await readFile(indexFile, "utf8"));
const client = s3Client(endpoint);
const limit = limiter(CONCURRENCY);
const key = (path) => `${prefix}/${path}`;

if (mode === "upload")
  await Promise.all(index.files.map((f) => (f.size > PART ? uploadLarge(f) : limit(() => uploadSmall(f)))));
else if (mode === "download") {
  for (const d of new Set(index.files.map((f) => dirname(join(dest, f.path))))) await mkdir(d, { recursive: true });
  await Promise.all(index.files.map((f) => (f.size > PART ? downloadLarge(f) : limit(() => downloadSmall(f)))));
} else if (mode === "read") {
  const objects = await listAll(prefix);
  await Promise.all(objects.map((o) => limit(() => readAway(o.Key))));
  index.files = objects;
  index.bytes = objects.reduce((n, o) => n + o.Size, 0);
} else throw new Error(`usage: raw-sdk.mjs upload|download|read ...`);
client.destroy();
process.stdout.write(JSON.stringify({ files: index.files.length, bytes: index.bytes }) + "\n");

async function uploadSmall(f) {
  const body = await readFile(join(index.dir, f.path));
  await client.send(
    new PutObjectCommand({ Bucket: BUCKET, Key: key(f.path), Body: body, ContentLength: body.byteLength }),
  );
}

async function uploadLarge(f) {
  const { UploadId } = await limit(() =>
    client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key(f.path) })),
  );
  const fh = await open(join(index.dir, f.path));
  try {
    const parts = await Promise.all(
      ranges(f.size).map(([start, end], i) =>
        limit(async () => {
          const body = Buffer.allocUnsafe(end - start);
          await fh.read(body, 0, body.byteLength, start);
          const out = await client.send(
            new UploadPartCommand({
              Bucket: BUCKET,
              Key: key(f.path),
              UploadId,
              PartNumber: i + 1,
              Body: body,
              ContentLength: body.byteLength,
            }),
          );
          return { PartNumber: i + 1, ETag: out.ETag };
        }),
      ),
    );
    await limit(() =>
      client.send(
        new CompleteMultipartUploadCommand({
          Bucket: BUCKET,
          Key: key(f.path),
          UploadId,
          MultipartUpload: { Parts: parts },
        }),
      ),
    );
  } finally {
    await fh.close();
  }
}

async function downloadSmall(f) {
  const out = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key(f.path) }));
  await pipeline(out.Body, createWriteStream(join(dest, f.path)));
}

async function downloadLarge(f) {
  const fh = await open(join(dest, f.path), "w");
  try {
    await Promise.all(
      ranges(f.size).map(([start, end]) =>
        limit(async () => {
          const out = await client.send(
            new GetObjectCommand({ Bucket: BUCKET, Key: key(f.path), Range: `bytes=${start}-${end - 1}` }),
          );
          let at = start;
          for await (const chunk of out.Body) {
            await fh.write(chunk, 0, chunk.byteLength, at);
            at += chunk.byteLength;
          }
          if (at !== end) throw new Error(`${f.path}: range ${start}-${end} served ${at - start} bytes`);
        }),
      ),
    );
  } finally {
    await fh.close();
  }
}

async function listAll(prefix) {
  const objects = [];
  let token;
  do {
    const out = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
    objects.push(...(out.Contents ?? []));
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token !== undefined);
  return objects;
}

async function readAway(objectKey) {
  const out = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: objectKey }));
  for await (const _ of out.Body) {
    // dropped: only the store's cost is measured
  }
}

function ranges(size) {
  const out = [];
  for (let start = 0; start < size; start += PART) out.push([start, Math.min(size, start + PART)]);
  return out;
}

/** At most `n` calls of `fn` running at once. */
function limiter(n) {
  let active = 0;
  const queue = [];
  const next = () => {
    if (active >= n || queue.length === 0) return;
    active += 1;
    const { fn, resolve, reject } = queue.shift();
    fn()
      .then(resolve, reject)
      .finally(() => {
        active -= 1;
        next();
      });
  };
  return (fn) =>
    new Promise((resolve, reject) => {
      queue.push({ fn, resolve, reject });
      next();
    });
}
