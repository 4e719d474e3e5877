import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readManifest, type PackageName } from "@dpkg/core";
import { blobKey, packIndexKey, packKey, parseKey } from "../../src/blob-store/layout.js";
import { gc } from "../../src/lifecycle/gc.js";
import { verify } from "../../src/lifecycle/verify.js";
import { receivePack } from "../../src/push/receive-pack.js";
import { file, manifestOf, tarOf } from "../helpers/push-data.js";
import { blobsOfSizes, chunked, digestOf, listAll, makeStores, type Stores } from "../push/fixtures.js";
import { publish, PUSH_LIMITS } from "./publish.js";

const pkg: PackageName = { namespace: "lab", name: "images" };
const HOUR = 3600 * 1000;
const later = (hours: number): Date => new Date(Date.now() + hours * HOUR);

describe("gc", () => {
  let s: Stores;
  beforeEach(async () => {
    s = await makeStores();
  });
  afterEach(() => s.cleanup());

  const upload = async (blobs: Buffer[]): Promise<void> => {
    await receivePack(chunked(await tarOf(blobs)), { blobs: s.blobs, meta: s.meta, namespace: "lab", ...PUSH_LIMITS });
  };
  const packOf = async (b: Buffer): Promise<string> => {
    for (const key of (await listAll(s.blobs, "packs/")).keys()) {
      const parsed = parseKey(key);
      if (parsed.kind === "pack" && (await s.meta.liveObjectKeys()).has(key)) continue;
      if (parsed.kind === "pack") return key;
    }
    throw new Error(`no pack for ${digestOf(b)}`);
  };

  /** A committed revision; a pack holding one committed and one unreferenced blob; an abandoned upload. */
  async function scene() {
    const [used, unusedInUsedPack, bigUsed, lost, bigLost] = blobsOfSizes(100, 200, 2500, 300, 4000);
    await upload([used!, unusedInUsedPack!]);
    await publish(s, pkg, [file("a", used!), file("big", bigUsed!)], { at: new Date() });
    const committed = new Set([...(await s.meta.liveObjectKeys())]);
    await upload([lost!, bigLost!]);
    const lostPack = await packOf(lost!);
    return { committed, lostPack, lost: [digestOf(lost!), digestOf(bigLost!)], bigLost: blobKey(digestOf(bigLost!)) };
  }

  it("keeps unreferenced objects younger than the grace period: a push may still commit them", async () => {
    await scene();
    const report = await gc({ blobs: s.blobs, meta: s.meta, dryRun: false });
    expect(report.garbage).toEqual([]);
    expect(report.keptYoung).toEqual({ blobs: 1, packs: 1 });
    expect(report.keptLive).toEqual({ blobs: 1, packs: 1 });
  });

  it("reports garbage past the grace period in a dry run, the default, and deletes nothing", async () => {
    const { lostPack, bigLost, lost } = await scene();
    const before = await listAll(s.blobs);
    const report = await gc({ blobs: s.blobs, meta: s.meta, now: later(25) });
    expect(report.dryRun).toBe(true);
    const idx = lostPack.replace(/\.pack$/, ".idx");
    expect(report.garbage.map((g) => g.key).sort()).toEqual([bigLost, lostPack, idx].sort());
    expect(report.garbage.find((g) => g.key === bigLost)?.size).toBe(4000);
    expect(report.garbageBytes).toBe([bigLost, lostPack, idx].reduce((n, k) => n + before.get(k)!.size, 0));
    // The pack with one committed blob and one unreferenced blob is kept whole.
    expect(report.keptLive).toEqual({ blobs: 1, packs: 1 });
    expect([...(await listAll(s.blobs)).keys()]).toEqual([...before.keys()]);
    expect(await s.meta.missingBlobs("lab", lost)).toEqual([]);
  });

  it("deletes garbage for real: forgotten first, then removed, the rest intact", async () => {
    const { committed, lostPack, bigLost, lost } = await scene();
    const report = await gc({ blobs: s.blobs, meta: s.meta, now: later(25), dryRun: false });
    expect(report.dryRun).toBe(false);
    expect(report.failed).toEqual([]);
    expect(report.garbage).toHaveLength(3);
    for (const key of [lostPack, lostPack.replace(/\.pack$/, ".idx"), bigLost])
      expect(await s.blobs.stat(key)).toBeNull();
    for (const key of committed) expect(await s.blobs.stat(key)).not.toBeNull();
    // The namespace no longer holds what was deleted: a later push sends it again.
    expect(await s.meta.missingBlobs("lab", lost)).toEqual(lost);
    const scrub = await verify({ blobs: s.blobs, meta: s.meta });
    expect(scrub.problems).toEqual([]);
    expect((await gc({ blobs: s.blobs, meta: s.meta, now: later(25), dryRun: false })).garbage).toEqual([]);
  });

  it("honours the grace period it is given", async () => {
    await scene();
    expect((await gc({ blobs: s.blobs, meta: s.meta, now: later(25), graceMs: 48 * HOUR })).garbage).toEqual([]);
    expect((await gc({ blobs: s.blobs, meta: s.meta, now: later(1), graceMs: 0.5 * HOUR })).garbage).toHaveLength(3);
  });

  it("keeps the blobs of a staged manifest whose commit has not happened yet", async () => {
    const [a, big] = blobsOfSizes(100, 4000);
    await upload([a!, big!]);
    const manifest = await manifestOf([file("a", a!), file("big", big!)]);
    const reader = await readManifest(chunked(manifest.body));
    await s.meta.stageManifest(manifest.digest, reader.header, reader.entries);
    const report = await gc({ blobs: s.blobs, meta: s.meta, now: later(25), dryRun: false });
    expect(report.garbage).toEqual([]);
    expect(report.keptLive).toEqual({ blobs: 1, packs: 1 });
  });

  it("removes an old index whose pack is gone, and leaves keys it does not own alone", async () => {
    const [a] = blobsOfSizes(100);
    await upload([a!]);
    const pack = [...(await listAll(s.blobs, "packs/")).keys()].find((k) => k.endsWith(".pack"))!;
    const parsed = parseKey(pack);
    if (parsed.kind !== "pack") throw new Error("not a pack");
    await s.blobs.delete(packKey(parsed.digest));
    await s.blobs.put("blobs/zz/not-ours", Buffer.from("?"));
    const report = await gc({ blobs: s.blobs, meta: s.meta, now: later(25), dryRun: false });
    expect(report.garbage.map((g) => g.key)).toEqual([packIndexKey(parsed.digest)]);
    expect(await s.blobs.stat("blobs/zz/not-ours")).not.toBeNull();
  });
});
