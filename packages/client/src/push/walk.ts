import { compilePathGlobs, DpkgError, pathProblem, sortByPath, toEntryPath } from "@dpkg/core";
import { lstatSync, readdirSync, type Dirent, type Stats } from "node:fs";
import { lstat, readdir, realpath, stat } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";
import { runLimited } from "../run-limited.js";

/**
 * A regular file found in the folder: `path` is its entry path, `source` the file to read, and its
 * stamp (see push-record.ts). A push holds one of these per file until it commits, so for a folder of
 * a million files every byte per file counts: the stamp lives in the same object, and `source` is
 * derived from the folder and the path unless the file's name on disk differs from it (a followed
 * symlink, a name that NFC normalization changed). `source` is a getter: a spread copy ({...file})
 * would lose it, so code copies the fields it needs by name.
 */
export class WalkedFile implements FileStamp {
  readonly #root: string;
  readonly #osPath: string | undefined;
  constructor(
    root: string,
    readonly path: string,
    /** Size at walk time (progress totals); hashing records the size it actually read. */
    public size: number,
    readonly ino: number,
    readonly mtimeMs: number,
    readonly ctimeMs: number,
    osPath: string,
  ) {
    this.#root = root;
    this.#osPath = osPath === join(root, path) ? undefined : osPath;
  }

  get source(): string {
    return this.#osPath ?? join(this.#root, this.path);
  }
}

/** Inode, modification and change times at walk time: what tells a later push the file is unchanged. */
export interface FileStamp {
  ino: number;
  mtimeMs: number;
  ctimeMs: number;
}

export interface WalkOptions {
  /** Globs (core's compilePathGlobs) of entry paths to leave out; a matching folder is not entered. */
  exclude?: readonly string[];
  /** Told about every skipped symlink and special file. */
  warn?: (message: string) => void;
  /** Synchronous system calls (see ../local-disk.ts): for a folder on a local disk. */
  syncIo?: boolean;
}

const STAT_CONCURRENCY = 32;

/** The calls made per folder and per file. */
interface WalkIo {
  readdir: (dir: string) => Promise<Dirent[]>;
  /**
   * The walked files of `pending` regular files (undefined: no longer one), in their order. Each is
   * built as soon as its stat is known, so that a big folder's Stats objects die young.
   */
  files: (root: string, pending: readonly Pending[]) => Promise<(WalkedFile | undefined)[]>;
}

interface Pending {
  osPath: string;
  path: string;
}

const ASYNC_IO: WalkIo = {
  readdir: (dir) => readdir(dir, { withFileTypes: true }),
  async files(root, pending) {
    const out = new Array<WalkedFile | undefined>(pending.length);
    await runLimited(pending, STAT_CONCURRENCY, async ({ osPath, path }, i) => {
      out[i] = regularFile(root, path, osPath, await statOrFail(lstat, osPath));
    });
    return out;
  },
};
// A plain loop: for thousands of files, a promise per synchronous call cost as much as the call.
const SYNC_IO: WalkIo = {
  readdir: async (dir) => readdirSync(dir, { withFileTypes: true }),
  files: async (root, pending) => pending.map(({ osPath, path }) => regularFile(root, path, osPath, statOrFailSync(osPath))),
};

/** Replaced by something else since readdir: the hash step notices too, but skip it honestly here. */
function regularFile(root: string, path: string, source: string, stats: Stats): WalkedFile | undefined {
  return stats.isFile() ? walkedFile(root, path, source, stats) : undefined;
}

function walkedFile(root: string, path: string, source: string, stats: Stats): WalkedFile {
  return new WalkedFile(root, path, stats.size, stats.ino, stats.mtimeMs, stats.ctimeMs, source);
}

/**
 * Lists the regular files under `dir`, sorted by entry path. Symlinks: one that resolves to a regular
 * file inside the folder is pushed as that file's content under the link's own path (datasets often
 * carry `latest.csv -> v3.csv`); links to folders (which could loop or store a subtree twice), links
 * that resolve outside the folder and dangling links are skipped with a warning, never followed.
 * Sockets, FIFOs and devices are skipped with a warning too.
 */
