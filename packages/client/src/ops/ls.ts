import { compilePathGlobs, parseQuery, type Digest, type ManifestEntry } from "@dpkg/core";
import type { RegistryClient } from "../registry-client.js";
import { resolveRef } from "./resolve-ref.js";

export interface ListEntriesOptions {
  /** A `--where` query, evaluated by the registry against its index. */
  where?: string;
  /** `--path` globs; a glob naming a folder selects everything below it. */
  paths?: string[];
}

export interface EntryListing {
  name: string;
  digest: Digest;
  /** Entries in path order, streamed page by page from the registry. Iterate once. */
  entries: AsyncIterable<ManifestEntry>;
  /** Counts of what `entries` yielded; complete once it has been read to the end. */
  totals(): { entries: number; bytes: number };
}

/**
 * The entries of a revision that match a selection. The query and globs are checked here first, so a
 * typo is reported with its column before any request is made.
 */
export async function listEntries(
  client: RegistryClient,
  ref: string,
  options: ListEntriesOptions = {},
): Promise<EntryListing> {
  if (options.where !== undefined) parseQuery(options.where);
  if (options.paths !== undefined && options.paths.length > 0) compilePathGlobs(options.paths);
  const resolved = await resolveRef(client, ref);
  let count = 0;
  let bytes = 0;
  async function* counted(): AsyncGenerator<ManifestEntry> {
    const selection = {
      where: options.where,
      paths: options.paths !== undefined && options.paths.length > 0 ? options.paths : undefined,
    };
    for await (const entry of client.entries(resolved.pkg, resolved.digest, selection)) {
      count += 1;
      bytes += entry.size;
      yield entry;
    }
  }
  return {
    name: resolved.name,
    digest: resolved.digest,
    entries: counted(),
    totals: () => ({ entries: count, bytes }),
  };
}
