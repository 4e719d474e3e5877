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
 * Puts the cached blob at `source` into the workspace at `target` in the requested form, atomically:
 * the file is built under a fresh temp name beside the target (exclusive create, so it never opens
 * an existing file or link) and renamed over it, which replaces whatever link was there instead of
 * writing through it. Copies are made read-only; a hardlink shares the cache's read-only inode, so
 * editing it in place is refused by the file system rather than corrupting the cache; a symlink
 * points at the cache path. Returns the lstat of the placed file, for the install state.
 */
export async function placeFile(source: string, target: string, mode: LinkMode): Promise<BigIntStats> {
  const temp = join(dirname(target), `.${basename(target).slice(0, 64)}.dpkg-${TEMP_PREFIX}-${(tempCounter++).toString(36)}`);
  let stats: BigIntStats;
  try {
    stats = await build(source, temp, mode);
    await rename(temp, target);
  } catch (err) {
    await rm(temp, { force: true });
    if (err instanceof DpkgError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EISDIR" || code === "ENOTEMPTY" || code === "EEXIST") {
      throw new DpkgError("E_CONFLICT", `${target} is a folder that dpkg did not create; a package entry needs a file there`, { path: target }, {
        hint: "Move the folder away (or install to another --dest), then run dpkg install again.",
      });
    }
    throw ioError(`cannot write ${target}`, err);
  }
  // Taken before the rename, which changes neither the inode nor the mtime that the record keeps.
  return stats;
}

// Temp names: a random per-process prefix and a counter, rather than fresh entropy for every file.
const TEMP_PREFIX = randomBytes(4).toString("hex");
let tempCounter = 0;

/** Builds the file at `temp` and returns its lstat. */
async function build(source: string, temp: string, mode: LinkMode): Promise<BigIntStats> {
  switch (mode) {
    case "copy":
      // FICLONE asks for a reflink and quietly falls back to a byte copy where there is none.
      await copyFile(source, temp, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
      return readOnly(temp);
    case "reflink":
      try {
        await copyFile(source, temp, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE_FORCE);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? "";
        if (!REFLINK_UNSUPPORTED.has(code)) throw err;
        throw new DpkgError(
          "E_IO",
          `cannot reflink into ${dirname(temp)}: its file system does not support reflinks from the cache at ${dirname(source)} (${code})`,
          { code, source },
          { cause: err, hint: "Use --link copy (it reflinks when it can and copies otherwise), or put the cache and the workspace on one Btrfs, XFS or APFS volume." },
        );
      }
      return readOnly(temp);
    case "hardlink":
      try {
        await link(source, temp);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
        throw new DpkgError(
          "E_IO",
          `cannot hardlink into ${dirname(temp)}: the cache (${dirname(source)}) is on another file system`,
          { code: "EXDEV", source },
          { cause: err, hint: "Use --link copy or --link symlink, or set DPKG_CACHE_DIR to a folder on the workspace's file system." },
        );
      }
      return statFresh(temp);
    case "symlink":
      await symlink(source, temp);
      return statFresh(temp);
  }
}

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
