import * as api from "@dpkg/core/api";
import { digestBytes, type Digest, type ErrorCode } from "@dpkg/core";
import { request } from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import invalid from "../../../core/test/vectors/manifests-invalid.json" with { type: "json" };
import { buildApp, type App } from "../../src/app.js";
import { manifestKey } from "../../src/blob-store/layout.js";
import { file, manifestOf } from "../helpers/push-data.js";
import { startTestRegistry, type TestRegistry } from "../helpers/test-registry.js";
import { leftovers, storedState } from "./bad-input-state.js";
import { bearer, commitRaw, expectError, publish, uploadPack } from "./http-fixtures.js";

const HEADER = '{"format":"dpkg.manifest/1","meta":{}}';
const a = file("a.txt", "aaa");
const A = digestBytes(a.bytes);
/** The manifest limit of the second app below: small, so a test can go over it cheaply. */
const SMALL_LIMIT = 64 * 1024;

/** A vector's manifest text, as core's own test builds it (H: the header, "D": a digest). */
function vectorBody(c: (typeof invalid.cases)[number]): string {
  const raw = "text" in c && c.text !== undefined ? c.text : c.lines.map((l) => l + "\n").join("");
  return raw.replace(/^H$/m, HEADER).replace(/^H\n/, HEADER + "\n").replaceAll('"D"', JSON.stringify(A));
}

const entryLine = (path: string, size = 3, digest: Digest = A): string => `{"digest":"${digest}","path":${JSON.stringify(path)},"size":${size}}\n`;

