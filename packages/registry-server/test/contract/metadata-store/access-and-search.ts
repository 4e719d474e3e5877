import { expect, it } from "vitest";
import type { MetadataStore, Scope } from "../../../src/metadata/metadata-store.js";
import { at, entry, push, T0 } from "./fixtures.js";

const scopes: Scope[] = [
  { kind: "write", pattern: "lab-*" },
  { kind: "read", pattern: "*" },
];

export function accessAndSearchContract(store: () => MetadataStore): void {
  it("marks namespaces public-read, private by default", async () => {
    expect(await store().isNamespacePublic("lab")).toBe(false);
    await store().setNamespacePublic("lab", true);
    await store().setNamespacePublic("zoo", true);
    await store().setNamespacePublic("corp", false);
    expect(await store().isNamespacePublic("lab")).toBe(true);
    expect(await store().isNamespacePublic("corp")).toBe(false);
    expect(await store().listPublicNamespaces()).toEqual(["lab", "zoo"]);
    await store().setNamespacePublic("lab", false);
    expect(await store().listPublicNamespaces()).toEqual(["zoo"]);
  });

  it("stores tokens by hash, finds only active ones, and records their use", async () => {
    await store().createToken({ id: "t1", name: "ci", hash: "h1", scopes, createdAt: T0 });
    await store().createToken({ id: "t2", name: "admin", hash: "h2", scopes: [{ kind: "admin" }], createdAt: at(1) });
    expect(await store().findToken("h1")).toEqual({ id: "t1", name: "ci", scopes, createdAt: T0, lastUsedAt: null });
    expect(await store().findToken("h")).toBeNull();
    await store().touchToken("t1", at(9));
    expect((await store().findToken("h1"))?.lastUsedAt).toEqual(at(9));
    expect((await store().listTokens()).map((t) => t.id)).toEqual(["t1", "t2"]);

    expect(await store().revokeToken("t1")).toBe(true);
    expect(await store().revokeToken("t1")).toBe(false);
    expect(await store().revokeToken("nope")).toBe(false);
    expect(await store().findToken("h1")).toBeNull();
    expect((await store().listTokens()).map((t) => t.id)).toEqual(["t2"]);
  });

  it("ranks search hits by where the words occur: name, then title, then the rest", async () => {
    // Unrelated packages, so that the word is rare enough to weigh something in bm25.
    for (const name of ["alpha", "beta", "gamma", "delta"]) {
      await push(store(), { namespace: "lab", name }, [entry(`${name}.txt`)], { meta: { title: `The ${name} set` } });
    }
    await push(store(), { namespace: "lab", name: "zebrafish" }, [entry("a.txt")], { meta: { title: "Fins" } });
    await push(store(), { namespace: "lab", name: "atlas" }, [entry("b.txt")], { meta: { title: "Zebrafish atlas" } });
    await push(store(), { namespace: "corp", name: "misc" }, [entry("c.txt")], {
      meta: { readme: "Some notes mention a zebrafish once, among many other words about other things." },
    });
    const hits = await store().search("zebrafish", { limit: 10, canRead: () => true });
    expect(hits.map((h) => `${h.namespace}/${h.name}`)).toEqual(["lab/zebrafish", "lab/atlas", "corp/misc"]);
    expect(hits[1]).toMatchObject({ title: "Zebrafish atlas", description: null, matchedPaths: [] });
    const scores = hits.map((h) => h.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(await store().search("zebrafish", { limit: 1, canRead: () => true })).toHaveLength(1);
  });

  it("filters hits by readability, and reports the entry paths that matched", async () => {
    const paths = ["raw/plate1/well_A01.tif", "raw/plate1/well_B02.tif", "docs/protocol.pdf"];
    await push(
      store(),
      { namespace: "lab", name: "screen" },
      paths.map((p) => entry(p)),
      {
        meta: { title: "Screen", description: "A plate screen" },
      },
    );
    await push(store(), { namespace: "secret", name: "screen2" }, [entry("raw/well_A01.tif")]);
    const canRead = (ns: string): boolean => ns !== "secret";
    const hits = await store().search("well", { limit: 10, canRead });
    expect(hits).toHaveLength(1);
    expect(hits[0]).toMatchObject({ namespace: "lab", name: "screen", description: "A plate screen" });
    expect(hits[0]?.matchedPaths).toEqual(["raw/plate1/well_A01.tif", "raw/plate1/well_B02.tif"]);
    const both = await store().search("well_A01", { limit: 10, canRead: () => true });
    expect(both.map((h) => h.matchedPaths).sort()).toEqual([["raw/plate1/well_A01.tif"], ["raw/well_A01.tif"]]);
    // The last word also matches as a prefix (search as you type).
    expect((await store().search("protoc", { limit: 10, canRead })).map((h) => h.matchedPaths)).toEqual([
      ["docs/protocol.pdf"],
    ]);
  });

  it("treats any user text as words: FTS syntax never becomes an error", async () => {
    await push(store(), { namespace: "lab", name: "cells" }, [entry("a.txt")], { meta: { title: "cells AND nuclei" } });
    const texts = [
      '"',
      'cells"',
      "AND",
      "cells AND (",
      "NEAR(cells",
      "*",
      "cells*",
      "title:cells",
      "-cells",
      "^",
      "",
      "   ",
      "'; DROP TABLE packages; --",
    ];
    for (const text of texts) {
      await expect(store().search(text, { limit: 5, canRead: () => true })).resolves.toBeInstanceOf(Array);
    }
    expect(await store().search("cells AND (", { limit: 5, canRead: () => true })).toHaveLength(1);
    expect(await store().search("", { limit: 5, canRead: () => true })).toEqual([]);
  });

  it("searches the latest revision only", async () => {
    const pkg = { namespace: "lab", name: "moving" };
    await push(store(), pkg, [entry("old_name.csv")], { meta: { description: "version one" }, createdAt: at(1) });
    await push(store(), pkg, [entry("new_name.csv")], { meta: { description: "version two" }, createdAt: at(2) });
    const find = async (q: string): Promise<number> =>
      (await store().search(q, { limit: 5, canRead: () => true })).length;
    expect(await find("old_name")).toBe(0);
    expect(await find("one")).toBe(0);
    expect(await find("new_name")).toBe(1);
    expect(await find("two")).toBe(1);
    expect(await find("moving")).toBe(1);
  });
}
