import * as api from "@dpkg/core/api";
import { digestBytes, type Digest } from "@dpkg/core";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blobKey } from "../../src/blob-store/layout.js";
import { manifestOf, tarOf } from "../helpers/push-data.js";
import { startTestRegistry, type TestRegistry } from "../helpers/test-registry.js";
import { bearer, expectError } from "./http-fixtures.js";

const bytes = (text: string, repeat = 1): Uint8Array => new TextEncoder().encode(text.repeat(repeat));
/** Above the test registry's 32 KiB large-blob threshold: stored as an object of its own. */
const LARGE = bytes("large blob content ", 3000);

describe("upload errors", () => {
  let r: TestRegistry;
  let writer: string;

  async function missing(digests: Digest[]): Promise<Digest[]> {
    const res = await r.app.inject({ method: "POST", url: "/v1/packages/lab/up/blobs/missing", headers: bearer(writer), payload: { digests } });
    return res.json<api.MissingResponse>().missing as Digest[];
  }
  function putPack(payload: Buffer | string, contentType: string = api.CONTENT_TYPES.tar): Promise<LightMyRequestResponse> {
    return r.app.inject({ method: "PUT", url: "/v1/packages/lab/up/blobs/pack", headers: { ...bearer(writer), "content-type": contentType }, payload });
  }
  function putBlob(digest: string, payload: Uint8Array | string, contentType: string = api.CONTENT_TYPES.blob): Promise<LightMyRequestResponse> {
    return r.app.inject({
      method: "PUT",
      url: `/v1/packages/lab/up/blobs/${digest}`,
      headers: { ...bearer(writer), "content-type": contentType },
      payload: typeof payload === "string" ? payload : Buffer.from(payload),
    });
  }

  beforeAll(async () => {
    r = await startTestRegistry();
    writer = await r.token([{ kind: "write", pattern: "lab" }], "writer");
  });
  afterAll(() => r.close());

  it("refuses a tar member whose bytes do not match its name with 422 E_INTEGRITY; neither digest becomes held", async () => {
    const claimed = digestBytes("what the name says");
    const sent = bytes("what was actually sent");
    const body = expectError(await putPack(await tarOf([sent], () => claimed)), 422, "E_INTEGRITY");
    expect(body.message).toContain(claimed);
    expect(await missing([claimed, digestBytes(sent)])).toEqual([claimed, digestBytes(sent)]);
  });

  it("refuses a large tar member whose bytes do not match its name and leaves no object under that digest", async () => {
    const claimed = digestBytes("claimed large");
    expectError(await putPack(await tarOf([LARGE], () => claimed)), 422, "E_INTEGRITY");
    expect(await missing([claimed])).toEqual([claimed]);
    expect(await r.blobs.stat(blobKey(claimed))).toBeNull();
  });

  it("refuses a tar member not named by a digest with 400 E_BAD_REQUEST", async () => {
    const res = expectError(await putPack(await tarOf([bytes("x")], () => "notes.txt")), 400, "E_BAD_REQUEST");
    expect(res.details).toEqual({ member: "notes.txt" });
  });

  it.each([
    { what: "small", blob: bytes("small member, cut short ", 40) },
    { what: "large", blob: LARGE },
  ])("refuses a tar truncated inside a $what member with 400 and stores nothing of that member", async ({ blob }) => {
    const digest = digestBytes(blob);
    const tar = await tarOf([blob]);
    const cut = tar.subarray(0, 512 + Math.floor(blob.length / 2)); // header block + half the data
    expectError(await putPack(Buffer.from(cut)), 400, "E_BAD_REQUEST");
    expect(await missing([digest])).toEqual([digest]);
    expect(await r.blobs.stat(blobKey(digest))).toBeNull();
  });

  it("refuses a body that is not a tar at all with 400", async () => {
    expectError(await putPack(Buffer.from("this is not a tar archive, not even close ".repeat(20))), 400, "E_BAD_REQUEST");
  });

  it("refuses a blob whose bytes do not hash to the digest in the URL with 422 E_INTEGRITY and stores nothing", async () => {
    const claimed = digestBytes(LARGE.subarray(1));
    const body = expectError(await putBlob(claimed, LARGE), 422, "E_INTEGRITY");
    expect(body.message).toContain(claimed);
    expect(await missing([claimed, digestBytes(LARGE)])).toEqual([claimed, digestBytes(LARGE)]);
    expect(await r.blobs.stat(blobKey(claimed))).toBeNull();
  });

  it("refuses a blob upload whose digest in the URL is malformed with 400", async () => {
    expectError(await putBlob("blake3:NOTHEX", "x"), 400, "E_BAD_REQUEST");
    expectError(await putBlob("sha256:" + "0".repeat(64), "x"), 400, "E_BAD_REQUEST");
  });

  describe("content types of streaming routes", () => {
    it("refuses a pack sent as JSON, as text, or with no body, with 400", async () => {
      expectError(await putPack('{"blobs":[]}', "application/json"), 400, "E_BAD_REQUEST");
      expectError(await putPack("hello", "text/plain"), 400, "E_BAD_REQUEST");
      const none = await r.app.inject({ method: "PUT", url: "/v1/packages/lab/up/blobs/pack", headers: bearer(writer) });
      expectError(none, 400, "E_BAD_REQUEST");
    });

    it("refuses a blob sent as JSON or text with 400", async () => {
      const digest = digestBytes("abc");
      expectError(await putBlob(digest, '"abc"', "application/json"), 400, "E_BAD_REQUEST");
      expectError(await putBlob(digest, "abc", "text/plain"), 400, "E_BAD_REQUEST");
      expect(await missing([digest])).toEqual([digest]);
    });

    it("refuses a streaming body sent with another streaming route's content type with 400", async () => {
      const tar = await tarOf([bytes("member")]);
      const asBlob = await putPack(tar, api.CONTENT_TYPES.blob);
      const body = expectError(asBlob, 400, "E_BAD_REQUEST");
      expect(body.details).toEqual({ expectedContentType: api.CONTENT_TYPES.tar });
      expect(await missing([digestBytes(bytes("member"))])).toHaveLength(1);

      const m = await manifestOf([]);
      const commit = await r.app.inject({
        method: "POST",
        url: `/v1/packages/lab/up/revisions?digest=${m.digest}`,
        headers: { ...bearer(writer), "content-type": api.CONTENT_TYPES.tar },
        payload: m.body,
      });
      expectError(commit, 400, "E_BAD_REQUEST");
      expectError(await r.app.inject({ url: "/v1/packages/lab/up", headers: bearer(writer) }), 404, "E_NOT_FOUND");
    });

    it("accepts content types with parameters and in any case", async () => {
      const blob = bytes("parameterised");
      const res = await putBlob(digestBytes(blob), blob, "Application/Octet-Stream; charset=binary");
      expect(res.statusCode, res.body).toBe(200);
    });
  });

  it("refuses a JSON body over the limit with 413 E_TOO_LARGE", async () => {
    const digests = Array.from({ length: 9_000 }, (_, i) => digestBytes(String(i)));
    const payload = JSON.stringify({ digests, padding: "x".repeat(1024 * 1024) });
    const res = await r.app.inject({
      method: "POST",
      url: "/v1/packages/lab/up/blobs/missing",
      headers: { ...bearer(writer), "content-type": "application/json" },
      payload,
    });
    expectError(res, 413, "E_TOO_LARGE");
  });

  it.each([
    { what: "invalid JSON", payload: '{"digests": [' },
    { what: "an empty JSON body", payload: "" },
    { what: "JSON of the wrong shape", payload: '{"digests": "blake3:00"}' },
    { what: "an unexpected field", payload: '{"digests": [], "all": true}' },
  ])("refuses $what with 400 E_BAD_REQUEST", async ({ payload }) => {
    const res = await r.app.inject({
      method: "POST",
      url: "/v1/packages/lab/up/blobs/missing",
      headers: { ...bearer(writer), "content-type": "application/json" },
      payload,
    });
    expectError(res, 400, "E_BAD_REQUEST");
  });

  it("refuses a batch of more digests than one call takes with 400", async () => {
    const digests = Array.from({ length: api.MAX_DIGESTS_PER_CALL + 1 }, () => digestBytes("same"));
    const res = await r.app.inject({ method: "POST", url: "/v1/packages/lab/up/blobs/missing", headers: bearer(writer), payload: { digests } });
    expectError(res, 400, "E_BAD_REQUEST");
  });
});
