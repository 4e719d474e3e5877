/**
 * The bucket layout: the only module that builds or parses object keys. Keys are relative to the store's
 * root (a bucket prefix or a folder), and the bucket alone is enough to rebuild the registry's index.
 *
 *   blobs/<hex[0:2]>/<hex>                                    a large blob, stored whole
 *   packs/<hex[0:2]>/<hex>.pack                               small blobs back to back; <hex> = the pack's digest
 *   packs/<hex[0:2]>/<hex>.idx                                the pack's index, one JSON line per blob
 *   manifests/<hex>.jsonl                                     canonical manifests; <hex> = the top hash
 *   refs/<ns>/<name>/revisions/<key-time>_<hex>.json          revision records; <hex> = the manifest's digest
 *   refs/<ns>/<name>/tags/<tag>.json                          current tag targets (the only mutable keys)
 *
 * <hex> is the 64 lowercase hex digits of a `blake3:` digest; the two-digit shard keeps folders of the
 * filesystem store small. <key-time> is the commit time in UTC as `toISOString()` writes it, with ':'
 * replaced by '-' (`2026-11-22T02:05:00.123Z` → `2026-11-22T02-05-00.123Z`): ':' is not allowed in Windows
 * file names and needs escaping in URLs, and the fixed width keeps lexicographic order chronological,
 * so listing a package's revisions yields them oldest first on S3.
 */
import {
  DpkgError,
  digestFromHex,
  digestHex,
  isDigest,
  isValidPackagePart,
  isValidTag,
  type Digest,
  type PackageName,
} from "@dpkg/core";

export type ParsedKey =
  | { kind: "blob"; digest: Digest }
  | { kind: "pack"; digest: Digest }
  | { kind: "pack-index"; digest: Digest }
  | { kind: "manifest"; digest: Digest }
  | { kind: "revision"; package: PackageName; time: string; digest: Digest }
  | { kind: "tag"; package: PackageName; tag: string }
  | { kind: "unknown"; key: string };

export const BLOBS_PREFIX = "blobs/";
export const PACKS_PREFIX = "packs/";
export const MANIFESTS_PREFIX = "manifests/";
export const REFS_PREFIX = "refs/";

const KEY_TIME_RE = /^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2}\.\d{3})Z$/;

function shard(digest: Digest): string {
  const hex = digestHex(checkedDigest(digest));
  return `${hex.slice(0, 2)}/${hex}`;
}

function checkedDigest(digest: Digest): Digest {
  if (!isDigest(digest)) throw new DpkgError("E_BAD_DIGEST", `${JSON.stringify(digest)} is not a digest`, { digest });
  return digest;
}

export function blobKey(digest: Digest): string {
  return `${BLOBS_PREFIX}${shard(digest)}`;
}

export function packKey(packDigest: Digest): string {
  return `${PACKS_PREFIX}${shard(packDigest)}.pack`;
}

export function packIndexKey(packDigest: Digest): string {
  return `${PACKS_PREFIX}${shard(packDigest)}.idx`;
}

export function manifestKey(digest: Digest): string {
  return `${MANIFESTS_PREFIX}${digestHex(checkedDigest(digest))}.jsonl`;
}

/** `refs/<ns>/<name>/`: everything stored about one package. */
export function packageRefsPrefix(pkg: PackageName): string {
  // Checked again here so that no key is ever built from an unchecked name.
  if (!isValidPackagePart(pkg.namespace) || !isValidPackagePart(pkg.name)) {
    const text = `${pkg.namespace}/${pkg.name}`;
    throw new DpkgError("E_BAD_NAME", `package name ${JSON.stringify(text)} is invalid`, { name: text });
  }
  return `${REFS_PREFIX}${pkg.namespace}/${pkg.name}/`;
}

export function revisionsPrefix(pkg: PackageName): string {
  return `${packageRefsPrefix(pkg)}revisions/`;
}

export function tagsPrefix(pkg: PackageName): string {
  return `${packageRefsPrefix(pkg)}tags/`;
}

/** `time` is a Date or an ISO 8601 string; it is normalised to UTC with milliseconds. */
export function revisionKey(pkg: PackageName, time: Date | string, digest: Digest): string {
  return `${revisionsPrefix(pkg)}${toKeyTime(time)}_${digestHex(checkedDigest(digest))}.json`;
}

