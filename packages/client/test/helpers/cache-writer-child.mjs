// Child process for the cross-process cache test: writes blobs FROM..TO-1 (in a shuffled order,
// several at once) into the cache at ROOT, then exits 0. The blob contents are shared with the
// test through cache-race-data.mjs, so overlapping ranges write the same digests from several processes.
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
let next = 0;
await Promise.all(
  Array.from({ length: 4 }, async () => {
    while (next < indexes.length) {
      const { digest, bytes } = blobOf(indexes[next++]);
      await cache.putBlob(digest, bytes.length, slowly(bytes));
    }
  }),
);