describe("bad manifests: the exact error, and nothing stored changes", () => {
  let r: TestRegistry;
  let small: App;
  let writer: string;
  let before: Awaited<ReturnType<typeof storedState>>;

  beforeAll(async () => {
    r = await startTestRegistry();
    writer = await r.token([{ kind: "write", pattern: "lab" }], "writer");
    await publish(r, writer, "lab/cells", [a]);
    // The same stores behind a registry configured with a small manifest limit.
    small = await buildApp({
      blobs: r.blobs,
      meta: r.meta,
      config: { version: "test", tmpDir: `${r.dir}/tmp`, urlSecret: new Uint8Array(32), presignSeconds: 60, packBytes: 1 << 16, largeBlobBytes: 1 << 15, jsonBodyLimit: 1 << 20, maxManifestBytes: SMALL_LIMIT },
    });
    await small.ready();
  });
  afterAll(async () => {
    await small.close();
    await r.close();
  });
  beforeEach(async () => {
    before = await storedState(r);
  });
  /** The refusal left every stored object and row as it was, no temp file, and no manifest object. */
  async function expectUnchanged(digest: Digest): Promise<void> {
    expect(await storedState(r)).toEqual(before);
    expect(await leftovers(r)).toEqual([]);
    expect(await r.blobs.stat(manifestKey(digest))).toBeNull();
  }

  it.each(invalid.cases.map((c) => ({ ...c, body: vectorBody(c) })))(
    "core vector '$name' → $code",
    async ({ body, code }) => {
      const digest = digestBytes(body);
      expectError(await commitRaw(r, writer, "lab/cells", body, digest), 400, code as ErrorCode);
      await expectUnchanged(digest);
    },
  );

  it.each([
    ["U+0001", "a\u0001b"],
    ["ESC", "a\u001b[31mb"],
    ["DEL", "a\u007fb"],
    ["C1 CSI", "a\u009bb"],
    ["a line break", "a\nb"],
    ["NFD", "e\u0301"],
    ["4097 bytes", "x".repeat(4097)],
  ])("refuses a path with %s (E_BAD_PATH)", async (_what, path) => {
    const body = `${HEADER}\n${entryLine(path)}`;
    const digest = digestBytes(body);
    expectError(await commitRaw(r, writer, "lab/cells", body, digest), 400, "E_BAD_PATH");
    await expectUnchanged(digest);
  });

  it("refuses a line over the 8 MiB line limit (E_BAD_MANIFEST) without reading on", async () => {
    const body = `${HEADER}\n{"digest":"${A}","meta":{"pad":"${"x".repeat(8 * 1024 * 1024)}"},"path":"a.txt","size":3}\n`;
    const digest = digestBytes(body);
    const res = expectError(await commitRaw(r, writer, "lab/cells", body, digest), 400, "E_BAD_MANIFEST");
    expect(res.message).toContain("longer than 8388608 bytes");
    await expectUnchanged(digest);
  });

  it("refuses a manifest over the registry's total limit with 413 E_TOO_LARGE, declared or not", async () => {
    const never = digestBytes("never uploaded");
    const lines = Array.from({ length: 2000 }, (_, i) => entryLine(`f/${String(i).padStart(5, "0")}`, 3, never)).join("");
    const body = `${HEADER}\n${lines}`;
    expect(body.length).toBeGreaterThan(SMALL_LIMIT);
    const digest = digestBytes(body);
    const url = `/v1/packages/lab/cells/revisions?digest=${digest}`;
    const headers = { ...bearer(writer), "content-type": api.CONTENT_TYPES.manifest };
    // With a content-length: refused before a byte is read.
    const declared = expectError(await small.inject({ method: "POST", url, headers, payload: body }), 413, "E_TOO_LARGE");
    expect(declared.details).toEqual({ maxBytes: SMALL_LIMIT });
    await expectUnchanged(digest);
    // Chunked, without one, over real HTTP: counted as it arrives.
    const address = await small.listen({ port: 0, host: "127.0.0.1" });
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${address}${url}`, { method: "POST", agent: false, headers: { ...headers, "transfer-encoding": "chunked" } }, (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on("error", reject);
      for (let i = 0; i < body.length; i += 4096) req.write(body.slice(i, i + 4096));
      req.end();
    });
    expect({ status: chunked.status, code: (JSON.parse(chunked.body) as { code: string }).code }).toEqual({ status: 413, code: "E_TOO_LARGE" });
    await expectUnchanged(digest);
    // The default limit (2 GiB) lets the same manifest through to its next check.
    expectError(await commitRaw(r, writer, "lab/cells", body, digest), 409, "E_MISSING_BLOBS");
  });

  it("refuses an entry whose size is not its blob's (422 E_SIZE_MISMATCH), naming it", async () => {
    const b = file("b.txt", "bbbb");
    expect((await uploadPack(r, writer, "lab/cells", [b.bytes])).statusCode).toBe(200);
    before = await storedState(r);
    for (const size of [3, 5, 0]) {
      const body = `${HEADER}\n${entryLine("a.txt")}${entryLine("b.txt", size, digestBytes(b.bytes))}`;
      const digest = digestBytes(body);
      const res = expectError(await commitRaw(r, writer, "lab/cells", body, digest), 422, "E_SIZE_MISMATCH");
      expect(res.message).toContain('"b.txt" declares');
      expect(res.details).toEqual({ mismatches: [{ path: "b.txt", digest: digestBytes(b.bytes), declared: size, stored: 4 }] });
      await expectUnchanged(digest);
    }
    // The honest manifest of the same files commits.
    const honest = await manifestOf([a, b]);
    expect((await commitRaw(r, writer, "lab/cells", honest.body, honest.digest)).statusCode).toBe(200);
  });

  it.each([
    ["an unterminated string", "meta.a = 'x", 10],
    ["a dangling operator", "size >", 7],
    ["an unknown field", "sise > 1", 1],
    ["a bare word", "cats", 1],
    ["a NUL", "size = 1\u0000", 9],
  ])("answers a query with %s with 400 E_QUERY_SYNTAX pointing at its column", async (_what, where, column) => {
    const rev = (await r.meta.resolve({ namespace: "lab", name: "cells" }, { kind: "tag", tag: "latest" })).digest;
    const res = await r.app.inject({ url: `/v1/packages/lab/cells/revisions/${rev}/entries?where=${encodeURIComponent(where)}`, headers: bearer(writer) });
    const body = expectError(res, 400, "E_QUERY_SYNTAX");
    expect(body.details).toMatchObject({ column });
  });

  it("answers a query nested 129 levels deep with 400 E_QUERY_SYNTAX, and one over 64 KiB with 400 E_BAD_REQUEST", async () => {
    const rev = (await r.meta.resolve({ namespace: "lab", name: "cells" }, { kind: "tag", tag: "latest" })).digest;
    const entries = (where: string) =>
      r.app.inject({ url: `/v1/packages/lab/cells/revisions/${rev}/entries?where=${encodeURIComponent(where)}`, headers: bearer(writer) });
    expectError(await entries(`${"(".repeat(129)}size = 1${")".repeat(129)}`), 400, "E_QUERY_SYNTAX");
    const long = await entries(`path IN (${Array.from({ length: 12000 }, (_, i) => `'${i}'`).join(",")})`);
    expect(expectError(long, 400, "E_BAD_REQUEST").message).toContain("65536 characters");
  });
});
