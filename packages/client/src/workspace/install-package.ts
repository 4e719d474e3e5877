import { DpkgError, parentDirs, parsePackageName, type Digest, type PackageName } from "@dpkg/core";
import { rmdir } from "node:fs/promises";
import { join } from "node:path";
import type { ContentCache } from "../cache/content-cache.js";
import { ensureManifest, fetchMissingBlobs, isOfflineEnv, uniqueBlobs, type FetchProgress, type WantedBlob } from "../fetch-blobs.js";
import { applyMaterialize, planMaterialize, type MaterializeEntry } from "../materialize.js";
import type { RegistryClient } from "../registry-client.js";
import { selectEntries } from "../select.js";
import { blockedError, destBlocked } from "./dest-guard.js";
import { entriesToInstall } from "./install-selection.js";
import { readInstallState, removeInstallState, sameInstallState, writeInstallState, type InstallState } from "./install-state.js";
import type { LockedPackage } from "./lockfile.js";

export interface InstallContext {
  client: RegistryClient | null;
  cache: ContentCache;
  root: string;
  concurrency: number;
  onProgress?: (p: FetchProgress & { phase: "fetch" | "materialize" }) => void;
}

export interface PackageReport {
  name: string;
  /** `ns/name@<wanted ref>` */
  ref: string;
  digest: Digest;
  /** Workspace-relative destination. */
  dest: string;
  entries: number;
  bytes: number;
  fetchedBytes: number;
  written: number;
  unchanged: number;
  removed: number;
  lazy: boolean;
  /** dpkg's files that left the selection but had been changed: left in place, no longer dpkg's. */
  keptModified: string[];
}

/**
 * Makes one package's destination hold exactly its pinned selection: select, plan (what can stay,
 * what must be written, what left), fetch only the blobs of files to write, apply, record the
 * state. The state is written even when applying fails half way, so the files already placed are
 * known as dpkg's on the next run. Nothing is placed before every blob is in the cache: placing files
 * while others still download was tried, gained nothing measurable (both compete for the same CPU
 * and thread pool), and would leave a half-installed folder behind a failed download.
 */
export async function installPackage(ctx: InstallContext, name: string, pin: LockedPackage): Promise<PackageReport> {
  const pkg = parsePackageName(name);
  let state = await readInstallState(ctx.root, name);
  if (state !== null && state.dest !== pin.dest) {
    await removeInstalledFiles(ctx, state);
    state = null;
  }
  const base = { name, ref: `${name}@${pin.ref}`, digest: pin.digest, dest: pin.dest, lazy: pin.lazy === true, keptModified: [] };
  if (pin.lazy === true) {
    const manifest = await ensureManifest(ctx.client, ctx.cache, pkg, pin.digest);
    let entries = 0;
    let bytes = 0;
    for await (const e of selectEntries(manifest.entries, pin)) {
      entries += 1;
      bytes += e.size;
    }
    return { ...base, entries, bytes, fetchedBytes: 0, written: 0, unchanged: 0, removed: 0 };
  }

  const entries = await entriesToInstall({ client: ctx.client, cache: ctx.cache, pkg, digest: pin.digest, selection: pin, state });
  const blocked = await destBlocked(ctx.root, pin.dest);
  if (blocked !== null) throw blockedError(blocked.path, blocked.status);
  const dest = join(ctx.root, pin.dest);
  const plan = await planMaterialize({
    dest,
    entries,
    previous: state === null ? null : { files: state.files, link: state.link },
    link: pin.link,
    cache: ctx.cache,
    concurrency: ctx.concurrency,
  });
  // A symlink is only as good as the cache file it points at, so symlinked installs need every blob.
  const fetched = await fetchBlobsOf(ctx, pkg, await missingBlobs(ctx, pin.link === "symlink" ? entries : plan.write));
  const next: InstallState = { package: name, dest: pin.dest, digest: pin.digest, link: pin.link, complete: false, files: plan.files };
  if (pin.paths !== undefined) next.paths = pin.paths;
  if (pin.where !== undefined) next.where = pin.where;
  // Files are created in place, not renamed into it: the state names them (pending) before the first
  // one exists, so a killed install leaves files the next run knows as dpkg's.
  if (plan.write.length > 0) await writeInstallState(ctx.root, next);
  let result;
  try {
    result = await applyMaterialize(plan, {
      cache: ctx.cache,
      concurrency: ctx.concurrency,
      onProgress: (p) => ctx.onProgress?.({ ...p, phase: "materialize" }),
    });
    next.complete = true;
  } finally {
    // A no-op re-install leaves the state as it found it: rewriting it is most of what such a run writes.
    if (state === null || !sameInstallState(state, next)) await writeInstallState(ctx.root, next);
  }
  return {
    ...base,
    entries: entries.length,
    bytes: entries.reduce((n, e) => n + e.size, 0),
    fetchedBytes: fetched,
    written: result.written,
    unchanged: result.unchanged,
    removed: result.removed,
    keptModified: result.modified,
  };
}

/** The blobs of `entries` the cache lacks; offline, E_OFFLINE naming some of them. */
async function missingBlobs(ctx: InstallContext, entries: readonly MaterializeEntry[]): Promise<WantedBlob[]> {
  const missing = await ctx.cache.missingBlobs(uniqueBlobs(entries));
  if (missing.length > 0 && (ctx.client === null || isOfflineEnv())) {
    const some = missing.slice(0, 3).map((b) => JSON.stringify(b.path)).join(", ");
    throw new DpkgError("E_OFFLINE", `${missing.length} file(s) to install are not in the cache (${some}${missing.length > 3 ? ", ..." : ""})`, {
      missing: missing.length,
    });
  }
  return missing;
}

/** Fetches blobs missingBlobs found (online, then); returns the bytes fetched. */
async function fetchBlobsOf(ctx: InstallContext, pkg: PackageName, missing: readonly WantedBlob[]): Promise<number> {
  if (missing.length === 0 || ctx.client === null) return 0;
  const result = await fetchMissingBlobs(ctx.client, ctx.cache, pkg, missing, {
    concurrency: ctx.concurrency,
    onProgress: (p) => ctx.onProgress?.({ ...p, phase: "fetch" }),
  });
  return result.fetchedBytes;
}

/**
 * Takes a package's files out of the workspace (it left dpkg.json, or moved to another dest):
 * removes dpkg's unchanged files, prunes emptied folders up to the workspace root, drops the state.
 * Returns how many files were removed and which changed ones were left in place.
 */
export async function removeInstalledFiles(ctx: InstallContext, state: InstallState): Promise<{ removed: number; keptModified: string[] }> {
  if ((await destBlocked(ctx.root, state.dest)) !== null) {
    // Never remove through a folder swapped for a symlink: forget the files instead.
    await removeInstallState(ctx.root, state.package);
    return { removed: 0, keptModified: [] };
  }
  const dest = join(ctx.root, state.dest);
  const plan = await planMaterialize({ dest, entries: [], previous: { files: state.files, link: state.link }, link: state.link, cache: ctx.cache });
  const result = await applyMaterialize(plan, { cache: ctx.cache });
  // The destination and the folders dpkg made for it (data/, data/ns/) go too, when nothing else is in them.
  for (const dir of [...parentDirs(state.dest), state.dest].reverse()) {
    if ((await rmdir(join(ctx.root, ...dir.split("/"))).then(() => true, () => false)) === false) break;
  }
  await removeInstallState(ctx.root, state.package);
  return { removed: result.removed, keptModified: result.modified };
}
