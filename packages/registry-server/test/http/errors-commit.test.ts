import * as api from "@dpkg/core/api";
import { digestBytes, type Digest, type ErrorCode } from "@dpkg/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { manifestKey } from "../../src/blob-store/layout.js";
import { file, manifestOf } from "../helpers/push-data.js";
import { startTestRegistry, type TestRegistry } from "../helpers/test-registry.js";
import { bearer, commitRaw, expectError, publish, uploadPack } from "./http-fixtures.js";

const HEADER = '{"format":"dpkg.manifest/1","meta":{}}\n';
const a = file("a.txt", "aaa");
const b = file("b.txt", "bbbb");
const A = digestBytes(a.bytes);
const B = digestBytes(b.bytes);
const NEVER = digestBytes("never uploaded");

/** A canonical entry line for `path` (JSON.stringify escapes it as canonical JSON does). */
const entry = (path: string, digest: Digest = A, size = 3): string => `{"digest":"${digest}","path":${JSON.stringify(path)},"size":${size}}\n`;

/** Manifests broken in one way each; the declared digest is always the body's own, so only the named rule can fail. */
const BAD_MANIFESTS: { what: string; body: string; code: ErrorCode }[] = [
  { what: "a header with whitespace", body: '{"format": "dpkg.manifest/1","meta":{}}\n' + entry("a.txt"), code: "E_BAD_MANIFEST" },
  { what: "an entry with unsorted keys", body: HEADER + `{"path":"a.txt","digest":"${A}","size":3}\n`, code: "E_BAD_MANIFEST" },
  { what: "entries out of path order", body: HEADER + entry("b.txt", B, 4) + entry("a.txt"), code: "E_BAD_MANIFEST" },
  { what: "a duplicate path", body: HEADER + entry("a.txt") + entry("a.txt"), code: "E_BAD_MANIFEST" },
  { what: "an unknown field", body: HEADER + `{"digest":"${A}","path":"a.txt","size":3,"x":1}\n`, code: "E_BAD_MANIFEST" },
  { what: "a negative size", body: HEADER + entry("a.txt", A, -1), code: "E_BAD_MANIFEST" },
  { what: "no final newline", body: HEADER + entry("a.txt").trimEnd(), code: "E_BAD_MANIFEST" },
  { what: "no header", body: entry("a.txt"), code: "E_BAD_MANIFEST" },
  { what: "a '../x' path", body: HEADER + entry("../x"), code: "E_BAD_PATH" },
  { what: "an absolute path", body: HEADER + entry("/abs"), code: "E_BAD_PATH" },
  { what: "an empty segment", body: HEADER + entry("a//b"), code: "E_BAD_PATH" },
  { what: "a backslash", body: HEADER + entry("a\\b"), code: "E_BAD_PATH" },
  { what: "a NUL character", body: HEADER + entry("a\u0000b"), code: "E_BAD_PATH" },
  { what: "a '.' segment", body: HEADER + entry("a/./b"), code: "E_BAD_PATH" },
];

