import { digestStream, DpkgError, parsePackageName, type Digest, type ManifestEntry } from "@dpkg/core";
import { createReadStream } from "node:fs";
import { lstat } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import type { ContentCache } from "../cache/content-cache.js";
import { ensureManifest } from "../fetch-blobs.js";
import { runLimited } from "../run-limited.js";
import type { RegistryClient } from "../registry-client.js";
import { selectEntries } from "../select.js";
import { findWorkspaceRoot } from "../workspace/find-root.js";
import { LOCK_FILE, readLockfile, type LockedPackage } from "../workspace/lockfile.js";

export type MismatchProblem = "missing" | "modified" | "not-a-file";

export interface Mismatch {
  path: string;
  /** Workspace-relative file path. */
  file: string;
  problem: MismatchProblem;
  expected: { digest: Digest; size: number };
  actual?: { digest: Digest; size: number };
}

export interface VerifiedPackage {
  name: string;
  digest: Digest;
  dest: string;
  /** Lazy packages have nothing materialized to check. */
  lazy: boolean;
  files: number;
  bytes: number;
  mismatches: Mismatch[];
}

export interface VerifyReport {
  root: string;
  ok: boolean;
  packages: VerifiedPackage[];
}

export interface VerifyOptions {
  cwd: string;
  /** A workspace, or a folder inside one: only packages installed at or below it are checked. */
  dir?: string;
  cache: ContentCache;
  /** Fetches manifests the cache lacks; null offline. */
  client: RegistryClient | null;
  concurrency?: number;
  onProgress?: (p: { files: number; totalFiles: number; bytes: number; totalBytes: number }) => void;
}

/**
 * Re-hashes every installed file against the revision dpkg.lock pins and reports every mismatch
 * (never only the first): missing files, changed bytes, a folder or device where a file belongs.
 * It reads only; repairing is `dpkg install`.
 */
export async function verifyWorkspace(options: VerifyOptions): Promise<VerifyReport> {
  const target = resolve(options.cwd, options.dir ?? ".");
  const root = await findWorkspaceRoot(target);
  const lock = await readLockfile(root);
  if (lock === null) {
    throw new DpkgError(
      "E_NOT_FOUND",
      `there is no ${LOCK_FILE} in ${root}: nothing is installed to verify`,
      { root },
      {
        hint: "Install a package first: dpkg install ns/name",
      },
    );
  }
  const chosen = Object.entries(lock.packages).filter(
    ([, p]) => isWithin(resolve(root, p.dest), target) || isWithin(target, resolve(root, p.dest)),
  );
  const planned: { name: string; locked: LockedPackage; entries: ManifestEntry[] }[] = [];
  for (const [name, locked] of chosen) {
    const entries: ManifestEntry[] = [];
    if (locked.lazy !== true) {
      const manifest = await ensureManifest(options.client, options.cache, parsePackageName(name), locked.digest);
      for await (const e of selectEntries(manifest.entries, locked)) {
        // Verifying a sub-folder checks only what lies in it.
        if (isWithin(resolve(root, locked.dest, e.path), target)) entries.push(e);
      }
    }
    planned.push({ name, locked, entries });
  }

  const totalFiles = planned.reduce((n, p) => n + p.entries.length, 0);
  const totalBytes = planned.reduce((n, p) => p.entries.reduce((m, e) => m + e.size, n), 0);
  const progress = { files: 0, totalFiles, bytes: 0, totalBytes };
  const packages: VerifiedPackage[] = [];
  for (const { name, locked, entries } of planned) {
    const mismatches: Mismatch[] = [];
    await runLimited(entries, options.concurrency ?? 8, async (entry) => {
      const file = join(locked.dest, entry.path);
      const problem = await checkFile(join(root, file), entry, locked.link === "symlink");
      if (problem !== null)
        mismatches.push({ path: entry.path, file, expected: { digest: entry.digest, size: entry.size }, ...problem });
      progress.files += 1;
      progress.bytes += entry.size;
      options.onProgress?.({ ...progress });
    });
    mismatches.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    packages.push({
      name,
      digest: locked.digest,
      dest: locked.dest,
      lazy: locked.lazy === true,
      files: entries.length,
      bytes: entries.reduce((n, e) => n + e.size, 0),
      mismatches,
    });
  }
  return { root, ok: packages.every((p) => p.mismatches.length === 0), packages };
}

async function checkFile(
  path: string,
  entry: ManifestEntry,
  symlinked: boolean,
): Promise<{ problem: MismatchProblem; actual?: { digest: Digest; size: number } } | null> {
  const st = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT" || err.code === "ENOTDIR") return null;
    throw new DpkgError("E_IO", `cannot read ${path}: ${err.message}`, { path }, { cause: err });
  });
  if (st === null) return { problem: "missing" };
  // A symlink is dpkg's own only in symlink mode; elsewhere it would let the check read bytes from anywhere.
  if (st.isSymbolicLink() ? !symlinked : !st.isFile()) return { problem: "not-a-file" };
  let actual: { digest: Digest; size: number };
  try {
    actual = await digestStream(createReadStream(path));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { problem: "missing" };
    if (code === "EISDIR") return { problem: "not-a-file" };
    throw new DpkgError("E_IO", `cannot read ${path}: ${(err as Error).message}`, { path }, { cause: err });
  }
  return actual.digest === entry.digest && actual.size === entry.size ? null : { problem: "modified", actual };
}

function isWithin(path: string, folder: string): boolean {
  const rel = relative(folder, path);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !rel.startsWith(sep));
}
