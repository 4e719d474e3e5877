import { compareUtf8 } from "../canonical-json.js";
import { DpkgError } from "../errors.js";

/**
 * Checks, one path at a time and in O(depth) memory, that manifest paths are strictly increasing in
 * byte order (so sorted and unique) and that no path is both a file and a directory (`a` and `a/b`),
 * which no filesystem could materialize.
 *
 * Why a stack suffices: in byte order, every path that starts with `p` sits in one contiguous run
 * right after `p`. So a file that is not a prefix of the current path can never be a directory of
 * any later path, and can be dropped.
 */
export interface EntryOrderChecker {
  /** Throws E_BAD_MANIFEST naming `where` if `path` is out of order, repeated or a file/dir clash. */
  check(path: string, where: string): void;
}

export function createEntryOrderChecker(): EntryOrderChecker {
  let previous: string | undefined;
  const openFiles: string[] = [];
  return {
    check(path, where) {
      if (previous !== undefined) {
        const order = compareUtf8(previous, path);
        if (order === 0) {
          throw new DpkgError("E_BAD_MANIFEST", `${where}: duplicate path ${JSON.stringify(path)}`, { where, path });
        }
        if (order > 0) {
          throw new DpkgError(
            "E_BAD_MANIFEST",
            `${where}: path ${JSON.stringify(path)} is out of order (must sort after ${JSON.stringify(previous)} by UTF-8 bytes)`,
            { where, path, previous },
          );
        }
      }
      while (openFiles.length > 0 && !path.startsWith(openFiles[openFiles.length - 1]!)) openFiles.pop();
      for (const file of openFiles) {
        if (path.startsWith(file + "/")) {
          throw new DpkgError(
            "E_BAD_MANIFEST",
            `${where}: ${JSON.stringify(path)} lies inside ${JSON.stringify(file)}, which is a file`,
            { where, path, file },
          );
        }
      }
      openFiles.push(path);
      previous = path;
    },
  };
}

/** Sorts entries into manifest order (by UTF-8 bytes of the path). */
export function sortByPath<T extends { path: string }>(entries: T[]): T[] {
  return entries.sort((a, b) => compareUtf8(a.path, b.path));
}
