import { DpkgError, isDigest, parsePackageName, type Digest } from "@dpkg/core";
import type { RegistryClient } from "../registry-client.js";
import type { LockedPackage } from "./lockfile.js";

/**
 * The digest a wanted ref points at. Online the registry answers (a full digest is checked to be a
 * revision of the package). Offline only what needs no answer works: a full digest, or the digest
 * the lock already pins for the same ref.
 */
export async function resolveRef(client: RegistryClient | null, name: string, ref: string, locked?: LockedPackage): Promise<Digest> {
  if (client !== null) return client.resolve(parsePackageName(name), ref);
  if (isDigest(ref)) return ref;
  if (locked !== undefined && locked.ref === ref) return locked.digest;
  throw new DpkgError("E_OFFLINE", `${name}@${ref} is not pinned in dpkg.lock, and resolving it needs the registry`, { package: name, ref }, {
    hint: "Go online (unset DPKG_OFFLINE), or install a full digest: ns/name@blake3:<64 hex>.",
  });
}
