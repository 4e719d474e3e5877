import { digestBytes, type Digest } from "@dpkg/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { file, manifestOf, tarOf } from "../helpers/push-data.js";
import { startTestRegistry, type TestRegistry } from "../helpers/test-registry.js";

const files = [
  file("images/a.tif", "aaaa", { channel: "dna", cell_line: "AICS-12" }),
  file("images/b.tif", "bbbbbb", { channel: "membrane", cell_line: "AICS-12" }),
  file("labels/c.csv", "x,y\n1,2\n", { split: "train" }),
  file("big.bin", new Uint8Array(100_000).map((_, i) => (i * 31) % 251)),
];

for (const store of ["fs", "s3"] as const) {
  describe(`push and read over HTTP (${store} store)`, () => {
    let r: TestRegistry;
    let auth: { authorization: string };
    beforeAll(async () => {
      r = await startTestRegistry({ store });
      auth = { authorization: `Bearer ${r.adminToken}` };
    });
    afterAll(() => r.close());

    const small = files.filter((f) => f.bytes.length < 32 * 1024);
    const big = files.find((f) => f.path === "big.bin")!;

    it("reports every blob missing, takes a tar of small blobs and a large blob, then reports none", async () => {
      const digests = files.map((f) => digestBytes(f.bytes));
      const before = await r.app.inject({ method: "POST", url: "/v1/packages/lab/cells/blobs/missing", headers: auth, payload: { digests } });
      expect(before.statusCode).toBe(200);
      expect(new Set(before.json<{ missing: string[] }>().missing)).toEqual(new Set(digests));

      const tar = await tarOf(small.map((f) => f.bytes));
      const up = await r.app.inject({
        method: "PUT",
        url: "/v1/packages/lab/cells/blobs/pack",
        headers: { ...auth, "content-type": "application/x-tar" },
        payload: tar,
      });
      expect(up.statusCode, up.body).toBe(200);
      expect(up.json<{ stored: unknown[] }>().stored).toHaveLength(small.length);

      const large = await r.app.inject({
        method: "PUT",
        url: `/v1/packages/lab/cells/blobs/${digestBytes(big.bytes)}`,
        headers: { ...auth, "content-type": "application/octet-stream" },
        payload: Buffer.from(big.bytes),
      });
      expect(large.statusCode, large.body).toBe(200);

      const after = await r.app.inject({ method: "POST", url: "/v1/packages/lab/cells/blobs/missing", headers: auth, payload: { digests } });
      expect(after.json()).toEqual({ missing: [] });
    });

    let revision: Digest;
    it("commits the manifest, and reports an identical second commit as unchanged", async () => {
      const m = await manifestOf(files, { title: "Cell images", description: "AICS cells" });
      const url = `/v1/packages/lab/cells/revisions?digest=${m.digest}&message=first&tag=v1`;
      const headers = { ...auth, "content-type": "application/x-dpkg-manifest+jsonl" };
      const res = await r.app.inject({ method: "POST", url, headers, payload: m.body });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json<{ revision: { digest: Digest; parent: null; message: string; entryCount: number }; unchanged: boolean; tags: string[] }>();
      expect(body.revision).toMatchObject({ digest: m.digest, parent: null, message: "first", entryCount: 4 });
      expect(body.unchanged).toBe(false);
      expect(new Set(body.tags)).toEqual(new Set(["latest", "v1"]));
      revision = m.digest;

      const again = await r.app.inject({ method: "POST", url, headers, payload: m.body });
      expect(again.json<{ unchanged: boolean }>().unchanged).toBe(true);
    });

    it("serves package info, log, refs and the manifest bytes", async () => {
      const info = await r.app.inject({ url: "/v1/packages/lab/cells", headers: auth });
      expect(info.json()).toMatchObject({ namespace: "lab", name: "cells", meta: { title: "Cell images" }, tags: { latest: revision, v1: revision } });
      const log = await r.app.inject({ url: "/v1/packages/lab/cells/revisions", headers: auth });
      expect(log.json<{ revisions: unknown[] }>().revisions).toHaveLength(1);
      for (const ref of ["latest", "v1", revision.slice(0, 15), revision]) {
        const res = await r.app.inject({ url: `/v1/packages/lab/cells/resolve/${ref}`, headers: auth });
        expect(res.json(), ref).toEqual({ digest: revision, ref });
      }
      const manifest = await r.app.inject({ url: `/v1/packages/lab/cells/revisions/${revision}/manifest`, headers: auth });
      expect(manifest.statusCode).toBe(200);
      expect(manifest.body).toBe((await manifestOf(files, { title: "Cell images", description: "AICS cells" })).body.toString());
      expect(digestBytes(manifest.rawPayload)).toBe(revision);
    });

    it("selects entries with --where and --path in the database", async () => {
      const q = new URLSearchParams({ where: "meta.cell_line = 'AICS-12' AND size < 5" });
      const res = await r.app.inject({ url: `/v1/packages/lab/cells/revisions/${revision}/entries?${q.toString()}`, headers: auth });
      expect(res.statusCode, res.body).toBe(200);
      const lines = res.body.trim().split("\n").map((l) => JSON.parse(l) as { path: string });
      expect(lines.map((l) => l.path)).toEqual(["images/a.tif"]);
      const byPath = await r.app.inject({ url: `/v1/packages/lab/cells/revisions/${revision}/entries?path=labels`, headers: auth });
      expect(byPath.body.trim().split("\n").map((l) => (JSON.parse(l) as { path: string }).path)).toEqual(["labels/c.csv"]);
      const bad = await r.app.inject({ url: `/v1/packages/lab/cells/revisions/${revision}/entries?where=size%20%3C%3C%201`, headers: auth });
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toMatchObject({ code: "E_QUERY_SYNTAX", details: { column: expect.any(Number) } });
    });

    it("gives signed ranged URLs whose bytes hash to each blob's digest", async () => {
      const digests = files.map((f) => digestBytes(f.bytes));
      const res = await r.app.inject({ method: "POST", url: "/v1/packages/lab/cells/blobs/locations", headers: auth, payload: { digests } });
      expect(res.statusCode, res.body).toBe(200);
      const { groups, unknown } = res.json<{ groups: { url: string; start: number; end: number; viaRegistry: boolean; blobs: { digest: string; size: number; offset: number }[] }[]; unknown: string[] }>();
      expect(unknown).toEqual([]);
      expect(groups.length).toBeLessThan(digests.length); // the small blobs share a pack range
      const seen = new Set<string>();
      for (const g of groups) {
        const headers = { range: `bytes=${g.start}-${g.end - 1}` };
        let bytes: Buffer;
        if (g.viaRegistry) {
          const u = new URL(g.url);
          const got = await r.app.inject({ url: u.pathname + u.search, headers });
          expect(got.statusCode, got.body).toBe(206);
          bytes = got.rawPayload;
        } else {
          bytes = Buffer.from(await (await fetch(g.url, { headers })).arrayBuffer());
        }
        expect(bytes.length).toBe(g.end - g.start);
        for (const b of g.blobs) {
          expect(digestBytes(bytes.subarray(b.offset, b.offset + b.size))).toBe(b.digest);
          seen.add(b.digest);
        }
      }
      expect(seen).toEqual(new Set(digests));
    });

    it("answers blobs this package does not reference as unknown", async () => {
      const other = digestBytes("not in the package");
      const res = await r.app.inject({ method: "POST", url: "/v1/packages/lab/cells/blobs/locations", headers: auth, payload: { digests: [other] } });
      expect(res.json()).toEqual({ groups: [], unknown: [other] });
    });
  });
}
