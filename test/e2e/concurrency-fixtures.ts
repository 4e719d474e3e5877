import { digestBytes } from "@dpkg/core";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { runDpkg, type DpkgResult } from "../../packages/cli/test/helpers/run-dpkg.js";
import type { RunningRegistry } from "../helpers/registry.js";

/** A folder of files to push: path → content. */
export type Tree = Record<string, string | Uint8Array>;

export async function writeTree(root: string, tree: Tree): Promise<void> {
  for (const [path, content] of Object.entries(tree)) {
    await mkdir(join(root, path, ".."), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

/** Every regular file under `root`, by path relative to it. */
export async function readTree(root: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const e of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.set(relative(root, join(e.parentPath, e.name)), await readFile(join(e.parentPath, e.name)));
  }
  return out;
}

/** Bytes that differ per seed and compress badly, so every file is its own blob. */
export function bytesOf(seed: string, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = digestBytes(seed).charCodeAt(10) * 2654435761;
  for (let i = 0; i < size; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Runs the built `dpkg` bin against a registry as its own process, with `env` on top (e.g. DPKG_CACHE_DIR). */
export function dpkgAgainst(
  registry: Pick<RunningRegistry, "url" | "token">,
  home: string,
): (args: string[], options?: { cwd?: string; env?: NodeJS.ProcessEnv }) => Promise<DpkgResult> {
  return (args, options = {}) =>
    runDpkg(args, {
      cwd: options.cwd ?? home,
      env: {
        PATH: process.env.PATH,
        HOME: home,
        XDG_CONFIG_HOME: join(home, "config"),
        DPKG_CACHE_DIR: join(home, "cache"),
        DPKG_REGISTRY: registry.url,
        DPKG_TOKEN: registry.token,
        ...options.env,
      },
    });
}

/** `code` and stderr, for assertion messages. */
export function explain(r: DpkgResult): string {
  return `exit ${String(r.code)}\n${r.stderr}\n${r.stdout.slice(0, 2000)}`;
}

/** The error code a failed `--json` run printed (its stdout is the error object). */
export function errorCode(r: DpkgResult): string | undefined {
  try {
    return r.json<{ code?: string }>().code;
  } catch {
    return undefined;
  }
}

export interface RevisionJson {
  digest: string;
  parent: string | null;
  message: string;
}

/** Every revision of a package, newest first, through `dpkg log --json`. */
export async function logOf(run: ReturnType<typeof dpkgAgainst>, pkg: string): Promise<RevisionJson[]> {
  const log = await run(["log", pkg, "--json", "-n", "1000"]);
  if (log.code !== 0) throw new Error(`dpkg log failed: ${explain(log)}`);
  return log.json<{ revisions: RevisionJson[] }>().revisions;
}

/** Where the registry's folder store keeps objects: every pack index entry and every whole-blob object. */
export async function storedBlobs(dataDir: string): Promise<{ packed: string[]; whole: string[] }> {
  const root = join(dataDir, "blobs");
  const packed: string[] = [];
  const whole: string[] = [];
  for (const [path, bytes] of await readTree(root)) {
    if (path.startsWith("packs/") && path.endsWith(".idx")) {
      for (const line of bytes.toString("utf8").split("\n").filter(Boolean)) packed.push((JSON.parse(line) as { digest: string }).digest);
    } else if (path.startsWith("blobs/")) {
      whole.push(`blake3:${path.split("/").at(-1)!}`);
    }
  }
  return { packed, whole };
}