export async function walkFolder(dir: string, options: WalkOptions = {}): Promise<WalkedFile[]> {
  const root = await folderRoot(dir);
  const io = options.syncIo === true ? SYNC_IO : ASYNC_IO;
  const exclude = options.exclude ?? [];
  const matcher = compilePathGlobs(exclude);
  const isExcluded = exclude.length === 0 ? () => false : (rel: string) => matcher(rel.normalize("NFC"));
  const warn = options.warn ?? (() => {});
  const pending: Pending[] = [];
  const links: Pending[] = [];
  const folders: { osDir: string; prefix: string }[] = [{ osDir: root, prefix: "" }];

  for (let folder = folders.pop(); folder !== undefined; folder = folders.pop()) {
    for (const dirent of await listFolder(io, folder.osDir)) {
      const rel = folder.prefix + dirent.name;
      if (isExcluded(rel)) continue;
      const osPath = join(folder.osDir, dirent.name);
      if (dirent.isDirectory()) folders.push({ osDir: osPath, prefix: rel + "/" });
      else if (dirent.isFile()) pending.push({ osPath, path: entryPathOf(rel, osPath) });
      else if (dirent.isSymbolicLink()) links.push({ osPath, path: rel });
      else warn(`skipping ${specialKind(dirent)} ${JSON.stringify(osPath)}: only regular files are pushed`);
    }
  }

  const files = (await io.files(root, pending)).filter((file): file is WalkedFile => file !== undefined);
  await runLimited(links, STAT_CONCURRENCY, async ({ osPath, path }) => {
    const target = await followLink(root, osPath);
    if (typeof target === "string") warn(`skipping symlink ${JSON.stringify(osPath)}: ${target}`);
    else files.push(walkedFile(root, toEntryPath(path, { where: `symlink ${JSON.stringify(osPath)}` }), target.source, target.stats));
  });
  return rejectDuplicates(sortByPath(files));
}

/** The entry path of a file found at `rel`; the error context is built only for a path that fails. */
function entryPathOf(rel: string, osPath: string): string {
  const path = rel.normalize("NFC");
  return pathProblem(path) === null ? path : toEntryPath(rel, { where: `file ${JSON.stringify(osPath)}` });
}

async function folderRoot(dir: string): Promise<string> {
  let root: string;
  try {
    root = await realpath(dir);
  } catch (err) {
    throw ioError(dir, err, "cannot push folder");
  }
  if (!(await statOrFail(stat, root)).isDirectory()) {
    throw new DpkgError("E_IO", `cannot push ${JSON.stringify(dir)}: it is not a folder`, { dir });
  }
  return root;
}

async function listFolder(io: WalkIo, osDir: string): Promise<Dirent[]> {
  try {
    return await io.readdir(osDir);
  } catch (err) {
    throw ioError(osDir, err, "cannot list folder");
  }
}

/** The regular file a link resolves to inside `root`, or why it is skipped. */
async function followLink(root: string, osPath: string): Promise<{ source: string; stats: Stats } | string> {
  let target: string;
  try {
    target = await realpath(osPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === "ELOOP" ? "it loops" : "it is dangling (its target does not exist)";
  }
  const rel = relative(root, target);
  if (isAbsolute(rel) || rel === ".." || rel.startsWith(".." + sep)) {
    return `it points outside the folder (to ${JSON.stringify(target)}); links are not followed out of it`;
  }
  const stats = await statOrFail(stat, target);
  if (stats.isDirectory()) return "it points to a folder; folder links are not followed (they could loop or repeat a subtree)";
  if (!stats.isFile()) return "it points to a special file; only regular files are pushed";
  return { source: target, stats };
}

/** Two names that differ only in Unicode normalization (NFD on macOS, NFC elsewhere) become one path. */
function rejectDuplicates(files: WalkedFile[]): WalkedFile[] {
  for (let i = 1; i < files.length; i++) {
    const a = files[i - 1]!;
    const b = files[i]!;
    if (a.path === b.path) {
      throw new DpkgError(
        "E_BAD_PATH",
        `${JSON.stringify(a.source)} and ${JSON.stringify(b.source)} both become entry path ${JSON.stringify(a.path)} (entry paths are Unicode NFC); rename one of them`,
        { path: a.path, files: [a.source, b.source] },
      );
    }
  }
  return files;
}

function specialKind(dirent: Dirent): string {
  if (dirent.isFIFO()) return "FIFO";
  if (dirent.isSocket()) return "socket";
  if (dirent.isBlockDevice() || dirent.isCharacterDevice()) return "device";
  return "special file";
}

async function statOrFail(fn: (path: string) => Promise<Stats>, osPath: string): Promise<Stats> {
  try {
    return await fn(osPath);
  } catch (err) {
    throw ioError(osPath, err, "cannot read");
  }
}

function statOrFailSync(osPath: string): Stats {
  try {
    return lstatSync(osPath);
  } catch (err) {
    throw ioError(osPath, err, "cannot read");
  }
}

function ioError(osPath: string, err: unknown, what: string): DpkgError {
  const code = (err as NodeJS.ErrnoException).code ?? String(err);
  return new DpkgError("E_IO", `${what} ${JSON.stringify(osPath)}: ${code}`, { file: osPath, errno: code }, { cause: err });
}
