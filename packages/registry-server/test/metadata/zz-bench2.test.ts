import { it } from "vitest";
import { canonicalJson, digestBytes, type ManifestEntry } from "@dpkg/core";
it("bench2", { timeout: 600_000 }, async () => {
  const N = 1_000_000;
  const digests = Array.from({ length: 1000 }, (_, i) => digestBytes(`b${i}`));
  async function* gen(): AsyncGenerator<ManifestEntry> {
    for (let i = 0; i < N; i++) {
      yield { path: `plate${String(i % 100).padStart(3, "0")}/well${String(i).padStart(7, "0")}.tif`, size: i, digest: digests[i % 1000]!, meta: { cell_line: `AICS-${i % 50}`, channel: i % 3 === 0 ? "dna" : "membrane", z: i % 17 } };
    }
  }
  let t = performance.now();
  let n = 0;
  for await (const e of gen()) n += e.size > -1 ? 1 : 0;
  console.log("gen", performance.now() - t); t = performance.now();
  for await (const e of gen()) n += canonicalJson(e.meta).length;
  console.log("gen+canon", performance.now() - t); t = performance.now();
  for await (const e of gen()) n += JSON.stringify(e.meta).length;
  console.log("gen+stringify", performance.now() - t); t = performance.now();
});
