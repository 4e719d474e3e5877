import { createEntryOrderChecker, DpkgError, parentDirs, sortByPath, type Digest } from "@dpkg/core";
import { lstatSync } from "node:fs";
import { mkdir, rmdir } from "node:fs/promises";
import { join } from "node:path";
import { onLocalDisk } from "./local-disk.js";
import { blockedReason, DirGuard, entryTarget, ioError } from "./workspace/dest-guard.js";
import { inspectRemoval, inspectTarget } from "./workspace/inspect-file.js";
import { fileRecord, isRecordedFile, pendingRecord, type InstalledFile } from "./workspace/install-state.js";
import type { LinkMode } from "./workspace/package-fields.js";
import { FilePlacer, removePlaced } from "./workspace/place-file.js";
import { runLimited, YIELD_EVERY } from "./run-limited.js";

/**
 * Turns a selection of entries into files under `dest`, in two steps. planMaterialize looks
 * before touching anything: it validates every path (a hostile entry list is refused whole),
 * decides per file whether it can stay, must be (re)written or is someone else's, and which of
 * dpkg's earlier files left the selection; any conflict fails the install before one byte is
 * written. applyMaterialize then removes, prunes and writes. The caller fetches the blobs of
 * `plan.write` in between, so files that are already right are neither fetched nor rewritten.
 */
export interface MaterializeEntry {
  path: string;
  digest: Digest;
  size: number;
}

/** Where blobs sit (a ContentCache fits). */
export interface BlobPaths {
  blobPath(digest: Digest): string;
}

export interface MaterializeProgress {
  bytes: number;
  blobs: number;
  totalBytes: number;
  totalBlobs: number;
}

export interface PlanOptions {
  /** Absolute destination folder. */
  dest: string;
  entries: readonly MaterializeEntry[];
  /** What dpkg installed in `dest` before (from the install state), and in which form. */
  previous?: { files: ReadonlyMap<string, InstalledFile>; link: LinkMode } | null;
  link: LinkMode;
  cache: BlobPaths;
  concurrency?: number;
}

/** An entry to write; `absent` when nothing was at its path, so it is created there directly. */
export interface PlannedWrite extends MaterializeEntry {
  absent: boolean;
}

/**
 * Built field by field, not spread from the entry: a spread of entries of mixed shapes (with and
 * without metadata) gave each of 50,000 planned writes a hidden class of its own in V8, ~230 bytes a
 * file of heap, and it carried the metadata along for nothing.
 */
function plannedWrite(entry: MaterializeEntry, absent: boolean): PlannedWrite {
  return { path: entry.path, digest: entry.digest, size: entry.size, absent };
}

export interface MaterializePlan {
  dest: string;
  link: LinkMode;
  /**
   * The files dpkg owns in `dest`, those about to be written included (as pending records, see
   * install-state.ts); applying the plan keeps it up to date as files are written and removed.
   */
  files: Map<string, InstalledFile>;
  write: PlannedWrite[];
  remove: string[];
  unchanged: number;
  /** dpkg's files that left the selection but were changed since: left in place and no longer tracked. */
  modified: string[];
}

export interface MaterializeResult {
  files: Map<string, InstalledFile>;
  written: number;
  unchanged: number;
  removed: number;
  modified: string[];
}

const DEFAULT_CONCURRENCY = 16;
const CONFLICTS_SHOWN = 5;

export async function planMaterialize(options: PlanOptions): Promise<MaterializePlan> {
  const { dest, link, cache } = options;
  const previous = options.previous?.files ?? new Map<string, InstalledFile>();
  const sync = await onLocalDisk(dest);
  if (sync && options.previous?.link === link && (await allAsRecorded(dest, options.entries, previous))) {
    return { dest, link, files: new Map(previous), write: [], remove: [], unchanged: previous.size, modified: [] };
  }
  const entries = checkEntries(dest, options.entries);
  const selected = new Set(entries.map((e) => e.path));
  const leaving = [...previous.keys()].filter((p) => !selected.has(p));
  const guard = new DirGuard(dest);
  const files = new Map<string, InstalledFile>();
  const write: PlannedWrite[] = [];
  const conflicts: { path: string; reason: string }[] = [];
  const limit = options.concurrency ?? DEFAULT_CONCURRENCY;

  // With synchronous lstats most of these tasks never wait for I/O; runLimited lets timers run between them.
  await runLimited(entries, limit, async (entry) => {
    const blocked = await guard.firstNonDir(entry.path);
    if (blocked !== null) {
      // A missing folder is made on write; one of dpkg's own files in the way is removed first.
      if (blocked.status === "missing" || (previous.has(blocked.dir) && !selected.has(blocked.dir))) write.push(plannedWrite(entry, true));
      else conflicts.push({ path: join(dest, blocked.dir), reason: blockedReason(blocked.status) });
      return;
    }
    const verdict = await inspectTarget({
      target: entryTarget(dest, entry.path),
      entry,
      record: previous.get(entry.path),
      recordedLink: options.previous?.link ?? null,
      link,
      blobPath: cache.blobPath(entry.digest),
      sync,
    });
    if (verdict.kind === "keep") files.set(entry.path, verdict.record);
    else if (verdict.kind === "write") write.push(plannedWrite(entry, verdict.absent));
    else conflicts.push({ path: entryTarget(dest, entry.path), reason: verdict.reason });
  });
  if (conflicts.length > 0) throw conflictError(conflicts);
  // What is about to be written is dpkg's from now on: a run that stops half way leaves files that
  // the next one rewrites or adopts, never ones it takes for the user's.
  for (const entry of write) files.set(entry.path, pendingRecord(entry));

  const remove: string[] = [];
  const modified: string[] = [];
  await runLimited(leaving, limit, async (path) => {
    const record = previous.get(path)!;
    // A folder on the way that is no longer a real folder: never unlink through it, just forget the file.
    if ((await guard.firstNonDir(path)) !== null) return;
    const verdict = await inspectRemoval(entryTarget(dest, path), record, cache.blobPath(record.digest));
    if (verdict === "remove") {
      remove.push(path);
      files.set(path, record);
    } else if (verdict === "modified") modified.push(path);
  });
  return { dest, link, files, write: sortByPath(write), remove: remove.sort(), unchanged: entries.length - write.length, modified: modified.sort() };
}

