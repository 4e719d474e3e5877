import * as api from "@dpkg/core/api";
import { digestBytes, type Digest } from "@dpkg/core";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { file } from "../helpers/push-data.js";
import { startTestRegistry, type TestRegistry } from "../helpers/test-registry.js";
import { bearer, expectError, publish } from "./http-fixtures.js";

describe("tags over HTTP", () => {
  let r: TestRegistry;
  let alice: string;
  let bob: string;
  let v1: Digest;
  let v2: Digest;
  let elsewhere: Digest;
  const tagUrl = (tag: string): string => `/v1/packages/lab/cells/tags/${tag}`;
  const setTag = (token: string, tag: string, target: string): Promise<LightMyRequestResponse> =>
    r.app.inject({ method: "PUT", url: tagUrl(tag), headers: bearer(token), payload: { target } });
  const deleteTag = (token: string, tag: string): Promise<LightMyRequestResponse> =>
    r.app.inject({ method: "DELETE", url: tagUrl(tag), headers: bearer(token) });
  const tags = async (): Promise<Record<string, string>> =>
    (await r.app.inject({ url: "/v1/packages/lab/cells/tags", headers: bearer(alice) })).json<{ tags: Record<string, string> }>().tags;
  const history = async (tag?: string): Promise<api.TagMove[]> =>
    (await r.app.inject({ url: `/v1/packages/lab/cells/tag-history${tag === undefined ? "" : `?tag=${tag}`}`, headers: bearer(alice) })).json<{
      moves: api.TagMove[];
    }>().moves;

  beforeAll(async () => {
    r = await startTestRegistry();
    alice = await r.token([{ kind: "write", pattern: "lab" }], "alice");
    bob = await r.token([{ kind: "write", pattern: "lab" }], "bob");
    v1 = await publish(r, alice, "lab/cells", [file("a.txt", "one")], { title: "v1" }, "&tag=stable");
    v2 = await publish(r, bob, "lab/cells", [file("a.txt", "two")], { title: "v2" });
    elsewhere = await publish(r, alice, "lab/other", [file("a.txt", "elsewhere")]);
  });
  afterAll(() => r.close());

  it("logs the commits' tag moves with who made them, oldest first", async () => {
    expect(await tags()).toEqual({ latest: v2, stable: v1 });
    const moves = await history();
    expect(moves.map(({ tag, from, to, by }) => ({ tag, from, to, by }))).toEqual([
      { tag: "latest", from: null, to: v1, by: "alice" },
      { tag: "stable", from: null, to: v1, by: "alice" },
      { tag: "latest", from: v1, to: v2, by: "bob" },
    ]);
  });

  it("sets, moves and deletes a tag, logging who, when, from and to for each move", async () => {
    const started = Date.now();
    const set = await setTag(alice, "prod", v1);
    expect(set.statusCode, set.body).toBe(200);
    expect(set.json()).toMatchObject({ tag: "prod", from: null, to: v1, by: "alice" });
    expect((await setTag(bob, "prod", v2)).json()).toMatchObject({ tag: "prod", from: v1, to: v2, by: "bob" });
    expect(await tags()).toEqual({ latest: v2, stable: v1, prod: v2 });
    const del = await deleteTag(alice, "prod");
    expect(del.statusCode, del.body).toBe(200);
    expect(del.json()).toMatchObject({ tag: "prod", from: v2, to: null, by: "alice" });
    expect(await tags()).toEqual({ latest: v2, stable: v1 });

    const moves = await history("prod");
    expect(moves.map(({ tag, from, to, by }) => ({ tag, from, to, by }))).toEqual([
      { tag: "prod", from: null, to: v1, by: "alice" },
      { tag: "prod", from: v1, to: v2, by: "bob" },
      { tag: "prod", from: v2, to: null, by: "alice" },
    ]);
    const times = moves.map((m) => Date.parse(m.at));
    expect([...times].sort((x, y) => x - y)).toEqual(times);
    for (const t of times) expect(t).toBeGreaterThanOrEqual(started - 1000);
    expect(times.at(-1)!).toBeLessThanOrEqual(Date.now());
  });

  it("does not log a tag set to where it already points", async () => {
    const before = await history();
    const res = await setTag(alice, "stable", v1);
    expect(res.json()).toMatchObject({ tag: "stable", from: v1, to: v1 });
    expect(await history()).toEqual(before);
  });

  it("refuses a tag target that is only a digest prefix with 400 (targets are full digests)", async () => {
    expectError(await setTag(alice, "short", v1.slice(0, 20)), 400, "E_BAD_REQUEST");
  });

  it("refuses to delete latest with 400 E_BAD_TAG and keeps it", async () => {
    const body = expectError(await deleteTag(alice, "latest"), 400, "E_BAD_TAG");
    expect(body.message).toContain("latest");
    expect((await tags()).latest).toBe(v2);
  });

  it("moves latest back on request, and package info follows it", async () => {
    expect((await setTag(bob, "latest", v1)).json()).toMatchObject({ from: v2, to: v1, by: "bob" });
    const info = (await r.app.inject({ url: "/v1/packages/lab/cells", headers: bearer(alice) })).json<api.PackageInfo>();
    expect(info.latest?.digest).toBe(v1);
    expect(info.meta).toEqual({ title: "v1" });
    await setTag(bob, "latest", v2);
  });

  it("refuses a tag pointing at a revision of another package, or at no revision, with 404 E_NOT_FOUND", async () => {
    const before = await history();
    expectError(await setTag(alice, "borrowed", elsewhere), 404, "E_NOT_FOUND");
    expectError(await setTag(alice, "borrowed", digestBytes("no revision")), 404, "E_NOT_FOUND");
    expect(await tags()).not.toHaveProperty("borrowed");
    expect(await history()).toEqual(before);
  });

  it("answers deleting a tag that does not exist with 404 E_NOT_FOUND", async () => {
    expectError(await deleteTag(alice, "never-was"), 404, "E_NOT_FOUND");
  });

  it("answers tag routes of a package that does not exist with 404 E_NOT_FOUND", async () => {
    const res = await r.app.inject({ method: "PUT", url: "/v1/packages/lab/ghost/tags/x", headers: bearer(alice), payload: { target: v1 } });
    expectError(res, 404, "E_NOT_FOUND");
  });
});

