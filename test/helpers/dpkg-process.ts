import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const DPKG_BIN = fileURLToPath(new URL("../../packages/cli/dist/dpkg.js", import.meta.url));

export interface DpkgResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The `E_CODE` of a failure (`dpkg: E_CODE: message` on stderr, or `{"code": ...}` on stdout under --json), or null. */
  errorCode: string | null;
  /** stdout parsed as one JSON document (for `--json` runs). */
  json<T = Record<string, unknown>>(): T;
}

export interface DpkgProcess {
  readonly child: ChildProcess;
  /** Resolves when the process has exited (killed or not). */
  readonly result: Promise<DpkgResult>;
  /** `kill -9`, resolving once the process is gone. */
  kill(): Promise<DpkgResult>;
}

/** The environment of a user of the CLI: only what is given, nothing of the test runner's. */
export function dpkgEnv(options: {
  home: string;
  registry: string;
  token: string;
  extra?: NodeJS.ProcessEnv;
}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: options.home,
    DPKG_CACHE_DIR: join(options.home, "cache"),
    XDG_CONFIG_HOME: join(options.home, "config"),
    DPKG_REGISTRY: options.registry,
    DPKG_TOKEN: options.token,
    ...options.extra,
  };
}

/** Starts the built `dpkg` bin (packages/cli/dist/dpkg.js) as a child process. */
export function spawnDpkg(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): DpkgProcess {
  if (!existsSync(DPKG_BIN)) throw new Error(`${DPKG_BIN} is missing: build first with 'npx tsc -b'`);
  const child = spawn(process.execPath, [DPKG_BIN, ...args], {
    cwd: options.cwd,
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
  child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  const result = new Promise<DpkgResult>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) =>
      resolve({
        code,
        signal,
        stdout,
        stderr,
        errorCode:
          code === 0
            ? null
            : (/^\S+: (E_[A-Z_]+):/m.exec(stderr)?.[1] ?? /^\{"code":"(E_[A-Z_]+)"/.exec(stdout)?.[1] ?? null),
        json<T>() {
          return JSON.parse(stdout) as T;
        },
      }),
    );
  });
  return {
    child,
    result,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      return result;
    },
  };
}

export function runDpkg(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<DpkgResult> {
  return spawnDpkg(args, options).result;
}
