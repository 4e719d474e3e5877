import * as api from "@dpkg/core/api";
import { digestBytes } from "@dpkg/core";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashTokenSecret } from "../../src/tokens.js";
import { file } from "../helpers/push-data.js";
import { startTestRegistry, type TestRegistry } from "../helpers/test-registry.js";
import { bearer, publish } from "./http-fixtures.js";

/** Collects pino's JSON lines. */
class LineCollector extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.lines.push(...chunk.toString("utf8").split("\n").filter((l) => l !== ""));
    done();
  }
}

interface LogLine {
  reqId?: string;
  msg?: string;
  code?: string;
  reason?: string;
  req?: { url?: string };
}

for (const store of ["fs", "s3"] as const) {
  describe(`request logs (${store} store)`, () => {
    const logs = new LineCollector();
    let r: TestRegistry;
    let writer: string;
    const files = [file("a.txt", "aaaa"), file("b.txt", "bbbb")];

    beforeAll(async () => {
      r = await startTestRegistry({ store, logLevel: "info", logStream: logs });
      writer = await r.token([{ kind: "write", pattern: "lab" }], "writer");
      await publish(r, writer, "lab/cells", files);

      const loc = await r.app.inject({
        method: "POST",
        url: "/v1/packages/lab/cells/blobs/locations",
        headers: { ...bearer(writer), "x-request-id": "req-locations" },
        payload: { digests: files.map((f) => digestBytes(f.bytes)) },
      });
      expect(loc.statusCode, loc.body).toBe(200);
      for (const g of loc.json<api.LocationsResponse>().groups) {
        const url = new URL(g.url);
        expect(url.search).toMatch(store === "fs" ? /[?&]sig=/ : /X-Amz-Signature=/);
        if (g.viaRegistry) {
          const got = await r.app.inject({ url: url.pathname + url.search, headers: { "x-request-id": "req-object" } });
          expect(got.statusCode).toBe(200);
          // A tampered signature is refused and logged as such, still without the signature.
          const bad = await r.app.inject({ url: url.pathname + url.search.replace(/sig=[^&]+/, "sig=AAAA") });
          expect(bad.statusCode).toBe(403);
        }
      }
      await r.app.inject({ url: "/v1/whoami", headers: { authorization: "Bearer dpkg_wrong-secret-for-the-log-test" } });
      await r.app.inject({ url: "/v1/packages/lab/cells", headers: { ...bearer(writer), "x-request-id": "req-info" } });
    });
    afterAll(() => r.close());

    const parsed = (): LogLine[] => logs.lines.map((l) => JSON.parse(l) as LogLine);

    it("writes JSON lines that carry each request's id", () => {
      const lines = parsed();
      expect(lines.length).toBeGreaterThan(5);
      for (const id of ["req-locations", "req-info", ...(store === "fs" ? ["req-object"] : [])]) {
        const mine = lines.filter((l) => l.reqId === id);
        expect(mine.map((l) => l.msg)).toEqual(expect.arrayContaining(["incoming request", "request completed"]));
      }
      for (const l of lines.filter((x) => x.msg === "incoming request")) expect(l.reqId).toEqual(expect.any(String));
    });

    it("logs why a request was refused, as one well-formed JSON object per line", () => {
      for (const line of logs.lines) expect(line.match(/"msg":/g), line).toHaveLength(1);
      const refused = parsed().filter((l) => l.msg === "request refused");
      expect(refused).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ code: "E_UNAUTHORIZED", reason: "the token is not valid (unknown, revoked or malformed)" }),
        ]),
      );
    });

    it("never logs a token secret, nor the header that carries it", () => {
      const text = logs.lines.join("\n");
      expect(text).not.toContain(writer);
      expect(text).not.toContain(r.adminToken);
      expect(text).not.toContain("dpkg_wrong-secret-for-the-log-test");
      expect(text).not.toMatch(/Bearer\s+\S/);
    });

    it("never stores a token secret: no file of the registry holds one, the index only its SHA-256", async () => {
      const secrets = [writer, r.adminToken].map((t) => Buffer.from(t));
      for (const e of await readdir(r.dir, { recursive: true, withFileTypes: true })) {
        if (!e.isFile()) continue;
        const bytes = await readFile(join(e.parentPath, e.name));
        for (const secret of secrets) expect(bytes.includes(secret), join(e.parentPath, e.name)).toBe(false);
      }
      const stored = await r.meta.findToken(hashTokenSecret(writer));
      expect(stored?.name).toBe("writer");
    });

    it("never logs a URL signature", () => {
      const text = logs.lines.join("\n");
      expect(text).not.toMatch(/sig=(?!\[redacted\])/);
      expect(text).not.toMatch(/X-Amz-Signature=(?!\[redacted\])/i);
      expect(text).not.toMatch(/X-Amz-Credential=(?!\[redacted\])/i);
      if (store === "fs") {
        const objectLines = parsed().filter((l) => l.req?.url?.startsWith("/v1/objects/") === true);
        expect(objectLines.length).toBeGreaterThanOrEqual(2);
        for (const l of objectLines) expect(l.req?.url).toContain("sig=[redacted]");
      }
    });
  });
}
