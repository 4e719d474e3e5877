import { DpkgError } from "@dpkg/core";
import { randomBytes } from "node:crypto";
import { constants, type BigIntStats } from "node:fs";
import { chmod, copyFile, link, lstat, rename, rm, symlink, unlink } from "node:fs/promises";
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
  const temp = join(dirname(target), `.${basename(target).slice(0, 64)}.dpkg-${randomBytes(6).toString("hex")}`);
  try {
    await build(source, temp, mode);
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
  return lstat(target, { bigint: true });
}

async function build(source: string, temp: string, mode: LinkMode): Promise<void> {
  switch (mode) {
    case "copy":
      // FICLONE asks for a reflink and quietly falls back to a byte copy where there is none.
      await copyFile(source, temp, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
      await chmod(temp, READ_ONLY);
      return;
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
      await chmod(temp, READ_ONLY);
      return;
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
      return;
    case "symlink":
      await symlink(source, temp);
      return;
  }
}

/** Removes a file or link dpkg placed (unlink never follows a link); a file already gone is fine. */
export async function removePlaced(target: string): Promise<void> {
  try {
    await unlink(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw ioError(`cannot remove ${target}`, err);
  }
}
