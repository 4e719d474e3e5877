import * as api from "@dpkg/core/api";
import { digestBytes } from "@dpkg/core";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUrlSigner } from "../../src/http/url-signer.js";
import { file } from "../helpers/push-data.js";
import { startTestRegistry, type TestRegistry } from "../helpers/test-registry.js";
import { bearer, expectError, publish } from "./http-fixtures.js";

/**
 * The folder store's object URLs are capabilities: whoever holds one reads exactly the signed range
 * of exactly the signed object until it expires, and nothing else.
 */
describe("registry-signed object URLs", () => {
  let r: TestRegistry;
  let group: api.LocationGroup;
  let path: string;
  let query: URLSearchParams;
  const files = [file("a.txt", "first blob"), file("b.txt", "second blob"), file("c.txt", "third blob")];
  /** The secret startTestRegistry gives the app. */
  const signer = createUrlSigner(new Uint8Array(32).fill(7));

  const fetchObject = (search: URLSearchParams, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> =>
    r.app.inject({ url: `${path}?${search.toString()}`, headers });
  const withParams = (changes: Record<string, string>): URLSearchParams => {
    const q = new URLSearchParams(query);
    for (const [k, v] of Object.entries(changes)) q.set(k, v);
    return q;
  };

  beforeAll(async () => {
    r = await startTestRegistry();
    await publish(r, r.adminToken, "lab/cells", files);
    // Ask for the middle blob only: its signed range is strictly inside the pack.
    const res = await r.app.inject({
      method: "POST",
      url: "/v1/packages/lab/cells/blobs/locations",
      headers: bearer(r.adminToken),
      payload: { digests: [digestBytes(files[1]!.bytes)] },
    });
    group = res.json<api.LocationsResponse>().groups[0]!;
    expect(group.viaRegistry).toBe(true);
    const url = new URL(group.url);
    path = url.pathname;
    query = url.searchParams;
  });
  afterAll(() => r.close());

  it("serves the signed range to anyone holding the URL", async () => {
    const res = await fetchObject(query);
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-length"]).toBe(String(group.end - group.start));
    expect(digestBytes(res.rawPayload)).toBe(digestBytes(files[1]!.bytes));
  });

  it("serves a narrower Range inside the signed range with 206", async () => {
    const res = await fetchObject(query, { range: `bytes=${group.start + 1}-${group.end - 1}` });
    expect(res.statusCode).toBe(206);
    expect(res.headers["content-range"]).toBe(`bytes ${group.start + 1}-${group.end - 1}/*`);
    expect(res.rawPayload.toString()).toBe("econd blob");
  });

  it("refuses a Range reaching outside the signed range with 403 E_FORBIDDEN", async () => {
    expectError(await fetchObject(query, { range: `bytes=0-${group.end - 1}` }), 403, "E_FORBIDDEN");
    expectError(await fetchObject(query, { range: `bytes=${group.start}-${group.end}` }), 403, "E_FORBIDDEN");
    expectError(await fetchObject(query, { range: "bytes=0-" }), 403, "E_FORBIDDEN");
    expectError(await fetchObject(query, { range: "bytes=-5" }), 400, "E_BAD_REQUEST");
  });

  it("refuses a URL whose range, expiry or object was changed with 403 E_FORBIDDEN", async () => {
    expectError(await fetchObject(withParams({ start: "0" })), 403, "E_FORBIDDEN");
    expectError(await fetchObject(withParams({ end: String(group.end + 10) })), 403, "E_FORBIDDEN");
    expectError(await fetchObject(withParams({ expires: String(Number(query.get("expires")) + 3600) })), 403, "E_FORBIDDEN");
    expectError(await fetchObject(withParams({ sig: "A".repeat(43) })), 403, "E_FORBIDDEN");
    const otherKey = await r.app.inject({ url: `${path.replace(/\.pack$/, ".idx")}?${query.toString()}` });
    expectError(otherKey, 403, "E_FORBIDDEN");
  });

  it("refuses an expired URL with 403 E_FORBIDDEN saying so", async () => {
    const key = path.slice("/v1/objects/".length);
    const expires = Math.floor(Date.now() / 1000) - 1;
    const sig = signer.sign({ key, start: group.start, end: group.end, expires });
    const body = expectError(await fetchObject(withParams({ expires: String(expires), sig })), 403, "E_FORBIDDEN");
    expect(body.message).toContain("expired");
  });

  it("refuses a URL without its signature parameters with 400", async () => {
    expectError(await r.app.inject({ url: path }), 400, "E_BAD_REQUEST");
  });
});
