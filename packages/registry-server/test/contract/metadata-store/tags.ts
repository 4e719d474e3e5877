import { expect, it } from "vitest";
import type { MetadataStore } from "../../../src/metadata/metadata-store.js";
import { at, digestWithPrefix, entry, pkgA, pkgB, push, rejection } from "./fixtures.js";

export function tagsContract(store: () => MetadataStore): void {
  it("sets, moves and deletes tags, logging every change with who and when, in order", async () => {
    const r1 = (await push(store(), pkgA, [entry("a")], { createdAt: at(1), author: "alice" })).revision;
    const r2 = (await push(store(), pkgA, [entry("b")], { createdAt: at(2), author: "bob", tags: ["v2"] })).revision;

    expect(await store().setTag(pkgA, "prod", r1.digest, "carol", at(3))).toEqual({
      tag: "prod",
      from: null,
      to: r1.digest,
      by: "carol",
      at: at(3),
    });
    expect(await store().setTag(pkgA, "prod", r2.digest, "dave", at(4))).toEqual({
      tag: "prod",
      from: r1.digest,
      to: r2.digest,
      by: "dave",
      at: at(4),
    });
    // Pointing a tag where it already points changes nothing and logs nothing.
    expect(await store().setTag(pkgA, "prod", r2.digest, "erin", at(5))).toMatchObject({
      from: r2.digest,
      to: r2.digest,
    });
    expect(await store().deleteTag(pkgA, "prod", "frank", at(6))).toEqual({
      tag: "prod",
      from: r2.digest,
      to: null,
      by: "frank",
      at: at(6),
    });

    expect(await store().tagHistory(pkgA, "prod")).toEqual([
      { tag: "prod", from: null, to: r1.digest, by: "carol", at: at(3) },
      { tag: "prod", from: r1.digest, to: r2.digest, by: "dave", at: at(4) },
      { tag: "prod", from: r2.digest, to: null, by: "frank", at: at(6) },
    ]);
    const all = await store().tagHistory(pkgA);
    expect(all.map((m) => [m.tag, m.to, m.by])).toEqual([
      ["latest", r1.digest, "alice"],
      ["latest", r2.digest, "bob"],
      ["v2", r2.digest, "bob"],
      ["prod", r1.digest, "carol"],
      ["prod", r2.digest, "dave"],
      ["prod", null, "frank"],
    ]);
    expect((await store().getPackage(pkgA))?.tags).toEqual({ latest: r2.digest, v2: r2.digest });
  });

  it("refuses tags on revisions the package does not have, and unknown tags or packages", async () => {
    const a = (await push(store(), pkgA, [entry("a")])).revision;
    const b = (await push(store(), pkgB, [entry("b")])).revision;
    await rejection(store().setTag(pkgA, "x", b.digest, "u", at(1)), "E_NOT_FOUND");
    await rejection(store().setTag(pkgA, "x", digestWithPrefix("", "nothing"), "u", at(1)), "E_NOT_FOUND");
    await rejection(store().setTag(pkgA, "bad tag", a.digest, "u", at(1)), "E_BAD_TAG");
    await rejection(store().deleteTag(pkgA, "x", "u", at(1)), "E_NOT_FOUND");
    const ghost = { namespace: "lab", name: "ghost" };
    await rejection(store().setTag(ghost, "x", a.digest, "u", at(1)), "E_NOT_FOUND");
    await rejection(store().tagHistory(ghost), "E_NOT_FOUND");
    expect(await store().tagHistory(pkgA, "x")).toEqual([]);
  });

  it("makes package meta and latest follow the latest tag when it is moved by hand", async () => {
    const r1 = (await push(store(), pkgA, [entry("a")], { meta: { title: "old" }, createdAt: at(1) })).revision;
    await push(store(), pkgA, [entry("b")], { meta: { title: "new" }, createdAt: at(2) });
    await store().setTag(pkgA, "latest", r1.digest, "u", at(3));
    const info = await store().getPackage(pkgA);
    expect(info?.meta).toEqual({ title: "old" });
    expect(info?.latest).toEqual(r1);
  });

  it("queues bucket writes for every revision and tag change, oldest first, until completed", async () => {
    expect(await store().pendingOutbox(10)).toEqual([]);
    const r1 = (await push(store(), pkgA, [entry("a")], { tags: ["v1"] })).revision;
    await store().setTag(pkgA, "prod", r1.digest, "u", at(1));
    await store().setTag(pkgA, "prod", r1.digest, "u", at(2));
    await store().deleteTag(pkgA, "v1", "u", at(3));
    // Unchanged content and no tags: nothing to write.
    await push(store(), pkgA, [entry("a")]);

    const items = await store().pendingOutbox(10);
    expect(items.map((i) => (i.kind === "revision" ? ["revision", i.revision] : ["tag", i.pkg, i.tag]))).toEqual([
      ["revision", r1],
      ["tag", pkgA, "latest"],
      ["tag", pkgA, "v1"],
      ["tag", pkgA, "prod"],
      ["tag", pkgA, "v1"],
    ]);
    const ids = items.map((i) => i.id);
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(await store().pendingOutbox(2)).toEqual(items.slice(0, 2));
    await store().completeOutbox(ids.slice(0, 3));
    expect(await store().pendingOutbox(10)).toEqual(items.slice(3));
    await store().completeOutbox(ids);
    expect(await store().pendingOutbox(10)).toEqual([]);
  });
}
