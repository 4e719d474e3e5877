import { stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { WANTED_FILE } from "./wanted.js";

/**
 * The workspace root: the nearest folder at or above `cwd` holding dpkg.json, else `cwd` itself
 * (where a first `dpkg install NAME` will create one), the way npm finds package.json.
 */
export async function findWorkspaceRoot(cwd: string): Promise<string> {
  const start = resolve(cwd);
  for (let dir = start; ; dir = dirname(dir)) {
    if (await isFile(join(dir, WANTED_FILE))) return dir;
    if (dirname(dir) === dir) return start;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
