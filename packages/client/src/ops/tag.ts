import { parsePackageName, parseTag, type api } from "@dpkg/core";
import type { RegistryClient } from "../registry-client.js";
import { resolveRef } from "./resolve-ref.js";

export interface TagResult extends api.TagMove {
  name: string;
}

/** Points TAG at the revision REF names now (a tag, a digest or a digest prefix). */
export async function tagRevision(client: RegistryClient, ref: string, tag: string): Promise<TagResult> {
  parseTag(tag);
  const resolved = await resolveRef(client, ref);
  const move = await client.setTag(resolved.pkg, tag, resolved.digest);
  return { name: resolved.name, ...move };
}

/** Removes TAG from a package (`latest` cannot be removed; the registry says so). */
export async function deleteTag(client: RegistryClient, name: string, tag: string): Promise<TagResult> {
  const pkg = parsePackageName(name);
  parseTag(tag);
  const move = await client.deleteTag(pkg, tag);
  return { name: `${pkg.namespace}/${pkg.name}`, ...move };
}
