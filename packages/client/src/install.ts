import { DEFAULT_TAG, DpkgError, formatPackageName, parseRef, type Digest } from "@dpkg/core";
import { isAbsolute, relative, resolve, sep } from "node:path";
import type { ContentCache } from "./cache/content-cache.js";
import type { FetchProgress } from "./fetch-blobs.js";
import type { RegistryClient } from "./registry-client.js";
import { findWorkspaceRoot } from "./workspace/find-root.js";
import { installPackage, removeInstalledFiles, type InstallContext, type PackageReport } from "./workspace/install-package.js";
import { listInstallStates, readInstallState } from "./workspace/install-state.js";
import { emptyLockfile, readLockfile, writeLockfile, type Lockfile, type LockedPackage } from "./workspace/lockfile.js";
import {
  checkDisjointDests,
  compactFields,
  DEFAULT_LINK,
  normalizeDest,
  normalizeLink,
  normalizePaths,
  normalizeWhere,
  type LinkMode,
  type PackageFields,
} from "./workspace/package-fields.js";
import { fieldsOf, reconcile } from "./workspace/reconcile.js";
import { resolveRef } from "./workspace/resolve-pin.js";
import { readWanted, writeWanted, type Wanted } from "./workspace/wanted.js";
import { withWorkspaceLock } from "./workspace/workspace-lock.js";

export type { PackageReport } from "./workspace/install-package.js";

export interface InstallOptions {
  /** null when offline: everything must come from the cache. */
  client: RegistryClient | null;
  cache: ContentCache;
  cwd: string;
  /** NAME[@REF]; absent = reproduce dpkg.lock. */
  spec?: string;
  /** Relative to `cwd`; must lie inside the workspace. Default data/<ns>/<name> under the workspace root. */
  dest?: string;
  paths?: string[];
  where?: string;
  link?: LinkMode;
  lazy?: boolean;
  frozen?: boolean;
  concurrency?: number;
  onProgress?: (p: FetchProgress & { phase: "fetch" | "materialize" }) => void;
  /** Called once when another dpkg holds the workspace's lock and this one waits for it. */
  onWait?: (lockPath: string) => void;
}

export interface InstallReport {
  packages: PackageReport[];
  /** Packages dropped from dpkg.json whose files were taken out of the workspace. */
  uninstalled: { name: string; dest: string; removed: number; keptModified: string[] }[];
}

const DEFAULT_CONCURRENCY = 16;

/**
 * `dpkg install NAME[@REF]`: resolve, record the want in dpkg.json and the pin in dpkg.lock, make
 * the destination hold exactly the selection. Without a name: install what dpkg.lock pins (only
 * packages whose dpkg.json entry changed are resolved again; `frozen` refuses that instead).
 */
export async function install(options: InstallOptions): Promise<InstallReport> {
  const root = await findWorkspaceRoot(options.cwd);
  return withWorkspaceLock(root, () => installIn(root, options), options.onWait);
}

