import type { api, Digest } from "@dpkg/core";
import type { BlobLocationRecord } from "../metadata/metadata-store.js";

/** Merged ranges never exceed this, so one slow request never carries a whole pack. */
export const MAX_GROUP_BYTES = 64 * 1024 * 1024;

export interface RangeGroup {
  key: string;
  start: number;
  end: number;
  blobs: api.LocationGroup["blobs"];
}

/**
 * Groups blob locations into few ranged reads: blobs that sit back to back in one object merge
 * into one range. Only exactly adjacent blobs merge; a gap could hold bytes of a blob the caller
 * may not read, and a signed range must never cover those.
 */
export function groupLocations(locations: BlobLocationRecord[]): RangeGroup[] {
  // One location per digest is enough; prefer the one in the same object as its neighbours.
  const unique = new Map<Digest, BlobLocationRecord>();
  for (const l of locations) if (!unique.has(l.digest)) unique.set(l.digest, l);
  const sorted = [...unique.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.start - b.start));
  const groups: RangeGroup[] = [];
  for (const l of sorted) {
    const last = groups.at(-1);
    if (last !== undefined && last.key === l.key && last.end === l.start && l.end - last.start <= MAX_GROUP_BYTES) {
      last.blobs.push({ digest: l.digest, size: l.size, offset: l.start - last.start });
      last.end = l.end;
    } else {
      groups.push({ key: l.key, start: l.start, end: l.end, blobs: [{ digest: l.digest, size: l.size, offset: 0 }] });
    }
  }
  return groups;
}
