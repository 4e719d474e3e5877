import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeTempDir, type TempDir } from "../../../registry-server/test/helpers/temp-dir.js";

export const BIN = fileURLToPath(new URL("../../dist/dpkg.js", import.meta.url));

export interface DpkgResult {
  code: number | null;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
  /** stdout parsed as JSON (throws if it is not exactly one JSON document). */
  json<T = Record<string, unknown>>(): T;
}

/** A user's world for the CLI: a home, a cache, a config folder and a workspace, all temporary. */
export interface DpkgUser {
  home: string;
  workspace: string;
  env: NodeJS.ProcessEnv;
  /** `script`: another path to the bin, e.g. a symlink named datapkg as npm installs it. */
  run(
    args: string[],
    options?: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; script?: string },
  ): Promise<DpkgResult>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The built `dpkg` bin as a child process, with only the environment given (nothing from the test runner's). */
export async function dpkgUser(env: NodeJS.ProcessEnv = {}): Promise<DpkgUser> {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build first with 'npx tsc -b'`);
  const dir: TempDir = await makeTempDir("dpkg-cli");
  const home = dir.path;
  const workspace = join(home, "work");
  await mkdir(workspace);
  const base: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    DPKG_CACHE_DIR: join(home, "cache"),
    XDG_CONFIG_HOME: join(home, "config"),
    ...env,
  };
  return {
    home,
    workspace,
    env: base,
    run: (args, options = {}) =>
      runDpkg(args, {
        cwd: options.cwd ?? workspace,
        env: { ...base, ...options.env },
        input: options.input,
        script: options.script,
      }),
    [Symbol.asyncDispose]: dir.cleanup,
  };
}

export function runDpkg(
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; input?: string; script?: string },
): Promise<DpkgResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [options.script ?? BIN, ...args], {
      cwd: options.cwd,
      env: options.env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.on("error", reject);
    child.stdin.end(options.input ?? "");
    child.on("close", (code) => {
      const stdoutBytes = Buffer.concat(out);
      const stdout = stdoutBytes.toString("utf8");
      resolve({
        code,
        stdout,
        stderr: Buffer.concat(err).toString("utf8"),
        stdoutBytes,
        json<T>() {
          return JSON.parse(stdout) as T;
        },
      });
    });
  });
}
