import { DpkgError, type Digest, type PackageName } from "@dpkg/core";
import type { ByteSource, ContentCache } from "../cache/content-cache.js";
import type { RegistryClient } from "../registry-client.js";
import type { Limiter } from "./limiter.js";

/** api.LocationGroup with its digests typed (the registry's schema checked their form). */
export interface LocatedBlob {
  digest: Digest;
  size: number;
  /** Relative to the group's start. */
  offset: number;
}
export interface LocatedGroup {
  url: string;
  start: number;
  end: number;
  /** The registry's own URL, which serves any sub-range; a store's presigned pack URL may sign its exact range. */
  viaRegistry: boolean;
  blobs: LocatedBlob[];
}

/** What the readers of one fetchBlobs call share. */
export interface FetchContext {
  client: RegistryClient;
  cache: ContentCache;
  pkg: PackageName;
  limit: Limiter;
  /** Attempts per read before a transient failure is final. */
  attempts: number;
  /** Size of the parallel ranges a large blob is read in. */
  rangeBytes: number;
  /** The (first) entry path of a digest. */
  pathOf(digest: Digest): string | undefined;
  /** `ns/name: path` of a digest, for messages. */
  what(digest: Digest): string;
  /** Verifies and stores one blob (E_INTEGRITY names its entry), then counts it as fetched. */
  put(blob: LocatedBlob, source: ByteSource): Promise<void>;
  /** Counts bytes received over the network (large blobs, per range) and finished blobs. */
  fetched(bytes: number, blobs: number): void;
  /** Counts bytes an earlier, interrupted run already downloaded (negative: takes back such a count). */
  resumed(bytes: number): void;
  /** Fresh signed locations (E_NOT_FOUND when the registry holds no bytes for some). */
  locate(digests: Digest[]): Promise<LocatedGroup[]>;
}

/** Adds the entry to a verification error, which otherwise names only bytes and digests. */
export function withEntry(err: unknown, pkg: PackageName, digest: Digest, path: string | undefined): unknown {
  if (!(err instanceof DpkgError) || (err.code !== "E_INTEGRITY" && err.code !== "E_SIZE_MISMATCH")) return err;
  return new DpkgError(
    err.code,
    err.message,
    { ...err.details, package: `${pkg.namespace}/${pkg.name}`, digest, ...(path === undefined ? {} : { path }) },
    { cause: err, hint: err.hint },
  );
}
