import { DpkgError, formatPackageName, type Digest, type PackageName } from "@dpkg/core";
import type { ContentCache } from "../cache/content-cache.js";
import { manifestEntries } from "../fetch-blobs.js";
import type { MaterializeEntry } from "../materialize.js";
import type { RegistryClient } from "../registry-client.js";
import { hasSelection, selectEntries, type Selection } from "../select.js";
import type { InstallState } from "./install-state.js";

export interface SelectionSource {
  client: RegistryClient | null;
  cache: ContentCache;
  pkg: PackageName;
  digest: Digest;
  selection: Selection;
  /** The package's install state: when it holds this very selection complete, it is the answer. */
  state: InstallState | null;
}

/**
 * The entries an install materializes, from the cheapest source that knows them:
 *  1. the install state, when it recorded a complete install of the same digest and selection
 *     (a no-op reinstall then reads no manifest and touches no network);
 *  2. the cached manifest, filtered in memory (select.ts), which gives what the server would;
 *  3. online with --path or --where: the registry, which evaluates the selection on its index,
 *     so a huge package yields only the selected lines;
 *  4. online without a selection: the whole manifest, fetched into the cache (verified).
 * Offline, anything past 2 is E_OFFLINE.
 */
export async function entriesToInstall(source: SelectionSource): Promise<MaterializeEntry[]> {
  const { client, cache, pkg, digest, selection, state } = source;
  if (state !== null && state.complete && state.digest === digest && sameSelection(state, selection)) {
    return [...state.files].map(([path, f]) => ({ path, digest: f.digest, size: f.size }));
  }
  const cached = await cache.openManifest(digest);
  if (cached !== null) return collect(selectEntries(cached.entries, selection));
  if (client === null) {
    throw new DpkgError("E_OFFLINE", `the manifest of ${formatPackageName(pkg)}@${digest} is not in the cache, and fetching it needs the registry`, {
      package: formatPackageName(pkg),
      digest,
    });
  }
  if (hasSelection(selection)) {
    return collect(client.entries(pkg, digest, { where: selection.where, paths: selection.paths === undefined ? undefined : [...selection.paths] }));
  }
  return manifestEntries(client, cache, pkg, digest, minimal);
}

function sameSelection(state: InstallState, selection: Selection): boolean {
  return (state.paths ?? []).join("\0") === (selection.paths ?? []).join("\0") && (state.where ?? "") === (selection.where ?? "");
}

async function collect(entries: AsyncIterable<MaterializeEntry>): Promise<MaterializeEntry[]> {
  const out: MaterializeEntry[] = [];
  for await (const e of entries) out.push(minimal(e));
  return out;
}

/** Only what materializing needs: a million entries' metadata would be dead weight here. */
function minimal(e: MaterializeEntry): MaterializeEntry {
  return { path: e.path, digest: e.digest, size: e.size };
}
