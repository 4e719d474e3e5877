import { parsePackageName, type api, type Digest, type JsonObject } from "@dpkg/core";
import type { RegistryClient } from "../registry-client.js";

export interface LogRevision extends api.Revision {
  /** Tags that point at this revision now. */
  tags: string[];
}

export interface PackageLog {
  name: string;
  meta: JsonObject;
  tags: Record<string, Digest>;
  /** Newest first. */
  revisions: LogRevision[];
}

/** A package's revisions, newest first, each with the tags that currently point at it. */
export async function packageLog(
  client: RegistryClient,
  name: string,
  options: { limit?: number; before?: string } = {},
): Promise<PackageLog> {
  const pkg = parsePackageName(name);
  const [info, revisions] = await Promise.all([client.packageInfo(pkg), client.log(pkg, options)]);
  const tagsOf = new Map<string, string[]>();
  for (const [tag, digest] of Object.entries(info.tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    tagsOf.set(digest, [...(tagsOf.get(digest) ?? []), tag]);
  }
  return {
    name: `${pkg.namespace}/${pkg.name}`,
    meta: info.meta as JsonObject,
    tags: info.tags as Record<string, Digest>,
    revisions: revisions.map((r) => ({ ...r, tags: tagsOf.get(r.digest) ?? [] })),
  };
}
