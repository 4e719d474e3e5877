import { parseRef, type Digest, type PackageName, type PackageRef } from "@dpkg/core";
import type { RegistryClient } from "../registry-client.js";

export interface ResolvedRef {
  pkg: PackageName;
  /** `namespace/name` */
  name: string;
  ref: PackageRef;
  /** What the ref says after the '@': a tag or `blake3:HEX` (a prefix as written). */
  selector: string;
  digest: Digest;
}

/** The text after '@' that the registry's resolve route takes. */
export function selectorText(ref: PackageRef): string {
  return ref.selector.kind === "tag" ? ref.selector.tag : `blake3:${ref.selector.prefix}`;
}

/** `ns/name[@REF]` → the full digest of the revision it names today (tags move; digests do not). */
export async function resolveRef(client: RegistryClient, text: string | PackageRef): Promise<ResolvedRef> {
  const ref = typeof text === "string" ? parseRef(text) : text;
  const pkg = { namespace: ref.namespace, name: ref.name };
  const selector = selectorText(ref);
  const digest = await client.resolve(pkg, selector);
  return { pkg, name: `${pkg.namespace}/${pkg.name}`, ref, selector, digest };
}
