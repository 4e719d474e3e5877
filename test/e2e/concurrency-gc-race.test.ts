import * as api from "@dpkg/core/api";
import { digestBytes } from "@dpkg/core";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { push } from "../../packages/client/src/push/push.js";
import { RegistryClient } from "../../packages/client/src/registry-client.js";
import { buildApp, type App } from "../../packages/registry-server/src/app.js";
import type { BlobSource, BlobStore, PutOptions, PutResult } from "../../packages/registry-server/src/blob-store/blob-store.js";
import { FsBlobStore } from "../../packages/registry-server/src/blob-store/fs-blob-store.js";
import { packIndexKey, packKey } from "../../packages/registry-server/src/blob-store/layout.js";
import { gc, type GcReport } from "../../packages/registry-server/src/lifecycle/gc.js";
import { verify } from "../../packages/registry-server/src/lifecycle/verify.js";
import type { MetadataStore } from "../../packages/registry-server/src/metadata/metadata-store.js";
import { openSqliteMetadataStore } from "../../packages/registry-server/src/metadata/sqlite/sqlite-metadata-store.js";
import { encodePackIndex } from "../../packages/registry-server/src/push/pack-index.js";
import { file, manifestOf, tarOf } from "../../packages/registry-server/test/helpers/push-data.js";
import { makeTempDir, type TempDir } from "../../packages/registry-server/test/helpers/temp-dir.js";

/** A real folder store that can hold one chosen step until the test lets it go, to pin an interleaving. */
class SteppedStore implements BlobStore {
  /** Called after a put returns and before a delete starts; may hold the caller. */
  afterPut: (key: string, result: PutResult) => Promise<void> = async () => {};
  beforeDelete: (key: string) => Promise<void> = async () => {};
  constructor(private readonly inner: FsBlobStore) {}
  async put(key: string, source: BlobSource, options?: PutOptions): Promise<PutResult> {
    const result = await this.inner.put(key, source, options);
    await this.afterPut(key, result);
    return result;
  }
  get: BlobStore["get"] = (key, range) => this.inner.get(key, range);
  stat: BlobStore["stat"] = (key) => this.inner.stat(key);
  async delete(key: string): Promise<void> {
    await this.beforeDelete(key);
    await this.inner.delete(key);
  }
  list: BlobStore["list"] = (prefix) => this.inner.list(prefix);
  presignGet: BlobStore["presignGet"] = (key, seconds, range) => this.inner.presignGet(key, seconds, range);
  describe = (): string => this.inner.describe();
}

/** A point a step waits at: `reached` resolves when the step gets there, `release` lets it go on. */
function gate(): { reached: Promise<void>; wait: () => Promise<void>; release: () => void } {
  let arrive!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((r) => (arrive = r));
  const released = new Promise<void>((r) => (release = r));
  return { reached, release, wait: () => (arrive(), released) };
}

const X = new TextEncoder().encode("a blob a push needs while gc wants it gone");
const files = [file("x.txt", X)];
const deleteNow = (blobs: BlobStore, meta: MetadataStore): Promise<GcReport> => gc({ blobs, meta, graceMs: 0, dryRun: false });