export function tagKey(pkg: PackageName, tag: string): string {
  if (!isValidTag(tag)) throw new DpkgError("E_BAD_TAG", `tag ${JSON.stringify(tag)} is invalid`, { tag });
  return `${tagsPrefix(pkg)}${tag}.json`;
}

/** `2026-11-22T02:05:00.123Z` → `2026-11-22T02-05-00.123Z`. */
export function toKeyTime(time: Date | string): string {
  const date = typeof time === "string" ? new Date(time) : time;
  const ms = date.getTime();
  // Years outside 0000-9999 would print as ±YYYYYY and break the fixed width that keeps keys sorted.
  if (Number.isNaN(ms) || date.getUTCFullYear() < 0 || date.getUTCFullYear() > 9999) {
    throw new DpkgError("E_BAD_REQUEST", `revision time ${JSON.stringify(String(time))} is not a valid date`, {
      time: String(time),
    });
  }
  return date.toISOString().replaceAll(":", "-");
}

/** The inverse of `toKeyTime`: the ISO 8601 string, or null if `keyTime` is not one it produced. */
export function fromKeyTime(keyTime: string): string | null {
  const m = KEY_TIME_RE.exec(keyTime);
  if (m === null) return null;
  const iso = `${m[1]}T${m[2]}:${m[3]}:${m[4]}Z`;
  const date = new Date(iso);
  return !Number.isNaN(date.getTime()) && date.toISOString() === iso ? iso : null;
}

const HEX = "[0-9a-f]{64}";
const SHARDED = `([0-9a-f]{2})/(${HEX})`;
const SEGMENT = "[^/]+";
const PATTERNS = {
  blob: new RegExp(`^blobs/${SHARDED}$`),
  pack: new RegExp(`^packs/${SHARDED}\\.pack$`),
  packIndex: new RegExp(`^packs/${SHARDED}\\.idx$`),
  manifest: new RegExp(`^manifests/(${HEX})\\.jsonl$`),
  revision: new RegExp(`^refs/(${SEGMENT})/(${SEGMENT})/revisions/([^/_]+)_(${HEX})\\.json$`),
  tag: new RegExp(`^refs/(${SEGMENT})/(${SEGMENT})/tags/(${SEGMENT})\\.json$`),
};

/** Classifies a key for reindex; anything the builders above would not produce is `unknown`. */
export function parseKey(key: string): ParsedKey {
  const unknown: ParsedKey = { kind: "unknown", key };
  const sharded = (re: RegExp): Digest | null => {
    const m = re.exec(key);
    return m?.[1] !== undefined && m[2] !== undefined && m[2].startsWith(m[1]) ? digestFromHex(m[2]) : null;
  };

  const blob = sharded(PATTERNS.blob);
  if (blob) return { kind: "blob", digest: blob };
  const pack = sharded(PATTERNS.pack);
  if (pack) return { kind: "pack", digest: pack };
  const packIndex = sharded(PATTERNS.packIndex);
  if (packIndex) return { kind: "pack-index", digest: packIndex };

  const manifest = PATTERNS.manifest.exec(key);
  if (manifest?.[1] !== undefined) return { kind: "manifest", digest: digestFromHex(manifest[1]) };

  const revision = PATTERNS.revision.exec(key);
  if (revision) {
    const [, namespace, name, keyTime, hex] = revision;
    const time = fromKeyTime(keyTime ?? "");
    const pkg = packageOf(namespace, name);
    if (pkg === null || hex === undefined || time === null) return unknown;
    return { kind: "revision", package: pkg, time, digest: digestFromHex(hex) };
  }

  const tag = PATTERNS.tag.exec(key);
  if (tag) {
    const [, namespace, name, tagName] = tag;
    const pkg = packageOf(namespace, name);
    if (pkg === null || tagName === undefined || !isValidTag(tagName)) return unknown;
    return { kind: "tag", package: pkg, tag: tagName };
  }
  return unknown;
}

function packageOf(namespace: string | undefined, name: string | undefined): PackageName | null {
  if (namespace === undefined || name === undefined) return null;
  return isValidPackagePart(namespace) && isValidPackagePart(name) ? { namespace, name } : null;
}
