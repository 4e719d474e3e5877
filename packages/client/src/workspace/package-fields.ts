import { compilePathGlobs, DpkgError, isDpkgError, parseQuery, parseRef, validatePath, type ErrorCode } from "@dpkg/core";

/**
 * The fields dpkg.json and dpkg.lock share for one package: what is wanted (ref) and how it is
 * selected and materialized. The selection is part of the pin: the same digest with another
 * --path or --where is another install.
 */
export type LinkMode = "copy" | "reflink" | "hardlink" | "symlink";
export const LINK_MODES: readonly LinkMode[] = ["copy", "reflink", "hardlink", "symlink"];
export const DEFAULT_LINK: LinkMode = "copy";

export interface PackageFields {
  /** "latest", a tag, or "blake3:<hex prefix>". */
  ref: string;
  /** Workspace-relative, '/'-separated folder the entries are materialized into. */
  dest: string;
  /** Path globs, sorted and unique; absent = every path. */
  paths?: string[];
  /** A --where query; absent = every entry. */
  where?: string;
  link?: LinkMode;
  /** Pinned, manifest cached, nothing materialized: code opens it and fetches on demand. */
  lazy?: boolean;
}

/** The workspace's private folder (install state); no dest may lie in it. */
export const STATE_DIR = ".dpkg";

/** Where a value came from, for messages: `dpkg.json: packages["a/b"].dest`. */
export interface FieldContext {
  file: string;
  pointer: string;
}

export function fieldError(ctx: FieldContext, problem: string, code: ErrorCode = "E_BAD_JSON", cause?: unknown): DpkgError {
  return new DpkgError(
    code,
    `${ctx.file}: ${ctx.pointer} ${problem}`,
    { file: ctx.file, field: ctx.pointer },
    { hint: `Fix ${ctx.pointer} in ${ctx.file}, or remove the package from it and install it again.`, cause },
  );
}

/** Re-throws a core validation error as one that names the file and field. */
function checked<T>(ctx: FieldContext, work: () => T): T {
  try {
    return work();
  } catch (err) {
    if (isDpkgError(err)) throw fieldError(ctx, `is invalid: ${err.message}`, err.code, err);
    throw err;
  }
}

export function normalizeRef(pkg: string, ref: unknown, ctx: FieldContext): string {
  if (typeof ref !== "string" || ref === "") throw fieldError(ctx, "must be a tag or 'blake3:<hex>', e.g. \"latest\"");
  checked(ctx, () => parseRef(`${pkg}@${ref}`));
  return ref;
}

/** A dest is a relative path inside the workspace, never the root itself and never in .dpkg/. */
export function normalizeDest(dest: unknown, ctx: FieldContext): string {
  if (typeof dest !== "string") throw fieldError(ctx, "must be a folder path relative to the workspace root");
  const clean = dest.replace(/\/+$/, "");
  checked(ctx, () => validatePath(clean, "dest"));
  if (clean === STATE_DIR || clean.startsWith(`${STATE_DIR}/`)) {
    throw fieldError(ctx, `must not lie in ${STATE_DIR}/, which holds dpkg's install state`, "E_BAD_PATH");
  }
  return clean;
}

export function normalizePaths(paths: unknown, ctx: FieldContext): string[] | undefined {
  if (paths === undefined || paths === null) return undefined;
  if (!Array.isArray(paths) || paths.some((p) => typeof p !== "string")) throw fieldError(ctx, "must be a list of path globs");
  const list = [...new Set(paths as string[])].sort();
  if (list.length === 0) return undefined;
  checked(ctx, () => compilePathGlobs(list));
  return list;
}

export function normalizeWhere(where: unknown, ctx: FieldContext): string | undefined {
  if (where === undefined || where === null) return undefined;
  if (typeof where !== "string") throw fieldError(ctx, "must be a query string");
  const text = where.trim();
  if (text === "") return undefined;
  checked(ctx, () => parseQuery(text));
  return text;
}

export function normalizeLink(link: unknown, ctx: FieldContext): LinkMode | undefined {
  if (link === undefined || link === null) return undefined;
  if (!LINK_MODES.includes(link as LinkMode)) {
    throw fieldError(ctx, `must be one of ${LINK_MODES.join(", ")}, got ${JSON.stringify(link)}`, "E_USAGE");
  }
  return link as LinkMode;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Validates one package's shared fields; `extra` names further keys the caller reads itself. */
export function readPackageFields(pkg: string, value: unknown, ctx: FieldContext, extra: readonly string[] = []): PackageFields {
  if (!isPlainObject(value)) throw fieldError(ctx, "must be an object with at least ref and dest");
  const known = new Set(["ref", "dest", "paths", "where", "link", "lazy", ...extra]);
  for (const key of Object.keys(value)) {
    if (!known.has(key)) throw fieldError({ ...ctx, pointer: `${ctx.pointer}.${key}` }, "is not a known field");
  }
  const at = (key: string): FieldContext => ({ ...ctx, pointer: `${ctx.pointer}.${key}` });
  if (value.lazy !== undefined && typeof value.lazy !== "boolean") throw fieldError(at("lazy"), "must be true or false");
  return compactFields({
    ref: normalizeRef(pkg, value.ref, at("ref")),
    dest: normalizeDest(value.dest, at("dest")),
    paths: normalizePaths(value.paths, at("paths")),
    where: normalizeWhere(value.where, at("where")),
    link: normalizeLink(value.link, at("link")),
    lazy: value.lazy === true ? true : undefined,
  });
}

/** Drops absent optional fields, so that objects compare and print the same whichever way they were built. */
export function compactFields(fields: PackageFields): PackageFields {
  const out: PackageFields = { ref: fields.ref, dest: fields.dest };
  if (fields.paths !== undefined && fields.paths.length > 0) out.paths = fields.paths;
  if (fields.where !== undefined) out.where = fields.where;
  if (fields.link !== undefined) out.link = fields.link;
  if (fields.lazy === true) out.lazy = true;
  return out;
}

/** The first field in which two packages' wants differ (a default link equals "copy"), or null. */
export function fieldsDiffer(a: PackageFields, b: PackageFields): keyof PackageFields | null {
  if (a.ref !== b.ref) return "ref";
  if (a.dest !== b.dest) return "dest";
  if ((a.paths ?? []).join("\0") !== (b.paths ?? []).join("\0")) return "paths";
  if (a.where !== b.where) return "where";
  if ((a.link ?? DEFAULT_LINK) !== (b.link ?? DEFAULT_LINK)) return "link";
  if ((a.lazy ?? false) !== (b.lazy ?? false)) return "lazy";
  return null;
}

/** Two packages may not share a folder: each owns its dest, and removing one must not touch the other. */
export function checkDisjointDests(packages: Record<string, PackageFields>, file: string): void {
  const byDest = Object.entries(packages).sort(([, a], [, b]) => (a.dest < b.dest ? -1 : a.dest > b.dest ? 1 : 0));
  for (let i = 1; i < byDest.length; i++) {
    const [outerName, outer] = byDest[i - 1]!;
    const [innerName, inner] = byDest[i]!;
    if (inner.dest === outer.dest || inner.dest.startsWith(`${outer.dest}/`)) {
      throw new DpkgError(
        "E_USAGE",
        `${file}: ${innerName} (dest ${JSON.stringify(inner.dest)}) and ${outerName} (dest ${JSON.stringify(outer.dest)}) would share a folder`,
        { file, packages: [outerName, innerName] },
        { hint: "Give each package its own --dest, neither inside the other." },
      );
    }
  }
}
