import { digestBytes } from "@dpkg/core";
import { openSqliteMetadataStore } from "../../../src/metadata/sqlite/sqlite-metadata-store.js";
import { rmSync } from "node:fs";
const f = "/tmp/dbg/prof.sqlite"; for (const s of ["", "-wal", "-shm"]) rmSync(f + s, { force: true });
const store = openSqliteMetadataStore(f);
const N = Number(process.argv[2] ?? 200000);
const digests = Array.from({ length: 1000 }, (_, i) => digestBytes(`b${i}`));
async function* gen() {
  for (let i = 0; i < N; i++) yield { path: `plate${String(Math.floor(i / 10000)).padStart(3, "0")}/well${String(i).padStart(7, "0")}.tif`, size: i, digest: digests[i % 1000], meta: { cell_line: `AICS-${i % 50}`, channel: i % 3 === 0 ? "dna" : "membrane", z: i % 17 } };
}
let t = performance.now();
await store.stageManifest(digestBytes("m"), { format: "dpkg.manifest/1", meta: {} }, gen());
console.log("stage", N, performance.now() - t);