describe("commit errors", () => {
  let r: TestRegistry;
  let writer: string;
  let first: Digest;
  const auth = (): { authorization: string } => bearer(writer);

  /** Everything a reader or pusher can observe about lab/cells. */
  async function observe(digests: Digest[]): Promise<unknown> {
    const get = async (url: string): Promise<unknown> => (await r.app.inject({ url, headers: auth() })).json();
    const missing = await r.app.inject({ method: "POST", url: "/v1/packages/lab/cells/blobs/missing", headers: auth(), payload: { digests } });
    return {
      info: await get("/v1/packages/lab/cells"),
      log: await get("/v1/packages/lab/cells/revisions"),
      tags: await get("/v1/packages/lab/cells/tags"),
      history: await get("/v1/packages/lab/cells/tag-history"),
      missing: missing.json(),
    };
  }

  beforeAll(async () => {
    r = await startTestRegistry();
    writer = await r.token([{ kind: "write", pattern: "lab" }], "writer");
    first = await publish(r, writer, "lab/cells", [a, b], { title: "first" });
  });
  afterAll(() => r.close());

  it("refuses a manifest naming blobs never uploaded with 409 E_MISSING_BLOBS listing exactly those", async () => {
    const c = file("c.txt", "ccccc");
    const m = await manifestOf([a, c, file("d.txt", "never uploaded")]);
    const before = await observe([A, NEVER]);
    const body = expectError(await commitRaw(r, writer, "lab/cells", m.body, m.digest), 409, "E_MISSING_BLOBS");
    expect(new Set((body.details as { missing: string[] }).missing)).toEqual(new Set([digestBytes(c.bytes), NEVER]));
    expect(body.message).toContain("2 blob(s)");
    expect(await observe([A, NEVER])).toEqual(before);
    expect(await r.blobs.stat(manifestKey(m.digest))).toBeNull();
  });

  it("refuses a body that does not hash to the declared digest with 422 E_INTEGRITY; no package appears", async () => {
    const real = await manifestOf([a]);
    const declared = (await manifestOf([b])).digest;
    const body = expectError(await commitRaw(r, writer, "lab/fresh", real.body, declared), 422, "E_INTEGRITY");
    expect(body.details).toEqual({ expected: declared, actual: real.digest });
    expectError(await r.app.inject({ url: "/v1/packages/lab/fresh", headers: auth() }), 404, "E_NOT_FOUND");
    expectError(await r.app.inject({ url: "/v1/packages/lab/fresh/revisions", headers: auth() }), 404, "E_NOT_FOUND");
    expect(await r.blobs.stat(manifestKey(declared))).toBeNull();
    expect(await r.blobs.stat(manifestKey(real.digest))).toBeNull();
  });

  it("leaves an existing package's log unchanged after an integrity failure, and the honest commit of that digest then has exactly its own entries", async () => {
    const wanted = await manifestOf([b], { title: "b only" });
    const impostor = await manifestOf([a], { title: "a only" });
    const before = await observe([A, B]);
    expectError(await commitRaw(r, writer, "lab/cells", impostor.body, wanted.digest), 422, "E_INTEGRITY");
    expect(await observe([A, B])).toEqual(before);

    const ok = await commitRaw(r, writer, "lab/cells", wanted.body, wanted.digest, "&noLatest=true");
    expect(ok.statusCode, ok.body).toBe(200);
    const entries = await r.app.inject({ url: `/v1/packages/lab/cells/revisions/${wanted.digest}/entries`, headers: auth() });
    expect(entries.body.trim().split("\n").map((l) => (JSON.parse(l) as { path: string }).path)).toEqual(["b.txt"]);
    const manifest = await r.app.inject({ url: `/v1/packages/lab/cells/revisions/${wanted.digest}/manifest`, headers: auth() });
    expect(manifest.body).toBe(wanted.body.toString());
  });

  it.each(BAD_MANIFESTS)("refuses a manifest with $what ($code) and changes nothing", async ({ body, code }) => {
    const digest = digestBytes(body);
    const before = await observe([A, B, NEVER]);
    const res = expectError(await commitRaw(r, writer, "lab/cells", body, digest), 400, code);
    expect(res.message).toMatch(/manifest line \d/);
    expect(await observe([A, B, NEVER])).toEqual(before);
    expect(await r.blobs.stat(manifestKey(digest))).toBeNull();
    expectError(await r.app.inject({ url: `/v1/packages/lab/cells/resolve/${digest}`, headers: auth() }), 404, "E_NOT_FOUND");
  });

  it("refuses an empty manifest body with 400", async () => {
    const res = await commitRaw(r, writer, "lab/cells", "", digestBytes(""));
    expectError(res, 400, "E_BAD_MANIFEST");
  });

  describe("expectParent", () => {
    it("refuses a commit whose expected parent is not latest with 409 E_CONFLICT", async () => {
      const m = await manifestOf([a], { title: "second" });
      const before = await observe([]);
      const res = expectError(await commitRaw(r, writer, "lab/cells", m.body, m.digest, `&expectParent=${digestBytes("x")}`), 409, "E_CONFLICT");
      expect(res.message.length).toBeGreaterThan(0);
      expect(await observe([])).toEqual(before);
    });

    it("refuses expectParent=none on a package that has revisions with 409 E_CONFLICT", async () => {
      const m = await manifestOf([a], { title: "second" });
      expectError(await commitRaw(r, writer, "lab/cells", m.body, m.digest, "&expectParent=none"), 409, "E_CONFLICT");
    });

    it("accepts expectParent=none for a new package and the current latest for an existing one", async () => {
      const up = await uploadPack(r, writer, "lab/new", [a.bytes]);
      expect(up.statusCode).toBe(200);
      const m = await manifestOf([a], { title: "new" });
      const created = await commitRaw(r, writer, "lab/new", m.body, m.digest, "&expectParent=none");
      expect(created.statusCode, created.body).toBe(200);
      expect(created.json<api.CommitResponse>().revision.parent).toBeNull();

      const next = await manifestOf([a, b], { title: "third" });
      const res = await commitRaw(r, writer, "lab/cells", next.body, next.digest, `&expectParent=${first}`);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json<api.CommitResponse>().revision.parent).toBe(first);
    });
  });

  it("refuses a malformed digest or expectParent in the query with 400", async () => {
    const m = await manifestOf([a]);
    expectError(await commitRaw(r, writer, "lab/cells", m.body, "blake3:xyz"), 400, "E_BAD_REQUEST");
    expectError(await commitRaw(r, writer, "lab/cells", m.body, m.digest, "&expectParent=nobody"), 400, "E_BAD_REQUEST");
    expectError(await commitRaw(r, writer, "lab/cells", m.body, m.digest, "&tag=bad%20tag"), 400, "E_BAD_REQUEST");
  });

  it("refuses a misspelled query parameter with 400 instead of committing without its check", async () => {
    const m = await manifestOf([b], { title: "typo" });
    const before = await observe([]);
    const body = expectError(await commitRaw(r, writer, "lab/cells", m.body, m.digest, `&expectParnet=${digestBytes("x")}`), 400, "E_BAD_REQUEST");
    expect(body.message).toContain("additional properties");
    expect(await observe([])).toEqual(before);
  });
});
