import * as api from "@dpkg/core/api";
import { digestBytes, type Digest } from "@dpkg/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { manifestKey } from "../../src/blob-store/layout.js";
import { file, manifestOf } from "../helpers/push-data.js";
import { startTestRegistry, type TestRegistry } from "../helpers/test-registry.js";
import { bearer, commitRaw, expectError, uploadPack } from "./http-fixtures.js";

const a = file("a.txt", "aaa");
const b = file("b.txt", "bbbb");

describe("a manifest staged ahead of its commit (PUT .../manifests/DIGEST, then POST .../revisions without a body)", () => {
  let r: TestRegistry;
  let writer: string;
  let reader: string;

  const stage = (pkg: string, digest: Digest, body: Uint8Array | string, token = writer) =>
    r.app.inject({
      method: "PUT",
      url: `/v1/packages/${pkg}/manifests/${digest}`,
      headers: { ...bearer(token), "content-type": api.CONTENT_TYPES.manifest },
      payload: typeof body === "string" ? body : Buffer.from(body),
    });
  const commitStaged = (pkg: string, digest: Digest, query = "") =>
    r.app.inject({ method: "POST", url: `/v1/packages/${pkg}/revisions?digest=${digest}${query}`, headers: bearer(writer) });
  const log = async (pkg: string): Promise<number> => {
    const res = await r.app.inject({ url: `/v1/packages/${pkg}/revisions`, headers: bearer(writer) });
    return res.statusCode === 404 ? 0 : res.json<api.LogResponse>().revisions.length;
  };

  beforeAll(async () => {
    r = await startTestRegistry();
    writer = await r.token([{ kind: "write", pattern: "lab" }], "writer");
    reader = await r.token([{ kind: "read", pattern: "lab" }], "reader");
  });
  afterAll(() => r.close());

  it("stages before its blobs arrive, shows nothing, and commits by digest once they are stored", async () => {
    const m = await manifestOf([a, b], { title: "staged" });
    const staged = await stage("lab/early", m.digest, m.body);
    expect(staged.statusCode, staged.body).toBe(200);
    expect(staged.json<api.StageResponse>()).toEqual({ digest: m.digest, entryCount: 2, totalSize: 7 });
    expect(await r.blobs.stat(manifestKey(m.digest))).not.toBeNull();
    expect(await log("lab/early")).toBe(0);
    expectError(await r.app.inject({ url: `/v1/packages/lab/early/resolve/${m.digest}`, headers: bearer(writer) }), 404, "E_NOT_FOUND");

    // The blobs are not stored yet: the commit is refused, and stays possible.
    expectError(await commitStaged("lab/early", m.digest), 409, "E_MISSING_BLOBS");
    expect((await uploadPack(r, writer, "lab/early", [a.bytes, b.bytes])).statusCode).toBe(200);
    const committed = await commitStaged("lab/early", m.digest, "&message=hello");
    expect(committed.statusCode, committed.body).toBe(200);
    expect(committed.json<api.CommitResponse>().revision).toMatchObject({ digest: m.digest, message: "hello", entryCount: 2, totalSize: 7 });
    const manifest = await r.app.inject({ url: `/v1/packages/lab/early/revisions/${m.digest}/manifest`, headers: bearer(writer) });
    expect(manifest.body).toBe(m.body.toString());
  });

  it("a commit without a body of a digest never staged is E_NOT_STAGED, and changes nothing", async () => {
    const m = await manifestOf([a], { title: "never staged" });
    expect((await uploadPack(r, writer, "lab/none", [a.bytes])).statusCode).toBe(200);
    const body = expectError(await commitStaged("lab/none", m.digest), 404, "E_NOT_STAGED");
    expect(body.message).toContain(m.digest);
    expect(await log("lab/none")).toBe(0);
  });

  it("a commit with a body refused for missing blobs indexed the manifest but did not store it: not staged", async () => {
    const c = file("c.txt", "never uploaded");
    const m = await manifestOf([a, c]);
    expectError(await commitRaw(r, writer, "lab/half", m.body, m.digest), 409, "E_MISSING_BLOBS");
    expectError(await commitStaged("lab/half", m.digest), 404, "E_NOT_STAGED");
  });

  it("refuses to stage a body that does not hash to the digest (E_INTEGRITY), which then is not staged", async () => {
    const real = await manifestOf([a]);
    const declared = (await manifestOf([b])).digest;
    expectError(await stage("lab/liar", declared, real.body), 422, "E_INTEGRITY");
    expect(await r.blobs.stat(manifestKey(declared))).toBeNull();
    expectError(await commitStaged("lab/liar", declared), 404, "E_NOT_STAGED");
  });

  it("refuses a malformed manifest (E_BAD_MANIFEST) and a reader's token (E_FORBIDDEN)", async () => {
    const bad = '{"format":"dpkg.manifest/1","meta":{}}\n{"path":"a.txt"}\n';
    expectError(await stage("lab/bad", digestBytes(bad), bad), 400, "E_BAD_MANIFEST");
    const m = await manifestOf([a]);
    expectError(await stage("lab/ro", m.digest, m.body, reader), 403, "E_FORBIDDEN");
    expect(await r.blobs.stat(manifestKey(m.digest))).toBeNull();
  });

  it("staging the same manifest twice is harmless, and a body sent with the commit still works after staging", async () => {
    const m = await manifestOf([a], { title: "twice" });
    expect((await uploadPack(r, writer, "lab/twice", [a.bytes])).statusCode).toBe(200);
    expect((await stage("lab/twice", m.digest, m.body)).statusCode).toBe(200);
    expect((await stage("lab/twice", m.digest, m.body)).statusCode).toBe(200);
    const res = await commitRaw(r, writer, "lab/twice", m.body, m.digest);
    expect(res.statusCode, res.body).toBe(200);
    expect(await log("lab/twice")).toBe(1);
  });
});
