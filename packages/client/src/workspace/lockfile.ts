import { isDigest, parsePackageName, type Digest } from "@dpkg/core";
import { join } from "node:path";
import { readJsonFile, writeJsonFile } from "./json-file.js";
import { checkDisjointDests, DEFAULT_LINK, fieldError, isPlainObject, readPackageFields, type LinkMode, type PackageFields } from "./package-fields.js";

/**
 * dpkg.lock: everything needed to reproduce the workspace exactly, written only by dpkg.
 *
 *   { "lockfileVersion": 1, "registry": "<url>",
 *     "packages": { "ns/name": { "ref", "digest": "blake3:<64 hex>", "dest", "paths"?, "where"?, "link" } } }
 *
 * The selection (paths, where) and the link mode are part of the pin: reinstalling from the lock
 * gives the same files in the same form.
 */
export const LOCK_FILE = "dpkg.lock";
export const LOCKFILE_VERSION = 1;

export interface LockedPackage extends PackageFields {
  digest: Digest;
  link: LinkMode;
}

export interface Lockfile {
  lockfileVersion: typeof LOCKFILE_VERSION;
  /** The registry the pins were resolved against. */
  registry: string;
  packages: Record<string, LockedPackage>;
}

export function emptyLockfile(registry: string): Lockfile {
  return { lockfileVersion: LOCKFILE_VERSION, registry, packages: {} };
}

/** The workspace's dpkg.lock, validated; null when there is none. */
export async function readLockfile(root: string): Promise<Lockfile | null> {
  const file = join(root, LOCK_FILE);
  const value = await readJsonFile(file);
  if (value === null) return null;
  return parseLockfile(value, file);
}

export function parseLockfile(value: unknown, file: string = LOCK_FILE): Lockfile {
  if (!isPlainObject(value)) throw fieldError({ file, pointer: "the top level" }, "must be an object");
  for (const key of Object.keys(value)) {
    if (!["lockfileVersion", "registry", "packages"].includes(key)) {
      throw fieldError({ file, pointer: key }, "is not a known field");
    }
  }
  if (value.lockfileVersion !== LOCKFILE_VERSION) {
    throw fieldError(
      { file, pointer: "lockfileVersion" },
      `is ${JSON.stringify(value.lockfileVersion)}; this dpkg reads version ${LOCKFILE_VERSION} (a newer dpkg may have written it)`,
    );
  }
  if (typeof value.registry !== "string") throw fieldError({ file, pointer: "registry" }, "must be the registry URL");
  const packages = value.packages ?? {};
  if (!isPlainObject(packages)) throw fieldError({ file, pointer: "packages" }, "must be an object keyed by package name");
  const out: Record<string, LockedPackage> = {};
  for (const [name, entry] of Object.entries(packages)) {
    const ctx = { file, pointer: `packages[${JSON.stringify(name)}]` };
    try {
      parsePackageName(name);
    } catch (err) {
      throw fieldError(ctx, `is not a package name: ${(err as Error).message}`, "E_BAD_NAME", err);
    }
    const fields = readPackageFields(name, entry, ctx, ["digest"]);
    const digest = (entry as Record<string, unknown>).digest;
    if (!isDigest(digest)) {
      throw fieldError({ ...ctx, pointer: `${ctx.pointer}.digest` }, "must be a full digest: 'blake3:' and 64 lowercase hex digits", "E_BAD_DIGEST");
    }
    out[name] = { ...fields, digest, link: fields.link ?? DEFAULT_LINK };
  }
  checkDisjointDests(out, file);
  return { lockfileVersion: LOCKFILE_VERSION, registry: value.registry, packages: out };
}

/** Writes dpkg.lock atomically, keys sorted; unchanged content leaves the file untouched. */
export async function writeLockfile(root: string, lock: Lockfile): Promise<void> {
  await writeJsonFile(join(root, LOCK_FILE), lock);
}
