// Child process for the cross-process cache test: says "ready" once loaded, and on "go" writes blobs
// FROM..TO-1 (shuffled, several at once) into the cache at ROOT, says "done" and exits. The blob
// contents come from cache-race-data.mjs, shared with the test, so overlapping ranges of several
// processes write the same digests at the same time.
// Run with: node --import <registry-server>/test/metadata/child/register-ts.mjs cache-writer-child.mjs ROOT FROM TO
import { ContentCache } from "../../src/cache/content-cache.ts";
import { blobOf, shuffled } from "./cache-race-data.mjs";

const [root, fromText, toText] = process.argv.slice(2);
const cache = new ContentCache(root);
const indexes = shuffled(Number(fromText), Number(toText), process.pid);

async function* slowly(bytes) {
  // Several chunks with pauses, so writers of one digest really overlap in time.
  const step = Math.ceil(bytes.length / 4) || 1;
  for (let i = 0; i < bytes.length; i += step) {
    await new Promise((r) => setImmediate(r));
    yield bytes.subarray(i, i + step);
  }
}

async function run() {
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < indexes.length) {
        const { digest, bytes } = blobOf(indexes[next++]);
        await cache.putBlob(digest, bytes.length, slowly(bytes));
      }
    }),
  );
}

process.once("message", () => {
  run().then(
    () => process.send("done", () => process.exit(0)),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
});
process.send("ready");
