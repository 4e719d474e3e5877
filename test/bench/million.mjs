// The 1,000,000-entry package: committing its manifest (client as its own process), then a --where
// query selecting 1,000 entries through the HTTP entries endpoint, median of 20.
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { startEnvironment } from "./environment.mjs";
import { benchOptions, scaled } from "./options.mjs";
import { runNode } from "./processes.mjs";
import { report } from "./report.mjs";
import { row, target } from "./rows.mjs";

const CLIENT = fileURLToPath(new URL("./million-client.mjs", import.meta.url));
const RUNS = 20;
const MB = 1e6;

export async function run(argv) {
  const { scale, keep, cpuProf } = benchOptions(argv);
  const count = scaled(1_000_000, scale, 1000);
  const env = await startEnvironment({ keep, cpuProf });
  const rows = [];
  const notes = { scale, entries: count };
  try {
    const pkg = "bench/million";
    const commit = await env.measure(async () => {
      const out = await runNode(CLIENT, [pkg, String(count), join(await env.folder("million-seed"), "blobs")], {
        nodeArgs: env.nodeArgs,
        env: { DPKG_REGISTRY: env.registry.url, DPKG_TOKEN: env.registry.token },
      });
      const result = JSON.parse(out.stdout);
      // The case is the commit request; the process also pushed the seed blobs and hashed the manifest once.
      return { ...out, seconds: result.commitSeconds, result, processSeconds: out.seconds };
    });
    const { result } = commit.out;
    Object.assign(notes, {
      manifestMB: Number((result.manifestBytes / MB).toFixed(1)),
      "client: top hash of the streamed manifest (s)": Number(result.summarizeSeconds.toFixed(2)),
      "client process total (s)": Number(commit.out.processSeconds.toFixed(2)),
    });
    const c = row(`${count} entries: commit manifest`, commit, result.manifestBytes);
    rows.push(target(c, { value: commit.seconds, text: " s", goal: "<60 s", ok: commit.seconds < 60 }));

    const where = `meta.shard = ${Math.min(7, result.shards - 1)}`;
    const times = [];
    const query = await env.measure(async () => {
      for (let i = 0; i < RUNS; i++) {
        const start = process.hrtime.bigint();
        const q = new URLSearchParams({ where, limit: "100000" });
        const res = await fetch(`${env.registry.url}/v1/packages/${pkg}/revisions/${result.digest}/entries?${q}`, {
          headers: { authorization: `Bearer ${env.registry.token}` },
        });
        const text = await res.text();
        times.push(Number(process.hrtime.bigint() - start) / 1e6);
        const lines = text.split("\n").filter((l) => l !== "").length;
        if (res.status !== 200 || lines !== Math.min(1000, count))
          throw new Error(`query answered ${res.status} with ${lines} entries: ${text.slice(0, 300)}`);
      }
      return { seconds: median(times) / 1000 };
    });
    notes["query (ms): median, min, max"] = [median(times), Math.min(...times), Math.max(...times)].map((t) =>
      Number(t.toFixed(1)),
    );
    notes.query = where;
    const q = row(`${count} entries: query selecting 1,000 (median of ${RUNS})`, query, 0);
    const ms = query.seconds * 1000;
    rows.push(target(q, { value: ms, text: " ms", goal: "<100 ms", ok: ms < 100 }));

    const peak = Math.max(commit.serverRss ?? 0, query.serverRss ?? 0);
    const r = {
      ...row(
        `${count} entries: peak RSS (client, server)`,
        { seconds: 0, clientRss: commit.clientRss, serverRss: peak },
        0,
      ),
      seconds: "",
    };
    rows.push(
      target(r, {
        value: Math.max(commit.clientRss ?? 0, peak) / MB,
        text: " MB",
        goal: "<600 MB each",
        ok: (commit.clientRss ?? 0) < 600 * MB && peak < 600 * MB,
      }),
    );
  } finally {
    await env.close();
  }
  report("million", rows, notes);
  return rows;
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}
