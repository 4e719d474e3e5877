/**
 * Small blobs that uploads in flight in this process are packing, so that concurrent pushes of the
 * same content store each blob once. Without this, eight pushes sharing files all find those blobs
 * missing, and each packs its own copy. The first upload to verify a blob claims it; the others
 * still read and verify their copy (that is what proves they hold it), drop it, and, once the claim
 * is settled by the pack being stored, record the claimant's location with a grant of their own.
 *
 * No deadlock: an upload waits for other claims only after flushing its own last pack, so every
 * claim it holds is settled before it waits. Registries sharing one index in several processes do
 * not see each other's claims; a blob packed twice is harmless, only wasted space.
 */
import { DpkgError, type Digest } from "@dpkg/core";
import type { BlobLocationRecord } from "../metadata/metadata-store.js";

/** Where a claimed blob was stored, and the write ticket its pack was recorded under. */
export interface ClaimedBlob {
  location: BlobLocationRecord;
  ticket: number;
}

/** What uploads waiting for a claim are given, made when the first of them asks. */
interface Waiters {
  settled: Promise<ClaimedBlob>;
  resolve(blob: ClaimedBlob): void;
  reject(err: unknown): void;
}

interface Claim {
  owner: symbol;
  /**
   * Absent until another upload waits: almost every claim is settled with nobody waiting, and a
   * promise per blob was thousands of promises and closures per push for the garbage collector.
   */
  waiters?: Waiters;
}

export class BlobClaims {
  readonly #claims = new Map<Digest, Claim>();

  /** Claims `digest` for `owner` and returns undefined, or returns another upload's pending claim on it. */
  claim(digest: Digest, owner: symbol): Promise<ClaimedBlob> | undefined {
    const existing = this.#claims.get(digest);
    if (existing === undefined) {
      this.#claims.set(digest, { owner });
      return undefined;
    }
    if (existing.owner === owner) return undefined;
    existing.waiters ??= waiters();
    return existing.waiters.settled;
  }

  /** The owner stored and recorded these blobs. */
  stored(owner: symbol, locations: BlobLocationRecord[], ticket: number): void {
    for (const location of locations) {
      const claim = this.#claims.get(location.digest);
      if (claim?.owner !== owner) continue;
      this.#claims.delete(location.digest);
      claim.waiters?.resolve({ location, ticket });
    }
  }

  /** The owner's upload ended: claims it did not store fail, and waiters ask their clients to retry. */
  release(owner: symbol): void {
    for (const [digest, claim] of this.#claims) {
      if (claim.owner !== owner) continue;
      this.#claims.delete(digest);
      claim.waiters?.reject(
        new DpkgError("E_UNAVAILABLE", `a concurrent upload of blob ${digest} failed before storing it; retry the upload`, {
          digest,
        }),
      );
    }
  }
}

function waiters(): Waiters {
  let resolve!: (blob: ClaimedBlob) => void;
  let reject!: (err: unknown) => void;
  const settled = new Promise<ClaimedBlob>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A waiter may stop waiting (its own upload failed) before a claim fails: not an unhandled rejection.
  settled.catch(() => undefined);
  return { settled, resolve, reject };
}
