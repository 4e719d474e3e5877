import { digestBytes, type Digest, type ErrorCode } from "@dpkg/core";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateTokenSecret } from "../../src/tokens.js";
import { file, manifestOf } from "../helpers/push-data.js";
import { startTestRegistry, type TestRegistry } from "../helpers/test-registry.js";
import { bearer, commitRaw, expectError, publish } from "./http-fixtures.js";

/**
 * Two empty manifests whose top hashes share their first 8 hex digits (found by hashing
 * `{"n":i}` headers until two prefixes collided), so `blake3:636f8749` names both revisions.
 */
const COLLIDING = [13857, 37679];
const SHARED_PREFIX = "636f8749";

describe("request errors", () => {
  let r: TestRegistry;
  let reader: string;
  let revision: Digest;
  const get = (url: string, token = reader): Promise<LightMyRequestResponse> => r.app.inject({ url, headers: bearer(token) });

  beforeAll(async () => {
    r = await startTestRegistry();
    reader = await r.token([{ kind: "read", pattern: "lab" }], "reader");
    revision = await publish(r, r.adminToken, "lab/cells", [file("a.txt", "a")]);
  });
  afterAll(() => r.close());

  const BAD_URLS: { what: string; method?: "GET" | "PUT" | "DELETE"; url: string; code: ErrorCode }[] = [
    { what: "an uppercase namespace", url: "/v1/packages/Lab/cells", code: "E_BAD_REQUEST" },
    { what: "a name starting with '-'", url: "/v1/packages/lab/-cells/revisions", code: "E_BAD_REQUEST" },
    { what: "a 65-character name", url: `/v1/packages/lab/${"n".repeat(65)}/tags`, code: "E_BAD_REQUEST" },
    { what: "a name with '%20'", url: "/v1/packages/lab/my%20cells", code: "E_BAD_REQUEST" },
    { what: "a tag with '!'", method: "DELETE", url: "/v1/packages/lab/cells/tags/bad!", code: "E_BAD_REQUEST" },
    { what: "a tag starting with '.'", method: "DELETE", url: "/v1/packages/lab/cells/tags/.hidden", code: "E_BAD_REQUEST" },
    { what: "a tag in the history query with ':'", url: "/v1/packages/lab/cells/tag-history?tag=a:b", code: "E_BAD_REQUEST" },
    { what: "a ref with a bad tag", url: "/v1/packages/lab/cells/resolve/bad!tag", code: "E_BAD_TAG" },
    { what: "a ref with uppercase hex", url: "/v1/packages/lab/cells/resolve/blake3:ABCDEF0123", code: "E_BAD_REF" },
    { what: "a ref with a short prefix", url: "/v1/packages/lab/cells/resolve/blake3:abc", code: "E_BAD_REF" },
    { what: "a ref with another algorithm", url: "/v1/packages/lab/cells/resolve/sha256:abcdef0123", code: "E_BAD_REF" },
    { what: "a ref with two '@'", url: "/v1/packages/lab/cells/resolve/a@b", code: "E_BAD_REF" },
    { what: "a manifest digest that is a prefix", url: `/v1/packages/lab/cells/revisions/blake3:${SHARED_PREFIX}/manifest`, code: "E_BAD_REQUEST" },
    { what: "an entries digest that is not hex", url: `/v1/packages/lab/cells/revisions/blake3:${"z".repeat(64)}/entries`, code: "E_BAD_REQUEST" },
    { what: "a log limit of 0", url: "/v1/packages/lab/cells/revisions?limit=0", code: "E_BAD_REQUEST" },
    { what: "a log 'before' that is not a time", url: "/v1/packages/lab/cells/revisions?before=yesterday", code: "E_BAD_REQUEST" },
    { what: "an empty search", url: "/v1/search?q=", code: "E_BAD_REQUEST" },
    { what: "an entries query that does not parse", url: `/v1/packages/lab/cells/revisions/{rev}/entries?where=size%20%3E`, code: "E_QUERY_SYNTAX" },
  ];

  it.each(BAD_URLS)("answers $what with 400 $code", async ({ method, url, code }) => {
    const res = await r.app.inject({ method: method ?? "GET", url: url.replace("{rev}", revision), headers: bearer(r.adminToken) });
    expectError(res, 400, code);
  });

  it("answers unknown tags, digests and packages with 404 E_NOT_FOUND", async () => {
    const unknown = digestBytes("no such manifest");
    for (const url of [
      "/v1/packages/lab/cells/resolve/nosuchtag",
      "/v1/packages/lab/cells/resolve/blake3:00000000",
      `/v1/packages/lab/cells/resolve/${unknown}`,
      `/v1/packages/lab/cells/revisions/${unknown}/manifest`,
      `/v1/packages/lab/cells/revisions/${unknown}/entries`,
      "/v1/packages/lab/nothing/resolve/latest",
      "/v1/packages/lab/nothing/tags",
      "/v1/packages/lab/nothing/tag-history",
    ]) {
      expectError(await get(url), 404, "E_NOT_FOUND");
    }
    const body = expectError(await get("/v1/packages/lab/cells/resolve/nosuchtag"), 404, "E_NOT_FOUND");
    expect(body.message).toContain('"nosuchtag"');
  });

  it("refuses a token request with a field it does not know with 400, creating nothing", async () => {
    const admin = bearer(r.adminToken);
    const count = async (): Promise<number> => (await r.app.inject({ url: "/v1/tokens", headers: admin })).json<{ tokens: unknown[] }>().tokens.length;
    const before = await count();
    const payload = { name: "ci", scopes: [{ kind: "read", pattern: "lab" }], expiresAt: "2030-01-01T00:00:00Z" };
    expectError(await r.app.inject({ method: "POST", url: "/v1/tokens", headers: admin, payload }), 400, "E_BAD_REQUEST");
    const badScope = { name: "ci", scopes: [{ kind: "read", pattern: "Lab/*" }] };
    expectError(await r.app.inject({ method: "POST", url: "/v1/tokens", headers: admin, payload: badScope }), 400, "E_BAD_REQUEST");
    expect(await count()).toBe(before);
  });

  it("answers an unknown route with 404 E_NOT_FOUND naming it", async () => {
    const body = expectError(await r.app.inject({ method: "POST", url: "/v1/nowhere?x=1" }), 404, "E_NOT_FOUND");
    expect(body.message).toBe("no route POST /v1/nowhere");
  });

  it("answers a digest prefix shared by two revisions with 409 E_AMBIGUOUS_REF listing both", async () => {
    const digests: Digest[] = [];
    for (const n of COLLIDING) {
      const m = await manifestOf([], { n });
      expect(m.digest.slice(7, 15)).toBe(SHARED_PREFIX);
      expect((await commitRaw(r, r.adminToken, "lab/twins", m.body, m.digest)).statusCode).toBe(200);
      digests.push(m.digest);
    }
    const body = expectError(await get(`/v1/packages/lab/twins/resolve/blake3:${SHARED_PREFIX}`), 409, "E_AMBIGUOUS_REF");
    expect(new Set((body.details as { candidates: string[] }).candidates)).toEqual(new Set(digests));
    // One more digit tells them apart.
    for (const d of digests) {
      const res = await get(`/v1/packages/lab/twins/resolve/${d.slice(0, 7 + 12)}`);
      expect(res.json()).toEqual({ digest: d, ref: d.slice(0, 7 + 12) });
    }
  });

  it("echoes the caller's x-request-id in the error body, and makes one up otherwise", async () => {
    const res = await r.app.inject({ url: "/v1/packages/lab/nothing", headers: { ...bearer(reader), "x-request-id": "trace-123" } });
    expect(expectError(res, 404, "E_NOT_FOUND").requestId).toBe("trace-123");
    const a = expectError(await get("/v1/packages/lab/nothing"), 404, "E_NOT_FOUND");
    const b = expectError(await get("/v1/packages/lab/nothing"), 404, "E_NOT_FOUND");
    expect(a.requestId).not.toBe(b.requestId);
  });

  describe("auth failures", () => {
    it("rate-limits repeated bad tokens from one address with 429 E_RATE_LIMITED and retry-after", async () => {
      const from = { remoteAddress: "192.0.2.7" };
      const bad = { url: "/v1/whoami", headers: { authorization: `Bearer ${generateTokenSecret()}` }, ...from };
      for (let i = 0; i < 20; i += 1) expectError(await r.app.inject(bad), 401, "E_UNAUTHORIZED");
      const limited = await r.app.inject(bad);
      expectError(limited, 429, "E_RATE_LIMITED");
      expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
      // The address is blocked for any token while it lasts, so guessing gains nothing.
      expectError(await r.app.inject({ url: "/v1/whoami", headers: bearer(reader), ...from }), 429, "E_RATE_LIMITED");
      // Other addresses, and requests without a token, are not affected.
      expect((await r.app.inject({ url: "/v1/whoami", headers: bearer(reader), remoteAddress: "192.0.2.8" })).statusCode).toBe(200);
      expect((await r.app.inject({ url: "/v1/health", ...from })).statusCode).toBe(200);
    });

    it.each([
      ["a wrong scheme", "Basic dXNlcjpwYXNz"],
      ["a bare secret", "dpkg_not-a-bearer"],
      ["an empty bearer", "Bearer "],
      ["two tokens", "Bearer a b"],
    ])("answers %s with 401 E_UNAUTHORIZED, never as anonymous", async (_what, authorization) => {
      const res = await r.app.inject({ url: "/v1/health", headers: { authorization }, remoteAddress: "192.0.2.20" });
      expectError(res, 401, "E_UNAUTHORIZED");
    });
  });
});

describe("internal errors", () => {
  it("answers with 500 E_INTERNAL and a generic message that reveals nothing of the cause", async () => {
    const r = await startTestRegistry();
    try {
      await r.meta.close(); // the index is gone: every request that needs it fails inside the registry
      const res = await r.app.inject({ url: "/v1/packages/lab/cells", headers: { ...bearer(r.adminToken), "x-request-id": "boom-1" } });
      const body = expectError(res, 500, "E_INTERNAL");
      expect(body.message).toBe("internal error; the registry log has the details under this request id");
      expect(body.requestId).toBe("boom-1");
      expect(body.details).toBeUndefined();
      expect(res.body).not.toMatch(/database|sqlite|connection|stack|at /i);
    } finally {
      await r.close();
    }
  });
});
