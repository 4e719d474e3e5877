// One bench environment: a run folder, s3rver behind the counting proxy, the registry process, and
// helpers to run the dpkg CLI and the baselines as processes and measure a case. Nothing is deleted
// until `close()` at the very end: the disk here slows file creation for minutes after mass deletes.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readCpuSeconds, runNode } from "./processes.mjs";
import { startRegistry } from "./registry-process.mjs";
import { startS3 } from "./s3-server.mjs";
import { BENCH_DIR } from "./report.mjs";

const CLI_BIN = fileURLToPath(new URL("../../packages/cli/dist/dpkg.js", import.meta.url));
const RAW_SDK = fileURLToPath(new URL("./raw-sdk.mjs", import.meta.url));

export async function startEnvironment({ keep = false, cpuProf = false } = {}) {
  const root = await mkdtemp(join(tmpdir(), "dpkg-bench-"));
  const profDir = join(BENCH_DIR, "profiles");
  const nodeArgs = cpuProf ? ["--cpu-prof", "--cpu-prof-dir", profDir] : [];
  if (cpuProf) await mkdir(profDir, { recursive: true });
  const s3 = await startS3(join(root, "s3"));
  let registry;
  try {
    registry = await startRegistry({ dataDir: join(root, "registry"), s3Endpoint: s3.endpoint, nodeArgs });
  } catch (err) {
    await s3.stop();
    throw err;
  }
  let folders = 0;
  const env = {
    root,
    /** Node flags for processes the bench starts (--cpu-prof when asked). */
    nodeArgs,
    s3,
    registry,
    /** A fresh folder under the run folder (never reused, never deleted before the end). */
    async folder(name) {
      const dir = join(root, "work", `${String(++folders).padStart(3, "0")}-${name}`);
      await mkdir(dir, { recursive: true });
      return dir;
    },
    /** Runs the dpkg CLI with --json in `cwd`, using `cache` as its content cache. */
    async cli(args, { cwd, cache } = {}) {
      const run = await runNode(CLI_BIN, [...args, "--json"], {
        cwd: cwd ?? root,
        nodeArgs,
        env: {
          DPKG_REGISTRY: registry.url,
          DPKG_TOKEN: registry.token,
          DPKG_CACHE_DIR: cache ?? join(root, "cache-default"),
          XDG_CONFIG_HOME: join(root, "config"),
          NO_COLOR: "1",
        },
      });
      // --json makes every command print one JSON document; --version prints the bare version.
      const text = run.stdout.trim();
      return { ...run, json: text.startsWith("{") ? JSON.parse(text) : undefined };
    },
    /**
     * The raw SDK baseline as a process: `upload` a data set under `prefix`, `download` it to `dest`, or
     * `read` (data set null) every object under `prefix` without writing it anywhere.
     */
    async rawSdk(mode, dataset, prefix, dest) {
      let indexFile = "-";
      if (dataset !== null) {
        indexFile = join(root, `index-${dataset.name}.json`);
        await writeFile(indexFile, JSON.stringify(dataset));
      }
      return runNode(RAW_SDK, [mode, s3.endpoint, indexFile, prefix, ...(dest === undefined ? [] : [dest])]);
    },
    /**
     * Runs one case: resets the proxy's counts and the registry's peak-RSS window, runs `fn` (which
     * returns a process result or {seconds}), and collects S3 traffic and peak RSS. Baselines pass
     * `{ registry: false }`: the registry takes no part in them, so its RSS says nothing.
     */
    async measure(fn, { registry: involved = true } = {}) {
      s3.proxy.reset();
      registry.resetPeak();
      const cpuBefore = [readCpuSeconds(registry.pid), readCpuSeconds(s3.pid)];
      const start = process.hrtime.bigint();
      const out = (await fn()) ?? {};
      const wall = Number(process.hrtime.bigint() - start) / 1e9;
      const cpuAfter = [readCpuSeconds(registry.pid), readCpuSeconds(s3.pid)];
      const spent = (i) => (cpuBefore[i] === undefined || cpuAfter[i] === undefined ? undefined : cpuAfter[i] - cpuBefore[i]);
      return {
        seconds: out.seconds ?? wall,
        s3: s3.proxy.snapshot(),
        clientRss: out.peakRss,
        serverRss: involved ? registry.peakRss() : undefined,
        // Where the CPU went: the measured process (CLI or baseline), the registry, the S3 server.
        cpu: { client: out.cpuSeconds, registry: involved ? spent(0) : undefined, s3: spent(1) },
        out,
      };
    },
    async close() {
      await registry.stop();
      await s3.stop();
      if (keep) process.stderr.write(`kept the run folder ${root}\n`);
      else await rm(root, { recursive: true, force: true, maxRetries: 3 });
    },
  };
  return env;
}
