import type { api } from "@dpkg/core";
import type { RevisionRecord, TagMoveRecord } from "../metadata/metadata-store.js";

export function toApiRevision(r: RevisionRecord): api.Revision {
  return {
    digest: r.digest,
    parent: r.parent,
    message: r.message,
    author: r.author,
    createdAt: r.createdAt.toISOString(),
    entryCount: r.entryCount,
    totalSize: r.totalSize,
  };
}

export function toApiTagMove(m: TagMoveRecord): api.TagMove {
  return { tag: m.tag, from: m.from, to: m.to, by: m.by, at: m.at.toISOString() };
}
