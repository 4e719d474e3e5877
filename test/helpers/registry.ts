import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeTempDir } from "../../packages/registry-server/test/helpers/temp-dir.js";

export const REGISTRY_BIN = fileURLToPath(new URL("../../packages/registry-server/dist/bin.js", import.meta.url));

export interface RunningRegistry {
  url: string;
  dataDir: string;
  /** The admin token the registry created on first start. */
  token: string;
  stderr(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface StartOptions {
  /** Reuse a data folder (a restart); a fresh temp folder otherwise. */
  dataDir?: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
}

/** Runs `dpkg-registry serve --port 0` as a real process (the built dist) and waits until it listens. */
export async function startRegistry(options: StartOptions = {}): Promise<RunningRegistry> {
  const temp = options.dataDir === undefined ? await makeTempDir("dpkg-e2e") : undefined;
  const dataDir = options.dataDir ?? join(temp!.path, "data");
  const child = spawn(process.execPath, [REGISTRY_BIN, "serve", "--port", "0", "--data", dataDir, "--log-level", "warn", ...(options.args ?? [])], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...options.env },
  });
  let err = "";
  child.stderr.setEncoding("utf8").on("data", (s: string) => (err += s));
  child.stdout.resume();
  const url = await waitFor(child, () => /listening on (http:\/\/\S+)/.exec(err)?.[1], () => err);
  const token = (await readFile(join(dataDir, "admin-token"), "utf8")).trim();
  const stop = async (signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill(signal);
    return exited;
  };
  return {
    url,
    dataDir,
    token,
    stderr: () => err,
    stop,
    async [Symbol.asyncDispose]() {
      await stop("SIGKILL");
      await temp?.cleanup();
    },
  };
}

function waitFor(child: ChildProcess, probe: () => string | undefined, output: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      const found = probe();
      if (found !== undefined) {
        clearInterval(timer);
        resolve(found);
      }
    }, 20);
    child.once("exit", (code) => {
      clearInterval(timer);
      reject(new Error(`registry exited with ${code} before listening:\n${output()}`));
    });
  });
}

/** Runs a `dpkg-registry` subcommand to completion. */
export async function runRegistryCommand(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [REGISTRY_BIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
  child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  return { code, stdout, stderr };
}
