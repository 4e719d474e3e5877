import * as api from "@dpkg/core/api";
import { digestBytes } from "@dpkg/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { file, manifestOf } from "../helpers/push-data.js";
import { startTestRegistry, type TestRegistry } from "../helpers/test-registry.js";
import { bearer, commitRaw, expectError, publish, uploadPack } from "./http-fixtures.js";

/**
 * Knowing a digest grants nothing: namespace `lab` holds a private blob; a writer of namespace
 * `other` who learned its digest can neither locate it, nor learn that it exists, nor commit it.
 */
describe("knowing a digest never grants access to another namespace's bytes", () => {
  let r: TestRegistry;
  let other: string;
  const secret = file("secret/plan.txt", "the lab's private bytes");
  const secretDigest = digestBytes(secret.bytes);
  const own = file("own.txt", "other's own bytes");

  beforeAll(async () => {
    r = await startTestRegistry();
    await publish(r, r.adminToken, "lab/cells", [secret, file("secret/more.txt", "more")]);
    other = await r.token([{ kind: "write", pattern: "other" }], "other-writer");
    await publish(r, other, "other/stuff", [own]);
  });
  afterAll(() => r.close());

  it("answers a probe of the private digest through the caller's own package as unknown, with no location", async () => {
    const res = await r.app.inject({
      method: "POST",
      url: "/v1/packages/other/stuff/blobs/locations",
      headers: bearer(other),
      payload: { digests: [secretDigest, digestBytes(own.bytes)] },
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<api.LocationsResponse>();
    expect(body.unknown).toEqual([secretDigest]);
    expect(body.groups.flatMap((g) => g.blobs.map((b) => b.digest))).toEqual([digestBytes(own.bytes)]);
    expect(res.body).not.toContain("secret");
  });

  it("answers the same probe through the private package itself as 404", async () => {
    const res = await r.app.inject({
      method: "POST",
      url: "/v1/packages/lab/cells/blobs/locations",
      headers: bearer(other),
      payload: { digests: [secretDigest] },
    });
    expectError(res, 404, "E_NOT_FOUND");
  });

  it("reports the private digest as missing to the other namespace, exactly like a digest nobody has", async () => {
    const nobody = digestBytes("bytes nobody ever uploaded");
    const res = await r.app.inject({
      method: "POST",
      url: "/v1/packages/other/stuff/blobs/missing",
      headers: bearer(other),
      payload: { digests: [secretDigest, nobody] },
    });
    expect(res.json()).toEqual({ missing: [secretDigest, nobody] });
  });

  it("refuses a commit naming the digest with E_MISSING_BLOBS and records nothing", async () => {
    const m = await manifestOf([secret]);
    const res = await commitRaw(r, other, "other/stolen", m.body, m.digest);
    const body = expectError(res, 409, "E_MISSING_BLOBS");
    expect(body.details).toEqual({ missing: [secretDigest] });
    expectError(await r.app.inject({ url: "/v1/packages/other/stolen", headers: bearer(other) }), 404, "E_NOT_FOUND");
    expectError(await r.app.inject({ url: `/v1/packages/other/stolen/resolve/${m.digest}`, headers: bearer(other) }), 404, "E_NOT_FOUND");
  });

  it("accepts the same commit once the other namespace uploaded the same bytes itself, and then serves them", async () => {
    const up = await uploadPack(r, other, "other/stolen", [secret.bytes]);
    expect(up.statusCode, up.body).toBe(200);
    const m = await manifestOf([secret]);
    const res = await commitRaw(r, other, "other/stolen", m.body, m.digest);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<api.CommitResponse>().revision.digest).toBe(m.digest);

    const loc = await r.app.inject({
      method: "POST",
      url: "/v1/packages/other/stolen/blobs/locations",
      headers: bearer(other),
      payload: { digests: [secretDigest] },
    });
    const { groups, unknown } = loc.json<api.LocationsResponse>();
    expect(unknown).toEqual([]);
    const g = groups[0]!;
    const url = new URL(g.url);
    const got = await r.app.inject({ url: url.pathname + url.search, headers: { range: `bytes=${g.start}-${g.end - 1}` } });
    const blob = g.blobs[0]!;
    expect(digestBytes(got.rawPayload.subarray(blob.offset, blob.offset + blob.size))).toBe(secretDigest);
  });

  it("refuses a tag pointing the other namespace's package at a revision of the private package", async () => {
    const lab = await r.app.inject({ url: "/v1/packages/lab/cells/resolve/latest", headers: bearer(r.adminToken) });
    const target = lab.json<api.ResolveResponse>().digest;
    const res = await r.app.inject({ method: "PUT", url: "/v1/packages/other/stuff/tags/borrowed", headers: bearer(other), payload: { target } });
    expectError(res, 404, "E_NOT_FOUND");
  });

  it("answers reads of an existing private package and of a missing one identically", async () => {
    const reader = await r.token([{ kind: "read", pattern: "other" }], "other-reader");
    const existing = expectError(await r.app.inject({ url: "/v1/packages/lab/cells", headers: bearer(reader) }), 404, "E_NOT_FOUND");
    const missing = expectError(await r.app.inject({ url: "/v1/packages/lab/nothing", headers: bearer(reader) }), 404, "E_NOT_FOUND");
    expect(missing.message.replace("nothing", "cells")).toBe(existing.message);
    expect(missing.details).toEqual({ package: "lab/nothing" });
    expect(existing.details).toEqual({ package: "lab/cells" });
  });

  it("matches namespace patterns as globs: lab-* reads lab-a but not lab, * reads everything", async () => {
    await publish(r, r.adminToken, "lab-a/x", [file("x", "x")]);
    const dash = await r.token([{ kind: "read", pattern: "lab-*" }]);
    const star = await r.token([{ kind: "read", pattern: "*" }]);
    const status = async (token: string, pkg: string): Promise<number> =>
      (await r.app.inject({ url: `/v1/packages/${pkg}`, headers: bearer(token) })).statusCode;
    expect([await status(dash, "lab-a/x"), await status(dash, "lab/cells")]).toEqual([200, 404]);
    expect([await status(star, "lab-a/x"), await status(star, "lab/cells"), await status(star, "other/stuff")]).toEqual([200, 200, 200]);
    const write = await r.app.inject({ method: "PUT", url: "/v1/packages/lab-a/x/tags/t", headers: bearer(star), payload: { target: digestBytes("x") } });
    expectError(write, 403, "E_FORBIDDEN");
  });

  it("reports a revoked token's removal in the token list and refuses it afterwards", async () => {
    const admin = bearer(r.adminToken);
    const created = (await r.app.inject({ method: "POST", url: "/v1/tokens", headers: admin, payload: { name: "short-lived", scopes: [{ kind: "read", pattern: "lab" }] } })).json<api.CreateTokenResponse>();
    expect((await r.app.inject({ url: "/v1/whoami", headers: bearer(created.token) })).json()).toEqual({ name: "short-lived", scopes: [{ kind: "read", pattern: "lab" }] });
    expect((await r.app.inject({ method: "DELETE", url: `/v1/tokens/${created.info.id}`, headers: admin })).statusCode).toBe(204);
    const list = (await r.app.inject({ url: "/v1/tokens", headers: admin })).json<{ tokens: api.TokenInfo[] }>();
    expect(list.tokens.map((t) => t.id)).not.toContain(created.info.id);
    expect(JSON.stringify(list)).not.toContain(created.token);
    expectError(await r.app.inject({ url: "/v1/whoami", headers: bearer(created.token) }), 401, "E_UNAUTHORIZED");
    expectError(await r.app.inject({ method: "DELETE", url: `/v1/tokens/${created.info.id}`, headers: admin }), 404, "E_NOT_FOUND");
  });
});
