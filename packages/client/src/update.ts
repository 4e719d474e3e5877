import { DpkgError, parsePackageName, type Digest } from "@dpkg/core";
import type { ContentCache } from "./cache/content-cache.js";
import type { FetchProgress } from "./fetch-blobs.js";
import type { InstallReport } from "./install.js";
import type { RegistryClient } from "./registry-client.js";
import { findWorkspaceRoot } from "./workspace/find-root.js";
import { installPackage, type InstallContext, type PackageReport } from "./workspace/install-package.js";
import { emptyLockfile, readLockfile, writeLockfile, type LockedPackage } from "./workspace/lockfile.js";
import { DEFAULT_LINK } from "./workspace/package-fields.js";
import { readWanted, WANTED_FILE } from "./workspace/wanted.js";
import { withWorkspaceLock } from "./workspace/workspace-lock.js";

export interface UpdateOptions {
  client: RegistryClient;
  cache: ContentCache;
  cwd: string;
  /** One package of dpkg.json; default all. */
  name?: string;
  concurrency?: number;
  onProgress?: (p: FetchProgress & { phase: "fetch" | "materialize" }) => void;
  /** Called once when another dpkg holds the workspace's lock and this one waits for it. */
  onWait?: (lockPath: string) => void;
}

export interface UpdateReport {
  /** Only the pins that moved. */
  changes: { name: string; from: Digest | null; to: Digest }[];
  install: InstallReport;
}

/**
 * `dpkg update [NAME]`: resolves the refs dpkg.json wants again (a tag may have moved), installs the
 * new pins and records them in dpkg.lock. Packages not named keep their pins untouched.
 */
export async function update(options: UpdateOptions): Promise<UpdateReport> {
  const root = await findWorkspaceRoot(options.cwd);
  return withWorkspaceLock(root, () => updateIn(root, options), options.onWait);
}

async function updateIn(root: string, options: UpdateOptions): Promise<UpdateReport> {
  const wanted = await readWanted(root);
  if (wanted === null) {
    throw new DpkgError("E_NOT_FOUND", `there is no ${WANTED_FILE} in ${root} or above: nothing to update`, { root }, {
      hint: "Install a package first: dpkg install ns/name",
    });
  }
  const names = options.name === undefined ? Object.keys(wanted.packages).sort() : [options.name];
  for (const name of names) {
    if (wanted.packages[name] === undefined) {
      throw new DpkgError("E_NOT_FOUND", `${name} is not in ${root}/${WANTED_FILE}`, { package: name }, { hint: `Install it first: dpkg install ${name}` });
    }
  }
  const lock = (await readLockfile(root)) ?? emptyLockfile(options.client.url);
  const changes: UpdateReport["changes"] = [];
  const pins: [string, LockedPackage][] = [];
  for (const name of names) {
    const fields = wanted.packages[name]!;
    const to = await options.client.resolve(parsePackageName(name), fields.ref);
    const from = lock.packages[name]?.digest ?? null;
    if (from !== to) changes.push({ name, from, to });
    pins.push([name, { ...fields, digest: to, link: fields.link ?? DEFAULT_LINK }]);
  }

  const ctx: InstallContext = {
    client: options.client,
    cache: options.cache,
    root,
    concurrency: options.concurrency ?? 16,
    onProgress: options.onProgress,
  };
  const packages: PackageReport[] = [];
  try {
    for (const [name, pin] of pins) {
      packages.push(await installPackage(ctx, name, pin));
      lock.packages[name] = pin;
      lock.registry = options.client.url;
    }
  } finally {
    // The pins of the packages installed before a failure are true of the workspace: keep them.
    await writeLockfile(root, lock);
  }
  return { changes, install: { packages, uninstalled: [] } };
}

