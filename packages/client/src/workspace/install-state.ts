import { DpkgError, isDigest, type Digest } from "@dpkg/core";
import type { BigIntStats } from "node:fs";
import { mkdir, open, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileLines } from "../file-lines.js";
import { writeFileAtomic } from "./json-file.js";
import { STATE_DIR, type LinkMode } from "./package-fields.js";

/**
 * What dpkg materialized for one package, so that a re-install can tell, without re-hashing,
 * which files are still exactly as it left them, which it owns (and may rewrite or remove), and
 * which belong to the user (never touched).
 *
 * Kept per package at `<workspace>/.dpkg/state/<ns>/<name>.jsonl`, outside the destination, so no
 * package entry can collide with it and no user listing of the data folder sees it. JSON Lines (a
 * header, then one line per file) keeps million-file installs within string limits.
 * A file is unchanged when its lstat still shows the recorded size, mtime (ns) and inode.
 */
export interface InstalledFile {
  digest: Digest;
  size: number;
  /** Nanosecond mtime and inode as decimal strings: both can exceed 2^53. */
  mtimeNs: string;
  ino: string;
  symlink: boolean;
}

export interface InstallState {
  package: string;
  dest: string;
  /** The revision and selection the files were materialized from. */
  digest: Digest;
  paths?: string[];
  where?: string;
  link: LinkMode;
  /** True only when every selected entry was materialized: then `files` is the selection itself. */
  complete: boolean;
  files: Map<string, InstalledFile>;
}

const STATE_VERSION = 1;

export function installStatePath(root: string, pkg: string): string {
  return join(root, STATE_DIR, "state", ...pkg.split("/")) + ".jsonl";
}

export function fileRecord(stats: BigIntStats, digest: Digest, size: number): InstalledFile {
  return { digest, size, mtimeNs: stats.mtimeNs.toString(), ino: stats.ino.toString(), symlink: stats.isSymbolicLink() };
}

/**
 * A file dpkg is about to write: owned, but matching no file on disk (no mtime, no inode), so the
 * next run looks at what is there: the right bytes are adopted, anything else is rewritten.
 */
export function pendingRecord(entry: { digest: Digest; size: number }): InstalledFile {
  return { digest: entry.digest, size: entry.size, mtimeNs: "", ino: "", symlink: false };
}

/** True when `stats` (an lstat) shows the very file dpkg recorded: same kind, size, mtime and inode. */
export function isRecordedFile(record: InstalledFile, stats: BigIntStats): boolean {
  return (
    record.symlink === stats.isSymbolicLink() &&
    (record.symlink || (stats.isFile() && stats.size === BigInt(record.size))) &&
    stats.mtimeNs.toString() === record.mtimeNs &&
    stats.ino.toString() === record.ino
  );
}

export async function readInstallState(root: string, pkg: string): Promise<InstallState | null> {
  const file = installStatePath(root, pkg);
  const handle = await open(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return null;
    throw new DpkgError("E_IO", `cannot read ${file}: ${err.message}`, { file }, { cause: err });
  });
  if (handle === null) return null;
  let state: InstallState | null = null;
  let n = 0;
  try {
    for await (const line of fileLines(handle)) {
      n += 1;
      if (line === "") continue;
      const value = JSON.parse(line) as Record<string, unknown>;
      if (state === null) state = parseHeader(value);
      else state.files.set(String(value.path), parseFile(value));
    }
  } catch (err) {
    throw new DpkgError("E_BAD_JSON", `${file} line ${n} is damaged: ${(err as Error).message}`, { file, line: n }, {
      cause: err,
      hint: `Delete ${file} and run dpkg install again; files that still match are adopted, others reported.`,
    });
  } finally {
    await handle.close();
  }
  return state;
}

function parseHeader(value: Record<string, unknown>): InstallState {
  if (value.version !== STATE_VERSION) throw new Error(`unknown state version ${JSON.stringify(value.version)}`);
  if (typeof value.package !== "string" || typeof value.dest !== "string" || !isDigest(value.digest)) {
    throw new Error("the header lacks package, dest or digest");
  }
  return {
    package: value.package,
    dest: value.dest,
    digest: value.digest,
    paths: Array.isArray(value.paths) ? value.paths.map(String) : undefined,
    where: typeof value.where === "string" ? value.where : undefined,
    link: value.link as LinkMode,
    complete: value.complete === true,
    files: new Map(),
  };
}

function parseFile(value: Record<string, unknown>): InstalledFile {
  const { digest, size, mtimeNs, ino, symlink } = value;
  if (typeof value.path !== "string" || !isDigest(digest) || typeof size !== "number" || typeof mtimeNs !== "string" || typeof ino !== "string") {
    throw new Error("a file line lacks path, digest, size, mtimeNs or ino");
  }
  return { digest, size, mtimeNs, ino, symlink: symlink === true };
}

export async function writeInstallState(root: string, state: InstallState): Promise<void> {
  const file = installStatePath(root, state.package);
  await ensureStateDir(root, file);
  await writeFileAtomic(file, stateLines(state));
}

function* stateLines(state: InstallState): Generator<string, void, undefined> {
  const { files, ...header } = state;
  yield JSON.stringify({ version: STATE_VERSION, ...header }) + "\n";
  for (const [path, f] of files) yield JSON.stringify({ path, ...f }) + "\n";
}

/** Whether two states record the same thing: then writing `next` over `current` would change nothing. */
export function sameInstallState(current: InstallState, next: InstallState): boolean {
  const header = (s: InstallState): string => JSON.stringify([s.package, s.dest, s.digest, s.paths ?? [], s.where ?? "", s.link, s.complete]);
  if (header(current) !== header(next) || current.files.size !== next.files.size) return false;
  for (const [path, f] of next.files) {
    const c = current.files.get(path);
    if (c === undefined || c.digest !== f.digest || c.size !== f.size || c.mtimeNs !== f.mtimeNs || c.ino !== f.ino || c.symlink !== f.symlink) return false;
  }
  return true;
}

export async function removeInstallState(root: string, pkg: string): Promise<void> {
  await rm(installStatePath(root, pkg), { force: true });
}

/** Names of the packages that have install state in this workspace. */
export async function listInstallStates(root: string): Promise<string[]> {
  const base = join(root, STATE_DIR, "state");
  const names: string[] = [];
  for (const ns of await readdir(base).catch(() => [])) {
    for (const f of await readdir(join(base, ns)).catch(() => [])) {
      if (f.endsWith(".jsonl") && !f.startsWith(".")) names.push(`${ns}/${f.slice(0, -".jsonl".length)}`);
    }
  }
  return names.sort();
}

/** Creates .dpkg/state/<ns>/ and a .gitignore that keeps machine-local state out of version control. */
async function ensureStateDir(root: string, file: string): Promise<void> {
  await mkdir(join(file, ".."), { recursive: true });
  await writeFile(join(root, STATE_DIR, ".gitignore"), "*\n", { flag: "wx" }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "EEXIST") throw err;
  });
}