async function installIn(root: string, options: InstallOptions): Promise<InstallReport> {
  const ctx: InstallContext = {
    client: options.client,
    cache: options.cache,
    root,
    concurrency: options.concurrency ?? DEFAULT_CONCURRENCY,
    onProgress: options.onProgress,
  };
  const wanted = await readWanted(root);
  const lock = await readLockfile(root);
  if (options.spec === undefined) return installFromLock(ctx, options, wanted, lock);
  if (options.frozen === true) {
    throw new DpkgError("E_USAGE", "--frozen installs exactly what dpkg.lock pins and takes no package name", { spec: options.spec });
  }

  const ref = parseRef(options.spec);
  const name = formatPackageName(ref);
  const existing = wanted?.packages[name];
  const refText = !ref.explicit ? DEFAULT_TAG : ref.selector.kind === "tag" ? ref.selector.tag : `blake3:${ref.selector.prefix}`;
  // The command line says what to select; where and how files land is kept unless given again.
  const fields = compactFields({
    ref: refText,
    dest: options.dest !== undefined ? destOption(root, options.cwd, options.dest) : (existing?.dest ?? `data/${ref.namespace}/${ref.name}`),
    paths: normalizePaths(options.paths, { file: "the command line", pointer: "--path" }),
    where: normalizeWhere(options.where, { file: "the command line", pointer: "--where" }),
    link: options.link !== undefined ? normalizeLink(options.link, { file: "the command line", pointer: "--link" }) : existing?.link,
    lazy: options.lazy,
  });
  // Without a dpkg.json, the lock's packages are what is wanted: adding one must not drop the others.
  const base = wanted ?? { packages: Object.fromEntries(Object.entries(lock?.packages ?? {}).map(([n, p]) => [n, fieldsOf(p)])) };
  const nextWanted: Wanted = { ...base, packages: { ...base.packages, [name]: fields } };
  checkDisjointDests(nextWanted.packages, "dpkg.json");

  const digest = await resolveRef(ctx.client, name, refText, lock?.packages[name]);
  const pin: LockedPackage = { ...fields, digest, link: fields.link ?? DEFAULT_LINK };
  const report = await installPackage(ctx, name, pin);
  await writeWanted(root, nextWanted);
  const nextLock: Lockfile = lock ?? emptyLockfile(options.client?.url ?? "");
  if (options.client !== null) nextLock.registry = options.client.url;
  nextLock.packages[name] = pin;
  await writeLockfile(root, nextLock);
  return { packages: [report], uninstalled: [] };
}

async function installFromLock(ctx: InstallContext, options: InstallOptions, wanted: Wanted | null, lock: Lockfile | null): Promise<InstallReport> {
  const stray = (["dest", "paths", "where", "link"] as const).filter((k) => options[k] !== undefined);
  if (stray.length > 0) {
    throw new DpkgError("E_USAGE", `--${stray[0]} applies to one package: give its name (dpkg install ns/name --${stray[0]} ...)`);
  }
  const frozen = options.frozen === true;
  const pins: Record<string, LockedPackage> = {};
  let resolved = false;
  for (const item of reconcile(wanted, lock, frozen)) {
    if (item.pin !== undefined) {
      pins[item.name] = item.pin;
      continue;
    }
    const digest: Digest = await resolveRef(ctx.client, item.name, item.fields.ref, item.locked);
    pins[item.name] = { ...item.fields, digest, link: item.fields.link ?? DEFAULT_LINK };
    resolved = true;
  }

  const uninstalled: InstallReport["uninstalled"] = [];
  for (const name of await listInstallStates(ctx.root)) {
    if (pins[name] !== undefined) continue;
    const state = await readInstallState(ctx.root, name);
    if (state === null) continue;
    uninstalled.push({ name, dest: state.dest, ...(await removeInstalledFiles(ctx, state)) });
  }
  const packages: PackageReport[] = [];
  for (const [name, pin] of Object.entries(pins)) {
    // --lazy without a name makes this run lazy; it does not rewrite the pins.
    packages.push(await installPackage(ctx, name, options.lazy === true ? { ...pin, lazy: true } : pin));
  }

  if (!frozen) {
    const registry = resolved && ctx.client !== null ? ctx.client.url : (lock?.registry ?? ctx.client?.url ?? "");
    if (lock !== null || Object.keys(pins).length > 0) await writeLockfile(ctx.root, { ...emptyLockfile(registry), packages: pins });
    if (wanted === null && Object.keys(pins).length > 0) {
      const packagesWanted: Record<string, PackageFields> = {};
      for (const [name, pin] of Object.entries(pins)) packagesWanted[name] = fieldsOf(pin);
      await writeWanted(ctx.root, { packages: packagesWanted });
    }
  }
  return { packages, uninstalled };
}

/** `--dest` is relative to where the command runs, and must name a folder inside the workspace. */
function destOption(root: string, cwd: string, dest: string): string {
  const rel = relative(root, resolve(cwd, dest));
  if (rel === "" || rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new DpkgError("E_USAGE", `--dest ${JSON.stringify(dest)} must be a folder inside the workspace ${root}, not the workspace itself or outside it`, {
      dest,
      root,
    });
  }
  return normalizeDest(rel.split(sep).join("/"), { file: "the command line", pointer: "--dest" });
}
