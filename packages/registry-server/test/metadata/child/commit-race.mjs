// Child process for the cross-process commit test: opens its own store on the shared file, says
// "ready", and on "go" pushes `count` distinct revisions to one package as fast as it can.
// Run with: node --import ./register-ts.mjs commit-race.mjs FILE LABEL COUNT
import { digestBytes } from "@dpkg/core";
import { openSqliteMetadataStore } from "../../../src/metadata/sqlite/sqlite-metadata-store.js";

const [file, label, countText] = process.argv.slice(2);
const count = Number(countText);
const store = openSqliteMetadataStore(file);
const pkg = { namespace: "lab", name: "race" };

async function* one(e) {
  yield e;
}

async function pushOne(i) {
  const entry = { path: `${label}/${i}.txt`, size: 1, digest: digestBytes(`${label}:${i}`) };
  await store.recordBlobs(pkg.namespace, [
    { digest: entry.digest, size: 1, key: `blobs/${label}-${i}`, start: 0, end: 1 },
  ]);
  const digest = digestBytes(`manifest ${label} ${i}`);
  await store.stageManifest(digest, { format: "dpkg.manifest/1", meta: {} }, one(entry));
  await store.commit({
    pkg,
    digest,
    message: `${label} ${i}`,
    author: label,
    createdAt: new Date(),
    tags: [],
    moveLatest: true,
  });
}

process.on("message", async (message) => {
  if (message !== "go") return;
  try {
    for (let i = 0; i < count; i++) await pushOne(i);
    await store.close();
    process.send("done", () => process.exit(0));
  } catch (e) {
    process.send(`failed: ${e instanceof Error ? e.stack : String(e)}`, () => process.exit(1));
  }
});
process.send("ready");
