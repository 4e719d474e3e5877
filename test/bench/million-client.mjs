#!/usr/bin/env node
// The client side of the 1,000,000-entry case, as its own process so its peak RSS is its own:
// stores a few distinct blobs (a tiny push), then streams a manifest of N entries sharing them —
// once to compute the top hash, once as the commit body — so memory stays bounded whatever N is.
//   DPKG_REGISTRY=... DPKG_TOKEN=... node million-client.mjs <ns/name> <entries> <seed-dir>
import { encodeManifest, parsePackageName, summarizeManifest } from "@dpkg/core";
import { push, RegistryClient } from "@dpkg/client";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { fillRandom } from "./prng.mjs";

const DISTINCT = 16;
const [name, countText, seedDir] = process.argv.slice(2);
const count = Number(countText);
const pkg = parsePackageName(name);
const client = new RegistryClient({ url: process.env.DPKG_REGISTRY, token: process.env.DPKG_TOKEN });

// The distinct blobs, pushed as a package of their own so the registry stores each once.
await mkdir(seedDir, { recursive: true });
for (let i = 0; i < DISTINCT; i++)
  await writeFile(join(seedDir, `blob-${i}.bin`), fillRandom(new Uint8Array(1024 * (i + 1)), 1000 + i));
const seed = await push({ client, dir: seedDir, pkg: parsePackageName(`${pkg.namespace}/${pkg.name}-blobs`) });
const blobs = [];
for await (const e of client.entries(parsePackageName(`${pkg.namespace}/${pkg.name}-blobs`), seed.digest))
  blobs.push({ digest: e.digest, size: e.size });

// ~1,000 entries per shard, so `meta.shard = K` selects 1,000 entries at any N.
const shards = Math.max(1, Math.floor(count / 1000));
function* entries() {
  for (let i = 0; i < count; i++) {
    const blob = blobs[i % DISTINCT];
    const path = `d${String(Math.floor(i / 1000)).padStart(4, "0")}/e${String(i).padStart(7, "0")}.bin`;
    yield {
      path,
      size: blob.size,
      digest: blob.digest,
      meta: { shard: i % shards, split: i % 10 === 3 ? "test" : "train" },
    };
  }
}
const header = { meta: { title: `${count} entries` } };

let start = process.hrtime.bigint();
const summary = await summarizeManifest(header, entries());
const summarizeSeconds = Number(process.hrtime.bigint() - start) / 1e9;
start = process.hrtime.bigint();
const committed = await client.commit(
  pkg,
  summary.digest,
  () => Readable.from(encodeManifest(header, entries()), { objectMode: false }),
  {
    message: "one million entries",
  },
);
const commitSeconds = Number(process.hrtime.bigint() - start) / 1e9;
await client.close();
process.stdout.write(
  JSON.stringify({
    digest: summary.digest,
    entries: summary.entryCount,
    manifestBytes: summary.byteLength,
    summarizeSeconds,
    commitSeconds,
    unchanged: committed.unchanged,
    shards,
  }) + "\n",
);
