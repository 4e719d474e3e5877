/**
 * The scrub (`dpkg-registry verify`): re-hashes every stored byte against the digest that names it. Whole
 * blobs and manifests against their keys; packs in one pass each, every blob range against its index line
 * and the whole pack against the pack's own digest. Streaming: memory is one chunk at a time.
 */
import { createDigester, digestStream, type Digest, type Digester } from "@dpkg/core";
import type { BlobStore } from "../blob-store/blob-store.js";
import { BLOBS_PREFIX, MANIFESTS_PREFIX, packIndexKey, packKey, parseKey } from "../blob-store/layout.js";
import type { MetadataStore } from "../metadata/metadata-store.js";
import { listPacks, readPackIndex, type PackIndexEntry } from "../push/pack-index.js";

export interface VerifyOptions {
  blobs: BlobStore;
  /** With the index: also its own consistency check, and that every object it points into exists. */
  meta?: MetadataStore;
  /** Called as each problem is found (the report lists them all too). */
  onProblem?: (problem: VerifyProblem) => void;
}

export type VerifyProblemKind =
  | "mismatch" // bytes do not hash to their digest
  | "unreadable" // the object or its index could not be read or decoded
  | "orphan" // a pack without index, or an index without pack
  | "missing" // the metadata index points into an object the bucket lacks
  | "unknown-key" // an object no registry writes
  | "database"; // the metadata database's own check failed

export interface VerifyProblem {
  kind: VerifyProblemKind;
  key: string;
  message: string;
  /** For a blob inside a pack: its byte range there. */
  range?: { start: number; end: number };
  expected?: Digest;
  actual?: Digest;
}

export interface VerifyReport {
  blobs: number;
  packs: number;
  packedBlobs: number;
  manifests: number;
  /** Bytes hashed. */
  bytes: number;
  problems: VerifyProblem[];
}

export async function verify(options: VerifyOptions): Promise<VerifyReport> {
  const { blobs, meta } = options;
  const report: VerifyReport = { blobs: 0, packs: 0, packedBlobs: 0, manifests: 0, bytes: 0, problems: [] };
  const found = (p: VerifyProblem): void => {
    report.problems.push(p);
    options.onProblem?.(p);
  };
  const listed = new Set<string>();

  for (const prefix of [BLOBS_PREFIX, MANIFESTS_PREFIX]) {
    for await (const { key } of blobs.list(prefix)) {
      listed.add(key);
      const parsed = parseKey(key);
      if (parsed.kind !== "blob" && parsed.kind !== "manifest") {
        found({ kind: "unknown-key", key, message: `${key}: not an object key this registry writes` });
        continue;
      }
      await checkObject(blobs, key, parsed.digest, report, found);
      if (parsed.kind === "blob") report.blobs += 1;
      else report.manifests += 1;
    }
  }

  const { packs, unknown } = await listPacks(blobs);
  for (const { key } of unknown)
    found({ kind: "unknown-key", key, message: `${key}: not an object key this registry writes` });
  for (const { digest, pack, index } of packs) {
    if (pack) listed.add(pack.key);
    if (pack === undefined || index === undefined) {
      const key = pack?.key ?? index?.key ?? packKey(digest);
      found({
        kind: "orphan",
        key,
        message: pack ? `${key}: pack without an index` : `${key}: index without its pack`,
      });
      continue;
    }
    let entries: PackIndexEntry[];
    try {
      entries = await readPackIndex(blobs, digest, pack.size);
    } catch (err) {
      found({ kind: "unreadable", key: packIndexKey(digest), message: messageOf(err) });
      continue;
    }
    await checkPack(blobs, digest, entries, report, found);
    report.packs += 1;
    report.packedBlobs += entries.length;
  }

  if (meta) {
    for (const key of await meta.liveObjectKeys()) {
      if (!listed.has(key))
        found({ kind: "missing", key, message: `${key}: the index has blobs in it, but the object is missing` });
    }
    for (const message of await meta.integrityCheck()) found({ kind: "database", key: "", message });
  }
  return report;
}

async function checkObject(
  blobs: BlobStore,
  key: string,
  expected: Digest,
  report: VerifyReport,
  found: (p: VerifyProblem) => void,
): Promise<void> {
  let actual: { digest: Digest; size: number };
  try {
    actual = await digestStream(await blobs.get(key));
  } catch (err) {
    found({ kind: "unreadable", key, message: messageOf(err) });
    return;
  }
  report.bytes += actual.size;
  if (actual.digest !== expected) {
    found({ kind: "mismatch", key, expected, actual: actual.digest, message: `${key}: hashes to ${actual.digest}` });
  }
}

/** One pass over the pack: the whole-pack hash and each blob's hash are fed from the same chunks. */
async function checkPack(
  blobs: BlobStore,
  packDigest: Digest,
  entries: PackIndexEntry[],
  report: VerifyReport,
  found: (p: VerifyProblem) => void,
): Promise<void> {
  const key = packKey(packDigest);
  const whole = createDigester();
  let current: Digester | undefined;
  let i = 0;
  let filled = 0;
  // Completes every blob whose bytes have all arrived, zero-length ones included.
  const settle = (): void => {
    for (let entry = entries[i]; entry !== undefined && filled === entry.size; entry = entries[i]) {
      const actual = (current ?? createDigester()).digest();
      current = undefined;
      if (actual !== entry.digest) {
        const range = { start: entry.offset, end: entry.offset + entry.size };
        found({
          kind: "mismatch",
          key,
          range,
          expected: entry.digest,
          actual,
          message: `${key} bytes ${range.start}-${range.end}: blob hashes to ${actual}`,
        });
      }
      i += 1;
      filled = 0;
    }
  };
  try {
    settle();
    for await (const chunk of await blobs.get(key)) {
      whole.update(chunk);
      report.bytes += chunk.byteLength;
      for (let offset = 0; offset < chunk.byteLength;) {
        const entry = entries[i];
        // Cannot happen for an index checked against the listed size, unless the pack changed since.
        if (entry === undefined) throw new Error("the pack has more bytes than its index describes");
        const take = Math.min(entry.size - filled, chunk.byteLength - offset);
        current ??= createDigester();
        current.update(chunk.subarray(offset, offset + take));
        offset += take;
        filled += take;
        settle();
      }
    }
    if (i < entries.length) throw new Error("the pack has fewer bytes than its index describes");
  } catch (err) {
    current?.dispose();
    whole.dispose();
    found({ kind: "unreadable", key, message: `${key}: ${messageOf(err)}` });
    return;
  }
  const actual = whole.digest();
  if (actual !== packDigest) {
    found({ kind: "mismatch", key, expected: packDigest, actual, message: `${key}: the pack hashes to ${actual}` });
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
