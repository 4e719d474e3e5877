import { DpkgError } from "@dpkg/core";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { STATE_DIR } from "./package-fields.js";

/** How long a lock whose holder stopped refreshing it (a killed process) blocks others. */
const STALE_MS = 10_000;

function workspaceLockPath(root: string): string {
  return join(root, STATE_DIR, "install.lock");
}

/**
 * Runs `work` holding the workspace's lock, so that two installs (or updates) in one workspace run
 * one after the other instead of planning against each other's half-placed files and overwriting
 * each other's install state. A second process waits, after `onWait` once, for as long as the first
 * runs: a large install takes hours, and waiting is what a user starting a second one wants. A lock
 * left by a killed process goes stale within seconds and is taken over (proper-lockfile: an mkdir
 * lock whose mtime its holder refreshes, which works on network file systems too).
 */
export async function withWorkspaceLock<T>(root: string, work: () => Promise<T>, onWait?: (lockPath: string) => void): Promise<T> {
  const lockfilePath = workspaceLockPath(root);
  await mkdir(join(root, STATE_DIR), { recursive: true }).catch((err: unknown) => {
    throw new DpkgError("E_IO", `cannot create ${join(root, STATE_DIR)}: ${(err as Error).message}`, { path: root }, { cause: err });
  });
  // Loaded here, not at start-up: only install and update take the lock. `.default` is the module's
  // exports both under Node and in the CLI bundle's chunk for it.
  const { lock } = (await import("proper-lockfile")).default;
  let compromised: Error | undefined;
  const options = {
    lockfilePath,
    realpath: false,
    stale: STALE_MS,
    onCompromised: (err: Error) => void (compromised = err),
  };
  let release: () => Promise<void>;
  try {
    release = await lock(root, options);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ELOCKED") throw lockError(lockfilePath, err);
    onWait?.(lockfilePath);
    try {
      release = await lock(root, { ...options, retries: { forever: true, minTimeout: 100, maxTimeout: 1000, factor: 1.5 } });
    } catch (again) {
      throw lockError(lockfilePath, again);
    }
  }
  let result: T;
  try {
    result = await work();
  } finally {
    await release().catch(() => undefined); // a compromised lock may be gone already
  }
  if (compromised !== undefined) {
    throw new DpkgError(
      "E_CONFLICT",
      `the workspace lock ${lockfilePath} was taken from this process while it worked (${compromised.message})`,
      { path: lockfilePath },
      { hint: "Another dpkg may have changed the same files: run 'dpkg verify', then 'dpkg install' again." },
    );
  }
  return result;
}

function lockError(path: string, err: unknown): DpkgError {
  return new DpkgError("E_IO", `cannot take the workspace lock ${path}: ${(err as Error).message}`, { path }, { cause: err });
}
