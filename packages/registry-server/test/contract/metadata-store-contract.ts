import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { MetadataStore } from "../../src/metadata/metadata-store.js";
import { accessAndSearchContract } from "./metadata-store/access-and-search.js";
import { blobsContract } from "./metadata-store/blobs.js";
import { entriesContract } from "./metadata-store/entries.js";
import type { MakeStore } from "./metadata-store/fixtures.js";
import { revisionsContract } from "./metadata-store/revisions.js";
import { stagingContract } from "./metadata-store/staging.js";
import { tagsContract } from "./metadata-store/tags.js";

export type { MakeStore, StoreUnderTest } from "./metadata-store/fixtures.js";

/**
 * The behaviour every MetadataStore promises (SQLite now, PostgreSQL later), run with a fresh, empty
 * store per test. Nothing here knows which database it talks to. The parts live in ./metadata-store/.
 */
export function metadataStoreContract(name: string, makeStore: MakeStore): void {
  describe(`MetadataStore contract: ${name}`, () => {
    let current: MetadataStore | undefined;
    let cleanup: (() => Promise<void>) | undefined;
    const store = (): MetadataStore => {
      if (current === undefined) throw new Error("no store: used outside a test");
      return current;
    };
    beforeEach(async () => {
      ({ store: current, cleanup } = await makeStore());
    });
    afterEach(async () => {
      // Every test must leave a sound database behind, whatever it did.
      expect(await store().integrityCheck()).toEqual([]);
      await cleanup?.();
      current = undefined;
    });

    describe("manifests", () => stagingContract(store));
    describe("revisions", () => revisionsContract(store));
    describe("tags", () => tagsContract(store));
    describe("entries", () => entriesContract(store));
    describe("blobs", () => blobsContract(store));
    describe("access and search", () => accessAndSearchContract(store));

    it("reports a fresh store as sound", async () => {
      expect(await store().integrityCheck()).toEqual([]);
    });
  });
}