describe("search over HTTP", () => {
  let r: TestRegistry;
  let reader: string;
  const search = async (q: string, token?: string): Promise<api.SearchResponse["hits"]> => {
    const res = await r.app.inject({ url: `/v1/search?q=${encodeURIComponent(q)}`, headers: token === undefined ? {} : bearer(token) });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<api.SearchResponse>().hits;
  };
  const names = (hits: api.SearchResponse["hits"]): string[] => hits.map((h) => `${h.namespace}/${h.name}`);

  beforeAll(async () => {
    r = await startTestRegistry();
    const admin = r.adminToken;
    await publish(r, admin, "lab/cells", [file("images/nucleus.tif", "n"), file("images/membrane.tif", "m")], {
      title: "Cell microscopy",
      description: "Fluorescent images of stem cells",
    });
    await publish(r, admin, "lab/genomes", [file("fasta/chr1.fa", "ACGT")], { title: "Human genome assemblies" });
    await publish(r, admin, "lab/zebrafish", [file("readme.txt", "z")], { title: "Embryo series" });
    await publish(r, admin, "lab/aquarium", [file("zebrafish/tank1.csv", "t")], { title: "Tank sensors" });
    await publish(r, admin, "vault/cells", [file("images/nucleus.tif", "secret n")], { title: "Secret cell microscopy" });
    await publish(r, admin, "open/cells", [file("atlas.csv", "o")], { title: "Open cell atlas" });
    await r.app.inject({ method: "PUT", url: "/v1/namespaces/open", headers: bearer(admin), payload: { public: true } });
    reader = await r.token([{ kind: "read", pattern: "lab" }], "reader");
  });
  afterAll(() => r.close());

  it("finds a package by its name", async () => {
    expect(names(await search("genomes", reader))).toEqual(["lab/genomes"]);
  });

  it("finds packages by words of their title and description", async () => {
    expect(names(await search("assemblies", reader))).toEqual(["lab/genomes"]);
    expect(names(await search("fluorescent stem", reader))).toEqual(["lab/cells"]);
    const [hit] = await search("microscopy", reader);
    expect(hit).toMatchObject({ namespace: "lab", name: "cells", title: "Cell microscopy", description: "Fluorescent images of stem cells" });
  });

  it("finds packages by entry paths and reports the matching paths", async () => {
    const hits = await search("membrane", reader);
    expect(names(hits)).toEqual(["lab/cells"]);
    expect(hits[0]!.matchedPaths).toEqual(["images/membrane.tif"]);
  });

  it("ranks a name match above a path match, best score first", async () => {
    const hits = await search("zebrafish", reader);
    expect(names(hits)).toEqual(["lab/zebrafish", "lab/aquarium"]);
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
    expect(hits[1]!.matchedPaths).toEqual(["zebrafish/tank1.csv"]);
  });

  it("never returns hits from namespaces the caller cannot read", async () => {
    expect(names(await search("microscopy", reader))).toEqual(["lab/cells"]);
    expect(names(await search("secret", reader))).toEqual([]);
    expect(new Set(names(await search("cell", reader)))).toEqual(new Set(["lab/cells", "open/cells"]));
    expect(names(await search("cell"))).toEqual(["open/cells"]);
    const other = await r.token([{ kind: "read", pattern: "elsewhere" }], "elsewhere");
    expect(names(await search("cell", other))).toEqual(["open/cells"]);
    expect(new Set(names(await search("cell", r.adminToken)))).toEqual(new Set(["lab/cells", "vault/cells", "open/cells"]));
  });

  it("treats query syntax as plain text", async () => {
    for (const q of ['"', "AND", "cell*", "NEAR(a b)", "title:cell", "(", "-"]) {
      const res = await r.app.inject({ url: `/v1/search?q=${encodeURIComponent(q)}`, headers: bearer(reader) });
      expect(res.statusCode, `${q}: ${res.body}`).toBe(200);
    }
  });
});
