import { parsePackageName } from "@dpkg/core";
import { join } from "node:path";
import { readJsonFile, writeJsonFile } from "./json-file.js";
import { checkDisjointDests, fieldError, isPlainObject, readPackageFields, type PackageFields } from "./package-fields.js";

/**
 * dpkg.json: what the workspace wants, written by people and by `dpkg install NAME`.
 *
 *   { "packages": { "ns/name": { "ref": "latest", "dest": "data/ns/name", "paths"?: [...], "where"?: "...", "link"?: "copy" } } }
 *
 * Other top-level keys are kept as they are, so people can annotate the file.
 */
export const WANTED_FILE = "dpkg.json";

export type WantedPackage = PackageFields;

export interface Wanted {
  packages: Record<string, WantedPackage>;
  /** Top-level keys dpkg does not use, written back unchanged. */
  extra?: Record<string, unknown>;
}

/** The workspace's dpkg.json, validated; null when there is none. */
export async function readWanted(root: string): Promise<Wanted | null> {
  const file = join(root, WANTED_FILE);
  const value = await readJsonFile(file);
  if (value === null) return null;
  return parseWanted(value, file);
}

export function parseWanted(value: unknown, file: string = WANTED_FILE): Wanted {
  if (!isPlainObject(value)) throw fieldError({ file, pointer: "the top level" }, 'must be an object like {"packages": {}}');
  const { packages = {}, ...extra } = value;
  if (!isPlainObject(packages)) throw fieldError({ file, pointer: "packages" }, 'must be an object keyed by package name, e.g. {"ns/name": {...}}');
  const out: Record<string, WantedPackage> = {};
  for (const [name, entry] of Object.entries(packages)) {
    const ctx = { file, pointer: `packages[${JSON.stringify(name)}]` };
    try {
      parsePackageName(name);
    } catch (err) {
      throw fieldError(ctx, `is not a package name: ${(err as Error).message}`, "E_BAD_NAME", err);
    }
    out[name] = readPackageFields(name, entry, ctx);
  }
  checkDisjointDests(out, file);
  return Object.keys(extra).length === 0 ? { packages: out } : { packages: out, extra };
}

/** Writes dpkg.json atomically, keys sorted; unchanged content leaves the file untouched. */
export async function writeWanted(root: string, wanted: Wanted): Promise<void> {
  await writeJsonFile(join(root, WANTED_FILE), { ...wanted.extra, packages: wanted.packages });
}
