import { readManifest, type Digest, type JsonObject, type PackageName } from "@dpkg/core";
import { manifestKey, revisionKey, tagKey } from "../../src/blob-store/layout.js";
import { encodeRevisionRecord, encodeTagRecord } from "../../src/bucket-records.js";
import type { CommitResult } from "../../src/metadata/metadata-store.js";
import { receivePack } from "../../src/push/receive-pack.js";
import { manifestOf, tarOf, type TestFile } from "../helpers/push-data.js";
import { chunked, type Stores } from "../push/fixtures.js";

export const PUSH_LIMITS = { packBytes: 3000, largeBlobBytes: 2000 };

/**
 * What a push does to the bucket and the index, without HTTP: upload the blobs, store and stage the
 * manifest, commit, then write the revision record and current tag records the registry mirrors into
 * the bucket. The bucket then holds everything reindex needs.
 */
export async function publish(
  s: Stores,
  pkg: PackageName,
  files: TestFile[],
  options: { at: Date; meta?: JsonObject; tags?: string[]; message?: string },
): Promise<CommitResult> {
  await receivePack(chunked(await tarOf(files.map((f) => f.bytes))), {
    blobs: s.blobs,
    meta: s.meta,
    namespace: pkg.namespace,
    ...PUSH_LIMITS,
  });
  const manifest = await manifestOf(files, options.meta ?? {});
  await s.blobs.put(manifestKey(manifest.digest), manifest.body);
  const reader = await readManifest(chunked(manifest.body));
  await s.meta.stageManifest(manifest.digest, reader.header, reader.entries);
  const result = await s.meta.commit({
    pkg,
    digest: manifest.digest,
    message: options.message ?? `push at ${options.at.toISOString()}`,
    author: "tester",
    createdAt: options.at,
    tags: options.tags ?? [],
    moveLatest: true,
  });
  if (!result.unchanged) {
    const r = result.revision;
    await s.blobs.put(revisionKey(pkg, r.createdAt, r.digest), encodeRevisionRecord(r));
  }
  await writeTagRecords(s, pkg);
  return result;
}

/** Mirrors a package's current tags into the bucket, as the registry's outbox does. */
export async function writeTagRecords(s: Stores, pkg: PackageName): Promise<void> {
  const info = await s.meta.getPackage(pkg);
  for (const tag of Object.keys(info?.tags ?? {})) {
    const last = (await s.meta.tagHistory(pkg, tag)).at(-1);
    if (last?.to == null) continue;
    await s.blobs.put(tagKey(pkg, tag), encodeTagRecord(pkg, { ...last, to: last.to }), { overwrite: true });
  }
}

export async function setTag(s: Stores, pkg: PackageName, tag: string, target: Digest, at: Date): Promise<void> {
  await s.meta.setTag(pkg, tag, target, "tagger", at);
  await writeTagRecords(s, pkg);
}
