import { ByteReader } from "./byte-reader.js";
import { type FetchContext, type LocatedBlob, type LocatedGroup } from "./fetch-context.js";
import { asDpkgError, backoff, isTransient, isUrlRejected } from "./transient.js";

/** Blobs up to this size are read into memory and written in parallel (their fsyncs overlap). */
const BUFFERED_BLOB_BYTES = 1024 * 1024;
const WRITES_IN_FLIGHT = 8;

/**
 * Reads one location group (adjacent blobs of one object) with a single ranged request and stores
 * each blob as its bytes go by. A failed read is retried from the first blob not yet read, so a
 * dropped connection late in a pack does not fetch the pack again (an object store's presigned URL
 * may sign the exact range: there the retry reads the whole range again and skips what it has).
 * An expired or rejected URL is replaced once by asking for fresh locations.
 */
export async function readGroup(ctx: FetchContext, group: LocatedGroup, refreshed = false): Promise<void> {
  let pending = [...group.blobs].sort((a, b) => a.offset - b.offset);
  for (let attempt = 1; pending.length > 0; attempt++) {
    try {
      await readOnce(ctx, group, pending, (done) => {
        // Blobs are read in offset order: the one read is the first (a filter per blob was quadratic).
        if (pending[0] === done) pending.shift();
        else pending = pending.filter((b) => b !== done);
      });
    } catch (err) {
      if (isUrlRejected(err) && !refreshed) {
        for (const fresh of await ctx.locate(pending.map((b) => b.digest))) await readGroup(ctx, fresh, true);
        return;
      }
      // A blob leaves `pending` once its bytes are read, before they are verified and stored: when
      // that check fails on the last blob, `pending` is empty, and the group's first blob names the read.
      if (!isTransient(err) || attempt >= ctx.attempts) throw asDpkgError(err, `reading ${ctx.what((pending[0] ?? group.blobs[0]!).digest)}`);
      await backoff(attempt);
    }
  }
}

async function readOnce(ctx: FetchContext, group: LocatedGroup, pending: LocatedBlob[], markRead: (b: LocatedBlob) => void): Promise<void> {
  const first = group.viaRegistry ? pending[0]!.offset : 0;
  const from = group.start + first;
  const body = await ctx.client.readRange(group.url, from, group.end);
  const reader = new ByteReader(body, group.end - from, ctx.what(pending[0]!.digest));
  const writes = new Set<Promise<void>>();
  // A write leaves `writes` as it settles, so its failure (bytes that do not match their digest) is
  // kept here: a failure no later await happened to observe would otherwise pass for success.
  let failed: { reason: unknown } | undefined;
  try {
    for (const blob of [...pending]) {
      if (failed !== undefined) break;
      // Offsets are relative to the group; the reader counts from `from`.
      await reader.skipTo(blob.offset - first);
      if (blob.size <= BUFFERED_BLOB_BYTES) {
        const bytes = await reader.read(blob.size);
        markRead(blob);
        const write: Promise<void> = ctx.put(blob, [bytes]).then(
          () => void writes.delete(write),
          (reason: unknown) => {
            writes.delete(write);
            failed ??= { reason };
          },
        );
        writes.add(write);
        if (writes.size >= WRITES_IN_FLIGHT) await Promise.race(writes);
      } else {
        await ctx.put(blob, reader.take(blob.size));
        markRead(blob);
      }
    }
  } finally {
    await reader.close();
    await Promise.all([...writes]); // they never reject: see `failed`
  }
  if (failed !== undefined) throw failed.reason;
}
