import * as api from "@dpkg/core/api";
import { type Digest, type ErrorCode, type JsonObject } from "@dpkg/core";
import type { LightMyRequestResponse } from "fastify";
import { expect } from "vitest";
import { manifestOf, tarOf, type TestFile } from "../helpers/push-data.js";
import type { TestRegistry } from "../helpers/test-registry.js";

/** Shared steps of the HTTP tests: publishing over the API and checking error bodies. */

export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

/** Uploads blobs as one tar stream (the small-blob route) to `pkg` ("ns/name"). */
export function uploadPack(r: TestRegistry, token: string, pkg: string, blobs: Uint8Array[]): Promise<LightMyRequestResponse> {
  return tarOf(blobs).then((payload) =>
    r.app.inject({
      method: "PUT",
      url: `/v1/packages/${pkg}/blobs/pack`,
      headers: { ...bearer(token), "content-type": api.CONTENT_TYPES.tar },
      payload,
    }),
  );
}

/** Commits manifest bytes as they are, declared to hash to `digest`; `query` adds e.g. `&tag=v1`. */
export function commitRaw(
  r: TestRegistry,
  token: string,
  pkg: string,
  body: Uint8Array | string,
  digest: Digest,
  query = "",
): Promise<LightMyRequestResponse> {
  return r.app.inject({
    method: "POST",
    url: `/v1/packages/${pkg}/revisions?digest=${digest}${query}`,
    headers: { ...bearer(token), "content-type": api.CONTENT_TYPES.manifest },
    payload: typeof body === "string" ? body : Buffer.from(body),
  });
}

/** Uploads the files' bytes and commits their manifest; returns the revision digest. */
export async function publish(
  r: TestRegistry,
  token: string,
  pkg: string,
  files: TestFile[],
  meta: JsonObject = {},
  query = "",
): Promise<Digest> {
  if (files.length > 0) {
    const up = await uploadPack(r, token, pkg, files.map((f) => f.bytes));
    expect(up.statusCode, up.body).toBe(200);
  }
  const m = await manifestOf(files, meta);
  const res = await commitRaw(r, token, pkg, m.body, m.digest, query);
  expect(res.statusCode, res.body).toBe(200);
  return m.digest;
}

/**
 * Checks that `res` is the error `code` with `status`, and that its body has every field an error
 * body promises (statusCode, code, message, hint, requestId); returns the body.
 */
export function expectError(res: LightMyRequestResponse, status: number, code: ErrorCode): api.ErrorBody {
  expect({ status: res.statusCode, code: errorCode(res) }, res.body).toEqual({ status, code });
  const body = res.json<api.ErrorBody>();
  expect(body).toMatchObject({
    statusCode: status,
    code,
    message: expect.any(String),
    hint: expect.any(String),
    requestId: expect.any(String),
  });
  expect(body.message.length).toBeGreaterThan(0);
  expect(body.hint.length).toBeGreaterThan(0);
  expect(res.headers["content-type"]).toMatch(/^application\/json/);
  return body;
}

/** The `code` of a JSON error body, or null for anything else. */
export function errorCode(res: LightMyRequestResponse): string | null {
  try {
    const body: unknown = res.json();
    return typeof body === "object" && body !== null && "code" in body && typeof body.code === "string" ? body.code : null;
  } catch {
    return null;
  }
}

/** "200" or "404 E_NOT_FOUND": a response's status and error code in one comparable string. */
export function outcome(res: LightMyRequestResponse): string {
  const code = res.statusCode >= 400 ? errorCode(res) : null;
  return code === null ? String(res.statusCode) : `${res.statusCode} ${code}`;
}
