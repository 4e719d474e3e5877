import * as api from "@dpkg/core/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRegistry, type TestRegistry } from "../helpers/test-registry.js";

interface Operation {
  summary?: string;
  parameters?: { in: string; name: string; required: boolean; schema: Record<string, unknown> }[];
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }>;
}
interface OpenApi {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, unknown> };
}

const PKG = "/v1/packages/{namespace}/{name}";

describe("OpenAPI description", () => {
  let r: TestRegistry;
  let doc: OpenApi;
  const op = (path: string, method: string): Operation => {
    const found = doc.paths[path]?.[method];
    if (found === undefined) throw new Error(`no ${method} ${path} in the description`);
    return found;
  };

  beforeAll(async () => {
    r = await startTestRegistry();
    const res = await r.app.inject({ url: "/docs/json" });
    expect(res.statusCode).toBe(200);
    doc = res.json<OpenApi>();
  });
  afterAll(() => r.close());

  it("lists every route of the API with a summary", () => {
    const expected = [
      "get /v1/health",
      "get /v1/whoami",
      "post /v1/tokens",
      "get /v1/tokens",
      "delete /v1/tokens/{id}",
      "put /v1/namespaces/{namespace}",
      `get ${PKG}`,
      `get ${PKG}/revisions`,
      `post ${PKG}/revisions`,
      `put ${PKG}/manifests/{digest}`,
      `get ${PKG}/resolve/{ref}`,
      `get ${PKG}/revisions/{digest}/manifest`,
      `get ${PKG}/revisions/{digest}/entries`,
      `get ${PKG}/tags`,
      `get ${PKG}/tag-history`,
      `put ${PKG}/tags/{tag}`,
      `delete ${PKG}/tags/{tag}`,
      `post ${PKG}/blobs/missing`,
      `put ${PKG}/blobs/pack`,
      `put ${PKG}/blobs/{digest}`,
      `post ${PKG}/blobs/locations`,
      "get /v1/objects/{*}",
      "get /v1/search",
    ];
    const listed = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
    expect(new Set(listed)).toEqual(new Set(expected));
    for (const line of expected) {
      const [method = "", path = ""] = line.split(" ");
      expect(op(path, method).summary, line).toEqual(expect.any(String));
    }
    expect(doc.info).toEqual({ title: "dpkg registry", version: "0.0.0-test", description: expect.any(String) });
    expect(doc.components.securitySchemes).toEqual({ bearer: { type: "http", scheme: "bearer" } });
  });

  it("describes the commit's query and response with core's schemas", () => {
    const commit = op(`${PKG}/revisions`, "post");
    const params = Object.fromEntries((commit.parameters ?? []).map((p) => [`${p.in}:${p.name}`, p]));
    expect(params["query:digest"]).toMatchObject({ required: true, schema: { type: "string", pattern: "^blake3:[0-9a-f]{64}$" } });
    expect(params["query:expectParent"]?.required).toBe(false);
    expect(params["path:namespace"]).toMatchObject({ required: true, schema: { pattern: "^[a-z0-9][a-z0-9._-]{0,63}$" } });
    const ok = commit.responses["200"]?.content?.["application/json"]?.schema;
    expect(ok).toMatchObject({ type: "object", required: ["revision", "unchanged", "tags"] });
  });

  it("describes JSON request bodies and limits", () => {
    const missing = op(`${PKG}/blobs/missing`, "post").requestBody?.content["application/json"]?.schema;
    expect(missing).toMatchObject({
      type: "object",
      required: ["digests"],
      properties: { digests: { type: "array", maxItems: api.MAX_DIGESTS_PER_CALL } },
    });
    const tag = op(`${PKG}/tags/{tag}`, "put").requestBody?.content["application/json"]?.schema;
    expect(tag).toMatchObject({ required: ["target"] });
    const token = op("/v1/tokens", "post").requestBody?.content["application/json"]?.schema;
    expect(token).toMatchObject({ required: ["name", "scopes"] });
  });

  it("describes the read responses", () => {
    expect(op(PKG, "get").responses["200"]?.content?.["application/json"]?.schema).toMatchObject({
      required: expect.arrayContaining(["namespace", "name", "latest", "tags", "public"]),
    });
    expect(op(`${PKG}/blobs/locations`, "post").responses["200"]?.content?.["application/json"]?.schema).toMatchObject({
      required: ["groups", "unknown"],
    });
    const search = op("/v1/search", "get").parameters ?? [];
    expect(search.find((p) => p.name === "q")).toMatchObject({ in: "query", required: true, schema: { minLength: 1 } });
  });

  it("serves the interactive documentation as HTML, with its assets", async () => {
    const html = await r.app.inject({ url: "/docs" });
    expect(html.statusCode).toBe(200);
    expect(html.headers["content-type"]).toMatch(/^text\/html/);
    expect(html.body).toContain("<html");
    expect(html.body).toContain("Swagger UI");
    const css = await r.app.inject({ url: "/docs/static/swagger-ui.css" });
    expect(css.statusCode).toBe(200);
  });
});
