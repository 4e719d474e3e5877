// `dpkg-registry serve` as its own process (the built dist), on S3 through the counting proxy, with
// its index and secrets in a fresh folder.
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BUCKET, S3_ENV } from "./s3-server.mjs";
import { readHwm, resetHwm } from "./processes.mjs";

const REGISTRY_BIN = fileURLToPath(new URL("../../packages/registry-server/dist/bin.js", import.meta.url));

export async function startRegistry({ dataDir, s3Endpoint, nodeArgs = [] }) {
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      REGISTRY_BIN,
      "serve",
      "--port",
      "0",
      "--data",
      dataDir,
      "--log-level",
      "warn",
      "--s3-bucket",
      BUCKET,
      "--s3-endpoint",
      s3Endpoint,
    ],
    { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...S3_ENV } },
  );
  let err = "";
  child.stderr.setEncoding("utf8").on("data", (s) => (err = (err + s).slice(-20_000)));
  const url = await new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) {
        clearInterval(timer);
        resolve(m[1]);
      }
    }, 20);
    child.once("exit", (code) => {
      clearInterval(timer);
      reject(new Error(`registry exited with ${code} before listening:\n${err}`));
    });
  });
  const token = (await readFile(join(dataDir, "admin-token"), "utf8")).trim();
  return {
    url,
    token,
    pid: child.pid,
    stderr: () => err,
    /** Starts a new peak-RSS window for the next case. */
    resetPeak: () => resetHwm(child.pid),
    peakRss: () => readHwm(child.pid),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await gone;
      clearTimeout(timer);
    },
  };
}