describe("gc --grace 0 racing a push, step by step (real folder store and SQLite)", () => {
  let dir: TempDir;
  let blobs: SteppedStore;
  let meta: MetadataStore;
  /** Runs once, right before the registry stages the next manifest a commit sends. */
  let beforeStage: (() => Promise<void>) | undefined;
  let app: App;
  const auth = { authorization: "" };

  beforeEach(async () => {
    dir = await makeTempDir("dpkg-gc-race");
    blobs = new SteppedStore(new FsBlobStore(join(dir.path, "blobs")));
    meta = openSqliteMetadataStore(join(dir.path, "index.sqlite"));
    await mkdir(join(dir.path, "tmp"));
    const config = { version: "test", tmpDir: join(dir.path, "tmp"), urlSecret: new Uint8Array(32), presignSeconds: 60 };
    const stepped = new Proxy(meta, {
      get(target, name, receiver) {
        const hook = beforeStage;
        if (name === "stageManifest" && hook !== undefined) {
          beforeStage = undefined;
          return async (...args: Parameters<MetadataStore["stageManifest"]>) => {
            await hook();
            return target.stageManifest(...args);
          };
        }
        const value: unknown = Reflect.get(target, name, receiver);
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    app = await buildApp({ blobs, meta: stepped, config: { ...config, packBytes: 1 << 20, largeBlobBytes: 1 << 20, jsonBodyLimit: 1 << 20 } });
    const { generateTokenSecret, hashTokenSecret, newTokenId } = await import("../../packages/registry-server/src/tokens.js");
    const secret = generateTokenSecret();
    await meta.createToken({ id: newTokenId(), name: "admin", hash: hashTokenSecret(secret), scopes: [{ kind: "admin" }], createdAt: new Date() });
    auth.authorization = `Bearer ${secret}`;
  });
  afterEach(async () => {
    await app.close();
    await meta.close();
    await dir.cleanup();
  });

  const upload = async (): Promise<number> =>
    (await app.inject({ method: "PUT", url: "/v1/packages/lab/p/blobs/pack", headers: { ...auth, "content-type": api.CONTENT_TYPES.tar }, payload: await tarOf([X]) }))
      .statusCode;
  const commit = async (): Promise<{ status: number; code?: string }> => {
    const m = await manifestOf(files);
    const res = await app.inject({
      method: "POST",
      url: `/v1/packages/lab/p/revisions?digest=${m.digest}`,
      headers: { ...auth, "content-type": api.CONTENT_TYPES.manifest },
      payload: m.body,
    });
    return { status: res.statusCode, code: res.statusCode === 200 ? undefined : res.json<{ code: string }>().code };
  };
  /** The end state every interleaving must reach: a sound store whose revision's bytes are all there. */
  const expectSound = async (): Promise<void> => {
    expect((await verify({ blobs, meta })).problems).toEqual([]);
    const [at, ...more] = await meta.blobLocations({ namespace: "lab", name: "p" }, [digestBytes(X)]);
    expect(more).toEqual([]);
    const chunks: Uint8Array[] = [];
    for await (const c of await blobs.get(at!.key, { start: at!.start, end: at!.end })) chunks.push(c);
    expect(digestBytes(Buffer.concat(chunks))).toBe(digestBytes(X));
  };

  it("a commit made while gc deletes the pack it needs is refused, and the upload waits until gc is done", async () => {
    expect(await upload()).toBe(200); // then the push stalls: no manifest names X yet
    const deleting = gate();
    blobs.beforeDelete = (key) => (key.endsWith(".pack") ? deleting.wait() : Promise.resolve());
    const collecting = deleteNow(blobs, meta);
    await deleting.reached; // gc has forgotten the pack and is about to delete it

    expect(await commit()).toEqual({ status: 409, code: "E_MISSING_BLOBS" });
    // The pack still exists, so this upload's put writes nothing: recording it would point at bytes about to go.
    expect(await upload()).toBe(503);
    deleting.release();
    expect((await collecting).garbage.map((g) => g.key).sort()).toEqual([packIndexKey(digestBytes(X)), packKey(digestBytes(X))].sort());

    expect(await upload()).toBe(200); // written afresh
    expect(await commit()).toMatchObject({ status: 200 });
    await expectSound();
  });

  it("an upload whose put found the object just before gc deleted it is refused, then succeeds on retry", async () => {
    // An object without a location, as a crash between writing a pack and recording it leaves one.
    const pack = packKey(digestBytes(X));
    await blobs.put(pack, X);
    await blobs.put(packIndexKey(digestBytes(X)), encodePackIndex([{ digest: digestBytes(X), offset: 0, size: X.length }]));
    const found = gate();
    blobs.afterPut = (key, result) => (key === pack && !result.created ? found.wait() : Promise.resolve());
    const uploading = upload();
    await found.reached; // the upload's put found the pack and skipped writing it
    blobs.afterPut = async () => {};

    const report = await deleteNow(blobs, meta); // gc deletes that very pack, start to finish
    expect(report.garbage.map((g) => g.key)).toContain(pack);
    found.release();
    expect(await uploading).toBe(503); // its locations would point at nothing

    expect(await upload()).toBe(200);
    expect(await commit()).toMatchObject({ status: 200 });
    await expectSound();
  });

  it("a push (the client library behind the CLI) whose stored blobs gc deletes before its commit sends them again", async () => {
    expect(await upload()).toBe(200); // X is stored, unreferenced: the push below will not send it
    const src = join(dir.path, "src");
    await mkdir(src);
    await writeFile(join(src, "x.txt"), X);
    let report: GcReport | undefined;
    beforeStage = async () => {
      report = await deleteNow(blobs, meta);
    };
    const url = await app.listen({ port: 0, host: "127.0.0.1" });
    const client = new RegistryClient({ url, token: auth.authorization.slice("Bearer ".length) });
    try {
      const pushed = await push({ client, dir: src, pkg: { namespace: "lab", name: "p" } });
      expect(report?.garbage.map((g) => g.key)).toContain(packKey(digestBytes(X)));
      expect(pushed).toMatchObject({ digest: (await manifestOf(files)).digest, blobsSent: 1 });
    } finally {
      await client.close();
    }
    await expectSound();
  });

  it("a gc killed between forgetting and deleting is finished by the next one, which uploads wait for", async () => {
    expect(await upload()).toBe(200);
    blobs.beforeDelete = () => Promise.reject(new Error("disk went away"));
    const failed = await deleteNow(blobs, meta);
    expect(failed.failed.map((f) => f.key)).toContain(packKey(digestBytes(X)));
    expect(await meta.unfinishedDeletions()).toEqual([packKey(digestBytes(X))]);
    expect(await upload()).toBe(503); // still marked: the object may vanish at any moment

    blobs.beforeDelete = async () => {};
    await deleteNow(blobs, meta);
    expect(await meta.unfinishedDeletions()).toEqual([]);
    expect(await blobs.stat(packKey(digestBytes(X)))).toBeNull();
    expect(await upload()).toBe(200);
    expect(await commit()).toMatchObject({ status: 200 });
    await expectSound();
  });
});
