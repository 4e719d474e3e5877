/**
 * The JSON documents the registry writes to the bucket next to manifests, blobs and packs, so that
 * the bucket alone is enough to rebuild the index (reindex). Each is canonical JSON with a format
 * tag, decoded strictly: a record that does not parse is reported, never half-imported.
 */
import {
  canonicalJson,
  DpkgError,
  isDigest,
  isValidPackagePart,
  isValidTag,
  type Digest,
  type PackageName,
} from "@dpkg/core";
import { toApiRevision } from "./http/to-api.js";
import type { RevisionRecord, TagMoveRecord } from "./metadata/metadata-store.js";

export const REVISION_FORMAT = "dpkg.revision/1";
export const TAG_FORMAT = "dpkg.tag/1";

export function encodeRevisionRecord(r: RevisionRecord): Uint8Array {
  return new TextEncoder().encode(
    canonicalJson({ format: REVISION_FORMAT, namespace: r.namespace, name: r.name, ...toApiRevision(r) }) + "\n",
  );
}

export function decodeRevisionRecord(text: string, where: string): RevisionRecord {
  const v = parseObject(text, where);
  const ok =
    v.format === REVISION_FORMAT &&
    typeof v.namespace === "string" &&
    isValidPackagePart(v.namespace) &&
    typeof v.name === "string" &&
    isValidPackagePart(v.name) &&
    isDigest(v.digest) &&
    (v.parent === null || isDigest(v.parent)) &&
    typeof v.message === "string" &&
    typeof v.author === "string" &&
    isIsoDate(v.createdAt) &&
    isCount(v.entryCount) &&
    isCount(v.totalSize);
  if (!ok) throw bad(where, "not a valid revision record");
  return {
    namespace: v.namespace as string,
    name: v.name as string,
    digest: v.digest as Digest,
    parent: v.parent as Digest | null,
    message: v.message as string,
    author: v.author as string,
    createdAt: new Date(v.createdAt as string),
    entryCount: v.entryCount as number,
    totalSize: v.totalSize as number,
  };
}

/** The current target of a tag; its history lives in the index. `to: null` never gets written: deleting a tag deletes its file. */
export function encodeTagRecord(pkg: PackageName, move: TagMoveRecord & { to: Digest }): Uint8Array {
  return new TextEncoder().encode(
    canonicalJson({
      format: TAG_FORMAT,
      namespace: pkg.namespace,
      name: pkg.name,
      tag: move.tag,
      target: move.to,
      by: move.by,
      at: move.at.toISOString(),
    }) + "\n",
  );
}

export function decodeTagRecord(text: string, where: string): { pkg: PackageName; move: TagMoveRecord } {
  const v = parseObject(text, where);
  const ok =
    v.format === TAG_FORMAT &&
    typeof v.namespace === "string" &&
    isValidPackagePart(v.namespace) &&
    typeof v.name === "string" &&
    isValidPackagePart(v.name) &&
    typeof v.tag === "string" &&
    isValidTag(v.tag) &&
    isDigest(v.target) &&
    typeof v.by === "string" &&
    isIsoDate(v.at);
  if (!ok) throw bad(where, "not a valid tag record");
  return {
    pkg: { namespace: v.namespace as string, name: v.name as string },
    move: { tag: v.tag as string, from: null, to: v.target as Digest, by: v.by as string, at: new Date(v.at as string) },
  };
}

function parseObject(text: string, where: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw bad(where, "not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw bad(where, "not a JSON object");
  return value as Record<string, unknown>;
}

function isIsoDate(v: unknown): boolean {
  return typeof v === "string" && !Number.isNaN(Date.parse(v));
}

function isCount(v: unknown): boolean {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function bad(where: string, problem: string): DpkgError {
  return new DpkgError("E_BAD_REQUEST", `${where}: ${problem}`, { where });
}
