import { DpkgError } from "@dpkg/core";
import { randomBytes } from "node:crypto";
import { constants, lstatSync, type BigIntStats } from "node:fs";
import { chmod, copyFile, link, rename, rm, symlink, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { ioError } from "./dest-guard.js";
import type { LinkMode } from "./package-fields.js";

const READ_ONLY = 0o444;
const REFLINK_UNSUPPORTED = new Set(["ENOTSUP", "EOPNOTSUPP", "EXDEV", "EINVAL", "ENOSYS", "ENOTTY"]);

/**
 * Puts cached blobs into the workspace in the requested form. A file whose path was free when the
 * install was planned is created right there, exclusively (O_EXCL never opens an existing file and
 * never follows a link, dangling or not); anything else is built under a fresh temp name beside the
 * target and renamed over it, which replaces whatever was there instead of writing through it. The
 * direct create saves a rename per file; a file that appeared at the path since is refused. Copies
 * are read-only; a hardlink shares the cache's read-only inode, so editing it in place is refused by
 * the file system rather than corrupting the cache; a symlink points at the cache path. `place`
 * returns the lstat of the placed file, for the install state.
 */
export class FilePlacer {
  /** Whether the copy flag asks for reflinks: unknown until the first copy tries one. */
  #reflinks: boolean | undefined;

  constructor(readonly mode: LinkMode) {}

  async place(source: string, target: string, absent: boolean): Promise<BigIntStats> {
    if (absent) {
      try {
        return await this.#build(source, target);
      } catch (err) {
        throw placeError(target, err, true);
      }
    }
    const temp = join(dirname(target), `.${basename(target).slice(0, 64)}.dpkg-${TEMP_PREFIX}-${(tempCounter++).toString(36)}`);
    try {
      // The lstat is taken before the rename, which changes neither the inode nor the mtime the record keeps.
      const stats = await this.#build(source, temp);
      await rename(temp, target);
      return stats;
    } catch (err) {
      await rm(temp, { force: true });
      throw placeError(target, err, false);
    }
  }

  /** Builds the file at `path` (which must not exist) and returns its lstat. */
  async #build(source: string, path: string): Promise<BigIntStats> {
    switch (this.mode) {
      case "copy":
        await this.#copy(source, path);
        return readOnly(path);
      case "reflink":
        try {
          await copyFile(source, path, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE_FORCE);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code ?? "";
          if (!REFLINK_UNSUPPORTED.has(code)) throw err;
          throw new DpkgError(
            "E_IO",
            `cannot reflink into ${dirname(path)}: its file system does not support reflinks from the cache at ${dirname(source)} (${code})`,
            { code, source },
            { cause: err, hint: "Use --link copy (it reflinks when it can and copies otherwise), or put the cache and the workspace on one Btrfs, XFS or APFS volume." },
          );
        }
        return readOnly(path);
      case "hardlink":
        try {
          await link(source, path);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
          throw new DpkgError(
            "E_IO",
            `cannot hardlink into ${dirname(path)}: the cache (${dirname(source)}) is on another file system`,
            { code: "EXDEV", source },
            { cause: err, hint: "Use --link copy or --link symlink, or set DPKG_CACHE_DIR to a folder on the workspace's file system." },
          );
        }
        return statFresh(path);
      case "symlink":
        await symlink(source, path);
        return statFresh(path);
    }
  }

  /**
   * A reflink where the file systems have them, a byte copy elsewhere. The first copy asks for a
   * reflink outright and remembers the answer: asking on every copy (COPYFILE_FICLONE) costs a
   * failing ioctl per file where there are none, as on ext4.
   */
  async #copy(source: string, path: string): Promise<void> {
    if (this.#reflinks === undefined) {
      try {
        await copyFile(source, path, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE_FORCE);
        this.#reflinks = true;
        return;
      } catch (err) {
        if (!REFLINK_UNSUPPORTED.has((err as NodeJS.ErrnoException).code ?? "")) throw err;
        this.#reflinks = false;
      }
    }
    await copyFile(source, path, constants.COPYFILE_EXCL | (this.#reflinks ? constants.COPYFILE_FICLONE : 0));
  }
}

function placeError(target: string, err: unknown, direct: boolean): DpkgError {
  if (err instanceof DpkgError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (direct && code === "EEXIST") {
    return new DpkgError("E_CONFLICT", `${target} appeared while dpkg was installing, and dpkg did not put it there`, { path: target }, {
      hint: "Something else writes into the destination: move that file away (or install to another --dest), then run dpkg install again.",
    });
  }
  if (code === "EISDIR" || code === "ENOTEMPTY" || code === "EEXIST") {
    return new DpkgError("E_CONFLICT", `${target} is a folder that dpkg did not create; a package entry needs a file there`, { path: target }, {
      hint: "Move the folder away (or install to another --dest), then run dpkg install again.",
    });
  }
  return ioError(`cannot write ${target}`, err);
}

// Temp names: a random per-process prefix and a counter, rather than fresh entropy for every file.
const TEMP_PREFIX = randomBytes(4).toString("hex");
let tempCounter = 0;

/**
 * The lstat of a file this process has just created: its entry is in the kernel's cache, so the
 * call returns without touching the disk, and the synchronous form saves a thread-pool round trip
 * per file (about a fifth of the time to place thousands of small files).
 */
function statFresh(path: string): BigIntStats {
  return lstatSync(path, { bigint: true });
}

/**
 * A copy takes its mode from the cache file, which is read-only already (the cache creates its
 * files 0444), so the chmod is needed only for a cache file someone made writable.
 */
async function readOnly(temp: string): Promise<BigIntStats> {
  const stats = statFresh(temp);
  if ((Number(stats.mode) & 0o777) === READ_ONLY) return stats;
  await chmod(temp, READ_ONLY);
  return statFresh(temp);
}

/** Removes a file or link dpkg placed (unlink never follows a link); a file already gone is fine. */
export async function removePlaced(target: string): Promise<void> {
  try {
    await unlink(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw ioError(`cannot remove ${target}`, err);
  }
}
