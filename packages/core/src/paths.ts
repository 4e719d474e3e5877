import { DpkgError } from "./errors.js";

/**
 * Entry-path rules (DESIGN.md, "Paths"): relative, '/'-separated, Unicode NFC, no empty, '.' or '..'
 * segment, no '\', no control characters (C0, DEL, C1), no lone surrogates, at most 4096 bytes of
 * UTF-8. Windows reserved names (CON, NUL.txt, ...) and trailing dots or spaces are allowed: they are
 * valid on every other system, and refusing them here would make such data unpublishable; a Windows
 * client has to map them when it materializes files.
 */
export const MAX_PATH_BYTES = 4096;

const SLASH = 0x2f;
const DOT = 0x2e;
const BACKSLASH = 0x5c;

function hex(code: number): string {
  return "U+" + code.toString(16).toUpperCase().padStart(4, "0");
}

function isControl(code: number): boolean {
  return code < 0x20 || code === 0x7f || (code >= 0x80 && code <= 0x9f);
}

/** What is wrong with the segment [start, end) of `path`, or null. Reads char codes: no substring. */
function segmentProblem(path: string, start: number, end: number): string | null {
  const len = end - start;
  if (len === 0) return `has an empty segment at index ${start} ('//')`;
  if (path.charCodeAt(start) !== DOT || len > 2) return null;
  if (len === 1) return `has a '.' segment at index ${start}`;
  if (path.charCodeAt(start + 1) === DOT)
    return `has a '..' segment at index ${start}: paths may not leave the package`;
  return null;
}

/**
 * The reason `path` is not a valid entry path, or null if it is. One pass over the char codes, so it
 * is cheap enough for million-entry manifests; only non-ASCII paths pay for the NFC check.
 */
export function pathProblem(path: string): string | null {
  const n = path.length;
  if (n === 0) return "is empty";
  if (path.charCodeAt(0) === SLASH) return "starts with '/': paths are relative to the package root";
  if (path.charCodeAt(n - 1) === SLASH) return "ends with '/': an entry names a file, not a directory";
  let bytes = 0;
  let ascii = true;
  let segStart = 0;
  for (let i = 0; i < n; i++) {
    const c = path.charCodeAt(i);
    if (c < 0x80) {
      bytes += 1;
      if (c === SLASH) {
        const problem = segmentProblem(path, segStart, i);
        if (problem !== null) return problem;
        segStart = i + 1;
      } else if (c === BACKSLASH) {
        return `contains '\\' at index ${i}: the separator is '/'`;
      } else if (isControl(c)) {
        return `contains control character ${hex(c)} at index ${i}`;
      }
      continue;
    }
    ascii = false;
    if (isControl(c)) return `contains control character ${hex(c)} at index ${i}`;
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = path.charCodeAt(i + 1); // NaN past the end, which fails the range test
      if (c >= 0xdc00 || !(next >= 0xdc00 && next <= 0xdfff)) {
        return `contains a lone surrogate ${hex(c)} at index ${i} (not valid Unicode)`;
      }
      bytes += 4;
      i++;
    } else {
      bytes += c < 0x800 ? 2 : 3;
    }
  }
  const last = segmentProblem(path, segStart, n);
  if (last !== null) return last;
  if (bytes > MAX_PATH_BYTES) return `is ${bytes} bytes of UTF-8, over the ${MAX_PATH_BYTES}-byte limit`;
  if (!ascii) {
    const nfc = path.normalize("NFC");
    if (nfc !== path) {
      let i = 0;
      while (path[i] === nfc[i]) i++;
      return `is not in Unicode NFC form (from index ${i}, e.g. a decomposed accent; normalize it to NFC)`;
    }
  }
  return null;
}

export function isValidPath(path: string): boolean {
  return pathProblem(path) === null;
}

// A 4096-byte path in an error message helps nobody; the full path stays in the details.
function quote(path: string): string {
  const shown = path.length > 200 ? path.slice(0, 200) + "..." : path;
  return JSON.stringify(shown);
}

/** Returns `path` if it is a valid entry path, else throws E_BAD_PATH naming `where` and the rule broken. */
export function validatePath(path: string, where = "entry"): string {
  const reason = pathProblem(path);
  if (reason !== null) {
    throw new DpkgError("E_BAD_PATH", `${where}: path ${quote(path)} ${reason}`, { where, path, reason });
  }
  return path;
}

export interface ToEntryPathOptions {
  /** The platform separator to turn into '/': pass "\\" on win32 (path.sep). Default "/". */
  separator?: "/" | "\\";
  /** Names the source in error messages. Default "file". */
  where?: string;
}

/**
 * Turns a path relative to the folder being pushed into an entry path: platform separators become '/',
 * the text is normalised to NFC (macOS file systems hand out NFD names), then the rules are checked.
 */
export function toEntryPath(relativeOsPath: string, options: ToEntryPathOptions = {}): string {
  const separator = options.separator ?? "/";
  const slashed = separator === "\\" ? relativeOsPath.replaceAll("\\", "/") : relativeOsPath;
  return validatePath(slashed.normalize("NFC"), options.where ?? "file");
}

/** The directories a path implies, outermost first: "a/b/c" gives ["a", "a/b"]. */
export function parentDirs(path: string): string[] {
  const dirs: string[] = [];
  for (let i = path.indexOf("/"); i !== -1; i = path.indexOf("/", i + 1)) dirs.push(path.slice(0, i));
  return dirs;
}

/**
 * Groups of paths that would land on the same file or directory on a case-insensitive file system
 * (default macOS and Windows): `A/x` and `a/y` collide on their directory, `R.csv` and `r.csv` on the
 * file. Keys are NFC + String.prototype.toLowerCase, an approximation: APFS and NTFS use their own case
 * tables (e.g. NTFS folds final sigma, toLowerCase does not). Each group is sorted by code unit, groups
 * by their first member; only groups of two or more are returned.
 */
export function findCaseCollisions(paths: Iterable<string>): string[][] {
  // Most keys have one spelling: hold a bare string and grow to a Set only on a second spelling,
  // which keeps this affordable for a million entries.
  const byKey = new Map<string, string | Set<string>>();
  const add = (spelling: string): void => {
    const key = spelling.normalize("NFC").toLowerCase();
    const seen = byKey.get(key);
    if (seen === undefined) byKey.set(key, spelling);
    else if (typeof seen === "string") {
      if (seen !== spelling) byKey.set(key, new Set([seen, spelling]));
    } else seen.add(spelling);
  };
  for (const path of paths) {
    add(path);
    for (const dir of parentDirs(path)) add(dir);
  }
  const groups: string[][] = [];
  for (const seen of byKey.values()) if (typeof seen !== "string") groups.push([...seen].sort());
  return groups.sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0));
}
