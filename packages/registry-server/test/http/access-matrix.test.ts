import * as api from "@dpkg/core/api";
import { digestBytes, type Digest } from "@dpkg/core";
import type { InjectOptions } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newTokenId, generateTokenSecret, hashTokenSecret } from "../../src/tokens.js";
import { file, manifestOf, tarOf, type TestFile } from "../helpers/push-data.js";
import { startTestRegistry, type TestRegistry } from "../helpers/test-registry.js";
import { bearer, outcome, publish } from "./http-fixtures.js";

/**
 * Every route × every kind of caller. Namespace `lab` is private, `open` is public-read; the
 * anonymous-on-public caller targets open/data, every other caller lab/cells.
 */
const CALLERS = ["anonymous", "malformed", "unknown", "revoked", "readOther", "readNs", "write", "admin", "anonPublic"] as const;
type Caller = (typeof CALLERS)[number];

/** public: anyone; token: any valid token; read/write: on the package's namespace; signed: the URL is the grant. */
type Access = "public" | "token" | "read" | "write" | "admin" | "signed";

const OK = "OK";
const U = "401 E_UNAUTHORIZED";
const F = "403 E_FORBIDDEN";
const N = "404 E_NOT_FOUND";

// prettier-ignore
const EXPECTED: Record<Access, Record<Caller, string>> = {
  //        anonymous     malformed unknown revoked readOther readNs write admin anonPublic
  public: { anonymous: OK, malformed: U, unknown: U, revoked: U, readOther: OK, readNs: OK, write: OK, admin: OK, anonPublic: OK },
  token:  { anonymous: U,  malformed: U, unknown: U, revoked: U, readOther: OK, readNs: OK, write: OK, admin: OK, anonPublic: U },
  read:   { anonymous: U,  malformed: U, unknown: U, revoked: U, readOther: N,  readNs: OK, write: OK, admin: OK, anonPublic: OK },
  write:  { anonymous: U,  malformed: U, unknown: U, revoked: U, readOther: F,  readNs: F,  write: OK, admin: OK, anonPublic: U },
  admin:  { anonymous: U,  malformed: U, unknown: U, revoked: U, readOther: F,  readNs: F,  write: F,  admin: OK, anonPublic: U },
  signed: { anonymous: OK, malformed: U, unknown: U, revoked: U, readOther: OK, readNs: OK, write: OK, admin: OK, anonPublic: OK },
};

/** What a route needs to know about the package it is aimed at. */
interface Target {
  pkg: string;
  files: TestFile[];
  revision: Digest;
  manifest: { body: Buffer; digest: Digest };
  /** Path and query of a signed object URL from /blobs/locations. */
  objectUrl: string;
}

interface RouteCase {
  route: string;
  access: Access;
  /** The success status (default 200). */
  ok?: number;
  request: (t: Target, r: TestRegistry) => InjectOptions | Promise<InjectOptions>;
}

const json = (payload: object): Pick<InjectOptions, "payload" | "headers"> => ({ payload, headers: { "content-type": "application/json" } });

const ROUTES: RouteCase[] = [
  { route: "GET /v1/health", access: "public", request: () => ({ url: "/v1/health" }) },
  { route: "GET /v1/whoami", access: "token", request: () => ({ url: "/v1/whoami" }) },
  {
    route: "POST /v1/tokens",
    access: "admin",
    request: () => ({ method: "POST", url: "/v1/tokens", ...json({ name: "made", scopes: [{ kind: "read", pattern: "lab" }] }) }),
  },
  { route: "GET /v1/tokens", access: "admin", request: () => ({ url: "/v1/tokens" }) },
  {
    route: "DELETE /v1/tokens/:id",
    access: "admin",
    ok: 204,
    request: async (_t, r) => {
      const id = newTokenId();
      await r.meta.createToken({ id, name: "doomed", hash: hashTokenSecret(generateTokenSecret()), scopes: [{ kind: "admin" }], createdAt: new Date() });
      return { method: "DELETE", url: `/v1/tokens/${id}` };
    },
  },
  { route: "PUT /v1/namespaces/:namespace", access: "admin", request: () => ({ method: "PUT", url: "/v1/namespaces/scratch", ...json({ public: false }) }) },
  { route: "GET /v1/packages/:ns/:name", access: "read", request: (t) => ({ url: `/v1/packages/${t.pkg}` }) },
  { route: "GET .../revisions (log)", access: "read", request: (t) => ({ url: `/v1/packages/${t.pkg}/revisions` }) },
  { route: "GET .../resolve/:ref", access: "read", request: (t) => ({ url: `/v1/packages/${t.pkg}/resolve/latest` }) },
  { route: "GET .../revisions/:digest/manifest", access: "read", request: (t) => ({ url: `/v1/packages/${t.pkg}/revisions/${t.revision}/manifest` }) },
  { route: "GET .../revisions/:digest/entries", access: "read", request: (t) => ({ url: `/v1/packages/${t.pkg}/revisions/${t.revision}/entries` }) },
  {
    route: "POST .../blobs/missing",
    access: "write",
    request: (t) => ({ method: "POST", url: `/v1/packages/${t.pkg}/blobs/missing`, ...json({ digests: t.files.map((f) => digestBytes(f.bytes)) }) }),
  },
  {
    route: "PUT .../blobs/pack",
    access: "write",
    request: async (t) => ({
      method: "PUT",
      url: `/v1/packages/${t.pkg}/blobs/pack`,
      headers: { "content-type": api.CONTENT_TYPES.tar },
      payload: await tarOf(t.files.map((f) => f.bytes)),
    }),
  },
  {
    route: "PUT .../blobs/:digest",
    access: "write",
    request: (t) => ({
      method: "PUT",
      url: `/v1/packages/${t.pkg}/blobs/${digestBytes(t.files[0]!.bytes)}`,
      headers: { "content-type": api.CONTENT_TYPES.blob },
      payload: Buffer.from(t.files[0]!.bytes),
    }),
  },
  {
    route: "POST .../revisions (commit)",
    access: "write",
    request: (t) => ({
      method: "POST",
      url: `/v1/packages/${t.pkg}/revisions?digest=${t.manifest.digest}`,
      headers: { "content-type": api.CONTENT_TYPES.manifest },
      payload: t.manifest.body,
    }),
  },
  {
    route: "POST .../blobs/locations",
    access: "read",
    request: (t) => ({ method: "POST", url: `/v1/packages/${t.pkg}/blobs/locations`, ...json({ digests: t.files.map((f) => digestBytes(f.bytes)) }) }),
  },
  { route: "GET /v1/objects/* (signed URL)", access: "signed", request: (t) => ({ url: t.objectUrl }) },
  { route: "GET .../tags", access: "read", request: (t) => ({ url: `/v1/packages/${t.pkg}/tags` }) },
  {
    route: "PUT .../tags/:tag",
    access: "write",
    request: (t) => ({ method: "PUT", url: `/v1/packages/${t.pkg}/tags/matrix`, ...json({ target: t.revision }) }),
  },
  {
    route: "DELETE .../tags/:tag",
    access: "write",
    request: async (t, r) => {
      const [namespace = "", name = ""] = t.pkg.split("/");
      await r.meta.setTag({ namespace, name }, "doomed", t.revision, "setup", new Date());
      return { method: "DELETE", url: `/v1/packages/${t.pkg}/tags/doomed` };
    },
  },
  { route: "GET .../tag-history", access: "read", request: (t) => ({ url: `/v1/packages/${t.pkg}/tag-history` }) },
  { route: "GET /v1/search", access: "public", request: () => ({ url: "/v1/search?q=cells" }) },
  { route: "GET /docs", access: "public", request: () => ({ url: "/docs" }) },
  { route: "GET /docs/json", access: "public", request: () => ({ url: "/docs/json" }) },
];

