// Ref resolution requests per second: autocannon (programmatic API) on 127.0.0.1 against
// GET /v1/packages/:ns/:name/resolve/latest, with a token, for ~10 s after a short warm-up.
import { mkdir, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { startEnvironment } from "./environment.mjs";
import { benchOptions } from "./options.mjs";
import { readCpuSeconds } from "./processes.mjs";
import { report } from "./report.mjs";
import { row, target } from "./rows.mjs";

const autocannon = createRequire(import.meta.url)("autocannon");

export async function run(argv) {
  const { scale, keep, cpuProf } = benchOptions(argv);
  const duration = Math.max(2, Math.round(10 * Math.min(1, scale)));
  const env = await startEnvironment({ keep, cpuProf });
  const rows = [];
  const notes = { duration };
  try {
    const dir = join(await env.folder("rate-data"), "pkg");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "hello.txt"), "hello\n");
    await env.cli(["push", dir, "bench/rate", "--tag", "v1"]);
    const url = `${env.registry.url}/v1/packages/bench/rate/resolve/latest`;
    const options = { url, connections: 16, headers: { authorization: `Bearer ${env.registry.token}` } };
    await cannon({ ...options, duration: 1 }); // warm-up: JIT, prepared statements, sockets
    let result;
    let cpu;
    const m = await env.measure(async () => {
      const before = readCpuSeconds(env.registry.pid);
      result = await cannon({ ...options, duration });
      cpu = readCpuSeconds(env.registry.pid) - before;
      return { seconds: duration };
    });
    Object.assign(notes, {
      requests: result.requests.total,
      "latency ms (p50, p99)": [result.latency.p50, result.latency.p99],
      non2xx: result.non2xx,
      errors: result.errors,
      connections: options.connections,
      // Less sensitive than the rate to other load on the machine: what one request costs the registry.
      "registry CPU µs per request": Math.round((cpu / result.requests.total) * 1e6),
      "registry CPU share of one core": Number((cpu / duration).toFixed(2)),
    });
    if (result.non2xx > 0 || result.errors > 0)
      throw new Error(`ref resolution failed: ${result.non2xx} non-2xx, ${result.errors} errors`);
    const r = row("ref resolution (requests/s)", m, 0);
    const rps = result.requests.average;
    rows.push(target(r, { value: rps, text: " req/s", goal: "≥5,000 req/s", ok: rps >= 5000 }));
  } finally {
    await env.close();
  }
  report("rate", rows, notes);
  return rows;
}

function cannon(options) {
  return new Promise((resolve, reject) => autocannon(options, (err, result) => (err ? reject(err) : resolve(result))));
}
