import { DpkgError } from "@dpkg/core";
import { openPartialBlob, type Range } from "../cache/partial-blob.js";
import { withEntry, type FetchContext, type LocatedGroup } from "./fetch-context.js";
import { settleAll } from "./limiter.js";
import { asDpkgError, backoff, isTransient, isUrlRejected } from "./transient.js";

/**
 * Reads a large blob (alone in its group) as parallel ranges written at their offsets into a
 * partial file, so that an interrupted download resumes with the ranges still missing. The file is
 * hashed as its ranges land and enters the cache only once it hashes whole to the digest; on a
 * mismatch it is deleted, because nothing says which range was wrong. When bytes resumed from an
 * earlier run were part of it (a crash can leave a range recorded but unwritten), the blob is
 * downloaded once more from scratch before the mismatch is reported.
 */
export async function readLargeBlob(ctx: FetchContext, group: LocatedGroup, afresh = false): Promise<void> {
  const blob = group.blobs[0]!;
  const what = ctx.what(blob.digest);
  const partial = await openPartialBlob(ctx.cache, blob.digest, blob.size, ctx.rangeBytes);
  const resumedBytes = partial.doneBytes();
  ctx.resumed(resumedBytes);
  // The blob's place in its object; replaced when the signed URL expires during a long download.
  let source = { url: group.url, start: group.start + blob.offset };
  let refreshing: Promise<void> | null = null;
  const refresh = async (failedUrl: string): Promise<void> => {
    if (source.url !== failedUrl) return; // another range already got a fresh URL
    refreshing ??= ctx
      .locate([blob.digest])
      .then((groups) => {
        const fresh = groups.find((g) => g.blobs.some((b) => b.digest === blob.digest));
        const located = fresh?.blobs.find((b) => b.digest === blob.digest);
        if (fresh === undefined || located === undefined) throw new DpkgError("E_NOT_FOUND", `${what}: the registry no longer lists its bytes`);
        source = { url: fresh.url, start: fresh.start + located.offset };
      })
      .finally(() => {
        refreshing = null;
      });
    await refreshing;
  };

  const readRange = async (range: Range): Promise<void> => {
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      const { url, start } = source;
      try {
        // A retry continues where the last attempt's bytes stopped (they are written and hashed).
        const from = partial.resumeAt(range);
        await partial.write(range, from < range.end ? await ctx.client.readRange(url, start + from, start + range.end) : noBytes());
        ctx.fetched(range.end - range.start, 0);
        return;
      } catch (err) {
        if (isUrlRejected(err) && !refreshed) {
          refreshed = true;
          await refresh(url);
          continue;
        }
        if (!isTransient(err) || attempt >= ctx.attempts) throw asDpkgError(err, `reading ${what}`);
        await backoff(attempt);
      }
    }
  };

  try {
    const reads = partial.missing().map((range) =>
      ctx.limit.run(() => readRange(range)).catch((err: unknown) => {
        ctx.limit.stop(err); // the fetch fails as a whole: start nothing new
        throw err;
      }),
    );
    await settleAll(reads);
  } catch (err) {
    await partial.release();
    throw err;
  }
  try {
    await partial.finish(what);
  } catch (err) {
    if (err instanceof DpkgError && err.code === "E_INTEGRITY" && resumedBytes > 0 && !afresh) {
      // finish deleted the file; the progress counted the whole blob once already.
      ctx.resumed(-blob.size);
      return readLargeBlob(ctx, group, true);
    }
    throw withEntry(err, ctx.pkg, blob.digest, ctx.pathOf(blob.digest));
  }
  ctx.fetched(0, 1);
}

async function* noBytes(): AsyncGenerator<Uint8Array, void, undefined> {
  // a range whose bytes are all written already
}
