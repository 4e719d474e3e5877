import { digestBytes } from "@dpkg/core";
import { describe, expect, it } from "vitest";
import { BlobClaims } from "../../src/push/blob-claims.js";

const a = digestBytes("a");
const b = digestBytes("b");
const location = (digest: typeof a) => ({ digest, size: 1, key: "packs/xx/p.pack", start: 0, end: 1 });

describe("BlobClaims", () => {
  it("gives a blob to its first claimant; another upload waits for it to be stored", async () => {
    const claims = new BlobClaims();
    const first = Symbol("first");
    const second = Symbol("second");
    expect(claims.claim(a, first)).toBeUndefined();
    expect(claims.claim(a, first)).toBeUndefined(); // its own claim again
    const waiting = claims.claim(a, second);
    expect(claims.claim(a, Symbol("third"))).toBe(waiting); // one promise for every waiter
    claims.stored(first, [location(a)], 7);
    await expect(waiting).resolves.toEqual({ location: location(a), ticket: 7 });
    // Stored: the next upload to find it missing claims it afresh.
    expect(claims.claim(a, second)).toBeUndefined();
  });

  it("fails the waiters of a claim its owner gave up without storing, and forgets claims nobody waited for", async () => {
    const claims = new BlobClaims();
    const owner = Symbol("owner");
    expect(claims.claim(a, owner)).toBeUndefined();
    expect(claims.claim(b, owner)).toBeUndefined();
    const waiting = claims.claim(a, Symbol("other"));
    claims.release(owner);
    await expect(waiting).rejects.toMatchObject({ code: "E_UNAVAILABLE" });
    expect(claims.claim(b, Symbol("next"))).toBeUndefined();
  });
});
