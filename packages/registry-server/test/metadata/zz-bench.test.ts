import { it } from "vitest";
import { join } from "node:path";
import { digestBytes, parseQuery, type ManifestEntry } from "@dpkg/core";
import { openSqliteMetadataStore } from "../../src/metadata/sqlite/sqlite-metadata-store.js";
import { makeTempDir } from "../helpers/temp-dir.js";
it("bench", { timeout: 600_000 }, async () => {
  const dir = await makeTempDir("bench");
  const store = openSqliteMetadataStore(join(dir.path, "i.sqlite"));
  const N = 1_000_000;
  const digests = Array.from({ length: 1000 }, (_, i) => digestBytes(`b${i}`));
  async function* gen(): AsyncGenerator<ManifestEntry> {
    for (let i = 0; i < N; i++) {
      yield { path: `plate${String(Math.floor(i / 10000)).padStart(3, "0")}/well${String(i).padStart(7, "0")}.tif`, size: i, digest: digests[i % 1000]!, meta: { cell_line: `AICS-${i % 50}`, channel: i % 3 === 0 ? "dna" : "membrane", z: i % 17 } };
    }
  }
  let t = performance.now();
  await store.recordBlobs("lab", digests.map((d, i) => ({ digest: d, size: i, key: "blobs/x", start: 0, end: i })));
  const md = digestBytes("m");
  await store.stageManifest(md, { format: "dpkg.manifest/1", meta: { title: "big" } }, gen());
  console.log("stage", performance.now() - t); t = performance.now();
  const miss = await store.missingBlobsOfManifest(md, "lab", 10);
  console.log("missingOfManifest", performance.now() - t, miss.length); t = performance.now();
  await store.commit({ pkg: { namespace: "lab", name: "big" }, digest: md, message: "", author: "a", createdAt: new Date(), tags: [], moveLatest: true });
  console.log("commit", performance.now() - t); t = performance.now();
  for (const q of ["meta.cell_line = 'AICS-12' AND meta.channel IN ('dna','membrane') AND size < 50000000", "meta.cell_line = 'AICS-7' AND meta.z = 3", "meta.z = 99"]) {
    t = performance.now();
    let n = 0;
    for await (const _ of store.selectEntries(md, { where: parseQuery(q), limit: 1000 })) n++;
    console.log("select", q, n, performance.now() - t);
  }
  t = performance.now();
  let n = 0;
  for await (const _ of store.selectEntries(md, { paths: ["plate042/*"], limit: 1000 })) n++;
  console.log("glob", n, performance.now() - t);
  t = performance.now();
  console.log(await store.search("well0000042", { limit: 5, canRead: () => true }), performance.now() - t);
  t = performance.now();
  console.log("integrity", await store.integrityCheck(), performance.now() - t);
  await store.close();
  const { statSync } = await import("node:fs");
  console.log("size MB", statSync(join(dir.path, "i.sqlite")).size / 1e6);
  await dir.cleanup();
});