/**
 * Whether the entries are exactly the files dpkg recorded, each still the very file it left (lstat:
 * kind, size, mtime, inode): the usual re-install, which then needs nothing written or removed. One
 * synchronous pass, turning the event loop every YIELD_EVERY files, settles it at about one lstat per
 * file; the full plan's per-file promises and folder probes cost about four times that. Any
 * difference (a file missing or changed, another selection or revision) is left to the full plan.
 */
async function allAsRecorded(dest: string, entries: readonly MaterializeEntry[], recorded: ReadonlyMap<string, InstalledFile>): Promise<boolean> {
  if (entries.length !== recorded.size) return false;
  const seen = new Set<string>();
  for (let i = 0; i < entries.length; i++) {
    if (i > 0 && i % YIELD_EVERY === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const entry = entries[i]!;
    const record = recorded.get(entry.path);
    if (record === undefined || record.digest !== entry.digest || record.size !== entry.size || seen.has(entry.path)) return false;
    seen.add(entry.path);
    let st;
    try {
      st = lstatSync(entryTarget(dest, entry.path), { bigint: true, throwIfNoEntry: false });
    } catch {
      return false; // a path that cannot be looked at is for the full plan to report
    }
    if (st === undefined || !isRecordedFile(record, st)) return false;
  }
  return true;
}

/** Validates the entries as a manifest would be (paths, no duplicates, no file/folder clash) and orders them. */
function checkEntries(dest: string, entries: readonly MaterializeEntry[]): MaterializeEntry[] {
  const sorted = sortByPath([...entries]);
  const order = createEntryOrderChecker();
  for (const entry of sorted) {
    entryTarget(dest, entry.path);
    order.check(entry.path, `entry ${JSON.stringify(entry.path)}`);
  }
  return sorted;
}

function conflictError(conflicts: { path: string; reason: string }[]): DpkgError {
  conflicts.sort((a, b) => (a.path < b.path ? -1 : 1));
  const shown = conflicts.slice(0, CONFLICTS_SHOWN).map((c) => `${c.path} ${c.reason}`);
  const more = conflicts.length > CONFLICTS_SHOWN ? `; and ${conflicts.length - CONFLICTS_SHOWN} more` : "";
  return new DpkgError(
    "E_CONFLICT",
    `${conflicts.length === 1 ? "a path" : `${conflicts.length} paths`} the package needs ${conflicts.length === 1 ? "is" : "are"} taken: ${shown.join("; ")}${more}`,
    { conflicts: conflicts.slice(0, 100) },
    { hint: "dpkg never overwrites files it did not install: move them away, or install to another --dest." },
  );
}

export async function applyMaterialize(
  plan: MaterializePlan,
  options: { cache: BlobPaths; concurrency?: number; onProgress?: (p: MaterializeProgress) => void },
): Promise<MaterializeResult> {
  const limit = options.concurrency ?? DEFAULT_CONCURRENCY;
  const removeGuard = new DirGuard(plan.dest);
  let removed = 0;
  for (const path of plan.remove) {
    if ((await removeGuard.firstNonDir(path)) === null) {
      await removePlaced(entryTarget(plan.dest, path));
      removed += 1;
    }
    plan.files.delete(path);
  }
  await pruneFolders(plan.dest, plan.remove);

  const progress: MaterializeProgress = { bytes: 0, blobs: 0, totalBlobs: plan.write.length, totalBytes: 0 };
  for (const e of plan.write) progress.totalBytes += e.size;
  if (plan.write.length > 0) {
    await mkdir(plan.dest, { recursive: true }).catch((err: unknown) => {
      throw ioError(`cannot create ${plan.dest}`, err);
    });
  }
  const guard = new DirGuard(plan.dest);
  const placer = new FilePlacer(plan.link);
  await runLimited(plan.write, limit, async (entry) => {
    await guard.ensureParents(entry.path);
    const stats = await placer.place(options.cache.blobPath(entry.digest), entryTarget(plan.dest, entry.path), entry.absent);
    plan.files.set(entry.path, fileRecord(stats, entry.digest, entry.size));
    progress.blobs += 1;
    progress.bytes += entry.size;
    options.onProgress?.({ ...progress });
  });
  return { files: plan.files, written: plan.write.length, unchanged: plan.unchanged, removed, modified: plan.modified };
}

/** Plans and applies in one go; every blob of the selection must already be in the cache. */
export async function materialize(
  options: PlanOptions & { onProgress?: (p: MaterializeProgress) => void },
): Promise<MaterializeResult> {
  const plan = await planMaterialize(options);
  return applyMaterialize(plan, options);
}

/** Removes folders emptied by removals, deepest first; a folder holding anything else stays. */
export async function pruneFolders(dest: string, removedPaths: readonly string[]): Promise<void> {
  const dirs = new Set<string>();
  for (const path of removedPaths) for (const dir of parentDirs(path)) dirs.add(dir);
  const deepestFirst = [...dirs].sort((a, b) => b.split("/").length - a.split("/").length);
  for (const dir of deepestFirst) {
    // rmdir refuses non-empty folders and symlinks, which is exactly the protection wanted here.
    await rmdir(join(dest, ...dir.split("/"))).catch(() => undefined);
  }
}
