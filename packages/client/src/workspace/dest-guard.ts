import { DpkgError, parentDirs, validatePath } from "@dpkg/core";
import { lstat, mkdir } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";

/**
 * Keeps every write inside a destination folder. Entry paths come from a registry, which may be
 * hostile or broken: each is re-validated with core's rules, resolved under `dest` and checked to
 * stay there; and the folders on the way are lstat'ed one by one, so a symlink planted in the
 * destination (`dest/a -> /etc`) is never written through. Files themselves are created exclusively
 * (never opening what is there, never following a link) or as a fresh temp file renamed into place,
 * and rename replaces a link rather than following it (see place-file.ts).
 */
export function entryTarget(dest: string, entryPath: string): string {
  validatePath(entryPath);
  // A valid entry path has no '.', '..' or empty segment and no '\\': on POSIX, appending it to the
  // absolute `dest` cannot leave it, and path.resolve per file cost more than the lstat of a no-op.
  if (sep === "/" && isAbsolute(dest)) return dest.endsWith("/") ? dest + entryPath : `${dest}/${entryPath}`;
  const target = resolve(dest, ...entryPath.split("/"));
  const rel = relative(dest, target);
  if (rel === "" || rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new DpkgError("E_BAD_PATH", `entry ${JSON.stringify(entryPath)} would land outside ${dest}; refusing to write it`, {
      path: entryPath,
      dest,
    });
  }
  return target;
}

/**
 * The folders of a workspace-relative destination (`data/lab/cells`), from the workspace root down,
 * that exist and are not real folders: the first such one, or null. A symlink there (`data/lab ->
 * /elsewhere`) would carry every write and every removal out of the workspace, and DirGuard, which
 * starts at the destination, cannot see it.
 */
export async function destBlocked(root: string, dest: string): Promise<{ path: string; status: DirStatus } | null> {
  const blocked = await new DirGuard(root).firstNonDir(`${dest}/-`);
  return blocked === null || blocked.status === "missing" ? null : { path: join(root, ...blocked.dir.split("/")), status: blocked.status };
}

export type DirStatus = "dir" | "missing" | "symlink" | "file" | "other";

/** lstat-based view of the folders under `dest`, memoized, safe to share between concurrent tasks. */
export class DirGuard {
  readonly #status = new Map<string, Promise<DirStatus>>();
  readonly #ensured = new Map<string, Promise<void>>();

  constructor(readonly dest: string) {}

  /** What sits at the dest-relative folder path `dir` (not following symlinks). */
  status(dir: string): Promise<DirStatus> {
    let status = this.#status.get(dir);
    if (status === undefined) {
      status = probe(join(this.dest, ...dir.split("/")));
      this.#status.set(dir, status);
    }
    return status;
  }

  /** The outermost parent folder of `entryPath` that is not a real folder, or null when all are. */
  async firstNonDir(entryPath: string): Promise<{ dir: string; status: Exclude<DirStatus, "dir"> } | null> {
    for (const dir of parentDirs(entryPath)) {
      const status = await this.status(dir);
      if (status !== "dir") return { dir, status };
    }
    return null;
  }

  /** Creates the parent folders of `entryPath` one level at a time; fails rather than pass a symlink or file. */
  async ensureParents(entryPath: string): Promise<void> {
    for (const dir of parentDirs(entryPath)) await this.#ensure(dir);
  }

  #ensure(dir: string): Promise<void> {
    let done = this.#ensured.get(dir);
    if (done === undefined) {
      done = this.#create(dir);
      this.#ensured.set(dir, done);
    }
    return done;
  }

  async #create(dir: string): Promise<void> {
    const abs = join(this.dest, ...dir.split("/"));
    // mkdir first: it never follows a symlink in the last component, and its parent was ensured
    // before, so EEXIST is the only case that needs a look at what is there.
    try {
      await mkdir(abs);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw ioError(`cannot create folder ${abs}`, err);
    }
    const status = await probe(abs);
    if (status !== "dir") throw blockedError(abs, status);
  }
}

async function probe(abs: string): Promise<DirStatus> {
  try {
    const st = await lstat(abs);
    return st.isDirectory() ? "dir" : st.isSymbolicLink() ? "symlink" : st.isFile() ? "file" : "other";
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return "missing";
    throw ioError(`cannot inspect ${abs}`, err);
  }
}

/** Why a path where dpkg needs a folder cannot be used, e.g. "is a symlink that dpkg did not install". */
export function blockedReason(status: DirStatus): string {
  const what = status === "symlink" ? "a symlink that dpkg did not install" : status === "file" ? "a file dpkg did not install" : "not a folder";
  return `is ${what}; dpkg needs a folder there and never writes through a symlink`;
}

export function blockedError(abs: string, status: DirStatus): DpkgError {
  return new DpkgError(
    "E_CONFLICT",
    `${abs} ${blockedReason(status)}`,
    { path: abs, found: status },
    { hint: "Move it away (or install to another --dest), then run dpkg install again." },
  );
}

export function ioError(what: string, err: unknown): DpkgError {
  return new DpkgError("E_IO", `${what}: ${(err as Error).message}`, { code: (err as NodeJS.ErrnoException).code }, { cause: err });
}