describe("access matrix: every route × every kind of caller", () => {
  let r: TestRegistry;
  const auth = {} as Record<Caller, string | undefined>;
  const targets = {} as Record<"private" | "public", Target>;

  async function target(pkg: string, files: TestFile[]): Promise<Target> {
    const revision = await publish(r, r.adminToken, pkg, files, { title: `${pkg} title` });
    const loc = await r.app.inject({
      method: "POST",
      url: `/v1/packages/${pkg}/blobs/locations`,
      headers: bearer(r.adminToken),
      payload: { digests: [digestBytes(files[0]!.bytes)] },
    });
    const url = new URL(loc.json<api.LocationsResponse>().groups[0]!.url);
    return { pkg, files, revision, manifest: await manifestOf(files, { title: `${pkg} title` }), objectUrl: url.pathname + url.search };
  }

  beforeAll(async () => {
    r = await startTestRegistry();
    const admin = bearer(r.adminToken);
    const created = await r.app.inject({ method: "POST", url: "/v1/tokens", headers: admin, payload: { name: "revoked", scopes: [{ kind: "admin" }] } });
    const revoked = created.json<api.CreateTokenResponse>();
    expect((await r.app.inject({ method: "DELETE", url: `/v1/tokens/${revoked.info.id}`, headers: admin })).statusCode).toBe(204);
    const pub = await r.app.inject({ method: "PUT", url: "/v1/namespaces/open", headers: admin, payload: { public: true } });
    expect(pub.json()).toEqual({ namespace: "open", public: true });

    Object.assign(auth, {
      anonymous: undefined,
      malformed: "Bearer not-a-token",
      unknown: `Bearer ${generateTokenSecret()}`,
      revoked: `Bearer ${revoked.token}`,
      readOther: `Bearer ${await r.token([{ kind: "read", pattern: "other" }], "reader-of-other")}`,
      readNs: `Bearer ${await r.token([{ kind: "read", pattern: "lab" }], "reader")}`,
      write: `Bearer ${await r.token([{ kind: "write", pattern: "lab" }], "writer")}`,
      admin: `Bearer ${r.adminToken}`,
      anonPublic: undefined,
    } satisfies Record<Caller, string | undefined>);
    targets.private = await target("lab/cells", [file("cells/a.csv", "lab a"), file("cells/b.csv", "lab b")]);
    targets.public = await target("open/data", [file("data/x.csv", "open x"), file("data/y.csv", "open y")]);
  });
  afterAll(() => r.close());

  let address = 0;
  it.each(ROUTES)("$route ($access)", async (route) => {
    const actual: Partial<Record<Caller, string>> = {};
    const expected: Partial<Record<Caller, string>> = {};
    for (const caller of CALLERS) {
      const t = caller === "anonPublic" ? targets.public : targets.private;
      const options = await route.request(t, r);
      const authorization = auth[caller];
      address += 1;
      const res = await r.app.inject({
        ...options,
        headers: { ...options.headers, ...(authorization === undefined ? {} : { authorization }) },
        // One address per request: bad tokens here must not trip the auth-failure rate limit.
        remoteAddress: `10.0.${address >> 8}.${address & 255}`,
      });
      actual[caller] = outcome(res);
      const want = EXPECTED[route.access][caller];
      expected[caller] = want === OK ? String(route.ok ?? 200) : want;
    }
    expect(actual).toEqual(expected);
  });
});
