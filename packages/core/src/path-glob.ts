import picomatch from "picomatch";
import { DpkgError } from "./errors.js";

/**
 * `--path GLOB` selection. Globs follow picomatch: `*` and `?` within a segment, `**` across
 * segments, `[...]` classes, `{a,b}` alternatives; dot files are matched like any other.
 * Like git pathspecs, a glob that matches a directory selects everything below it, so
 * `--path images` and `--path 'images/2026-*'` select whole folders.
 */
export interface PathMatcher {
  (path: string): boolean;
  /**
   * Literal leading directories of the globs ('' when a glob starts with a wildcard): every match
   * starts with one of them, so an index can narrow its scan before testing each path.
   */
  readonly prefixes: readonly string[];
}

const MAX_GLOBS = 256;
const MAX_GLOB_LENGTH = 4096;

export function compilePathGlobs(globs: readonly string[]): PathMatcher {
  if (globs.length > MAX_GLOBS) {
    throw new DpkgError("E_BAD_PATH", `at most ${MAX_GLOBS} path globs can be given, got ${globs.length}`);
  }
  const tests = globs.map((glob) => {
    checkGlob(glob);
    return picomatch(stripSlashes(glob), { dot: true, strictSlashes: false });
  });
  const prefixes = globs.map((glob) => picomatch.scan(stripSlashes(glob)).base);
  const matcher = (path: string): boolean => {
    for (const test of tests) {
      if (test(path)) return true;
      // A glob that names a directory selects its contents: test every parent directory too.
      for (let i = path.indexOf("/"); i !== -1; i = path.indexOf("/", i + 1)) {
        if (test(path.slice(0, i))) return true;
      }
    }
    return false;
  };
  return Object.assign(matcher, { prefixes });
}

function stripSlashes(glob: string): string {
  return glob.replace(/\/+$/, "");
}

function checkGlob(glob: string): void {
  const problem =
    glob.length === 0 || stripSlashes(glob).length === 0
      ? "is empty"
      : glob.length > MAX_GLOB_LENGTH
        ? `is longer than ${MAX_GLOB_LENGTH} characters`
        : glob.startsWith("/")
          ? "starts with '/' (entry paths are relative to the package root)"
          : glob.startsWith("!")
            ? "is negated ('!'), which is not supported: select what you want instead"
            : hasControlCharacter(glob)
              ? "contains a control character"
              : null;
  if (problem !== null) {
    throw new DpkgError("E_BAD_PATH", `path glob ${JSON.stringify(glob)} ${problem}`, { glob });
  }
}

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}
