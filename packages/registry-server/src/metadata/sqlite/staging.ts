import type Database from "better-sqlite3";
import { randomUUID } from "node:crypto";
import {
  canonicalJson,
  compareUtf8,
  DpkgError,
  type Digest,
  type ManifestEntry,
  type ManifestHeader,
} from "@dpkg/core";
import { digestParts, writeDigestPart } from "./blob-references.js";
import { deleteValueBlock, EntryValues } from "./entry-values.js";
import { findManifest, sql } from "./rows.js";
import { ValueKeys } from "./value-keys.js";

/**
 * Rows per write transaction while staging. Large enough that per-transaction costs vanish, small
 * enough that the write lock is released every few tens of milliseconds for other writers (commits,
 * tags). Each batch is also one block of entry_values (see migrations.ts).
 */
export const STAGE_BATCH_ROWS = 5_000;

interface Attempt {
  manifestId: number;
  token: string;
}

/**
 * Indexes a manifest's entries: claim the manifest row with a fresh attempt token, clear whatever a
 * crashed attempt left, insert the entries and their entry_values batch by batch (reading the
 * iterable between batches, never inside a transaction), count them, write the manifest's digest
 * list (blob-references.ts), then mark the manifest complete. Every batch first checks
 * that the attempt still owns the row, so two writers of the same manifest never mix their rows.
 *
 * When the manifest is (or becomes, through another writer) complete, the rest of `entries` is still
 * read to the end without storing it: the caller's iterable may verify or save what it reads.
 */
export async function stageManifest(
  db: Database.Database,
  digest: Digest,
  header: ManifestHeader,
  entries: AsyncIterable<ManifestEntry>,
): Promise<void> {
  const attempt = db.transaction((): Attempt | null => claim(db, digest, header)).immediate();
  let storing = attempt !== null && clearEntries(db, attempt, digest);
  const insert = sql<[number, string, number, string, string | null, number]>(
    db,
    "INSERT INTO entries (manifest_id, path, size, digest, meta, ord) VALUES (?, ?, ?, ?, ?, ?)",
  );
  const values = new EntryValues(new ValueKeys(db));
  // Entry i of the manifest gets ord i, and batch b holds ords [b * STAGE_BATCH_ROWS, ...): block b.
  const flush = db.transaction((batch: ManifestEntry[], firstOrd: number): boolean => {
    if (attempt === null || !owns(db, attempt, digest)) return false;
    batch.forEach((e, i) => {
      const meta = e.meta !== undefined && Object.keys(e.meta).length > 0 ? canonicalJson(e.meta) : null;
      insert.run(attempt.manifestId, e.path, e.size, e.digest, meta, firstOrd + i);
      values.add(e, firstOrd + i);
    });
    values.write(db, attempt.manifestId, firstOrd / STAGE_BATCH_ROWS);
    return true;
  });
  let count = 0;
  let size = 0;
  let batch: ManifestEntry[] = [];
  let previous: string | undefined;
  for await (const entry of entries) {
    if (!storing) continue;
    // Ords follow path order only if the entries arrive in it, as a manifest lists them.
    if (previous !== undefined) checkOrder(previous, entry.path, digest);
    previous = entry.path;
    batch.push(entry);
    count++;
    size += entry.size;
    if (batch.length >= STAGE_BATCH_ROWS) {
      storing = insertBatch(flush, batch, count - batch.length, digest);
      batch = [];
    }
  }
  if (storing && batch.length > 0) storing = insertBatch(flush, batch, count - batch.length, digest);
  if (attempt === null || !storing) return;

  for (const part of digestParts(count)) {
    const written = db
      .transaction((): boolean => {
        if (!owns(db, attempt, digest)) return false;
        writeDigestPart(db, attempt.manifestId, part);
        return true;
      })
      .immediate();
    if (!written) return;
  }
  db.transaction(() => {
    if (!owns(db, attempt, digest)) return;
    sql<[number, number, number, number]>(
      db,
      `UPDATE manifests SET complete = 1, stage_token = NULL, entry_count = ?, total_size = ?, value_block = ?
       WHERE id = ?`,
    ).run(count, size, STAGE_BATCH_ROWS, attempt.manifestId);
  }).immediate();
}

function checkOrder(previous: string, path: string, digest: Digest): void {
  const order = compareUtf8(previous, path);
  if (order < 0) return;
  throw new DpkgError(
    "E_BAD_MANIFEST",
    order === 0
      ? `manifest ${digest} names a path twice`
      : `manifest ${digest} lists ${JSON.stringify(path)} after ${JSON.stringify(previous)}, out of path order`,
    { digest, path },
  );
}

function insertBatch(
  flush: Database.Transaction<(batch: ManifestEntry[], firstOrd: number) => boolean>,
  batch: ManifestEntry[],
  firstOrd: number,
  digest: Digest,
): boolean {
  try {
    return flush.immediate(batch, firstOrd);
  } catch (e) {
    if (e instanceof Error && "code" in e && e.code === "SQLITE_CONSTRAINT_PRIMARYKEY") {
      throw new DpkgError("E_BAD_MANIFEST", `manifest ${digest} names a path twice`, { digest }, { cause: e });
    }
    throw e;
  }
}

/** Takes the manifest row for a new attempt; null when the manifest is already complete. */
function claim(db: Database.Database, digest: Digest, header: ManifestHeader): Attempt | null {
  const existing = findManifest(db, digest);
  if (existing?.complete === 1) return null;
  const token = randomUUID();
  const meta = canonicalJson(header.meta);
  const now = Date.now();
  if (existing === undefined) {
    const id = sql<[string, string, string, number]>(
      db,
      "INSERT INTO manifests (digest, meta, complete, stage_token, staged_at) VALUES (?, ?, 0, ?, ?)",
    ).run(digest, meta, token, now).lastInsertRowid;
    return { manifestId: Number(id), token };
  }
  sql<[string, string, number, number]>(
    db,
    "UPDATE manifests SET meta = ?, entry_count = 0, total_size = 0, stage_token = ?, staged_at = ? WHERE id = ?",
  ).run(meta, token, now, existing.id);
  return { manifestId: existing.id, token };
}

/**
 * True while this attempt owns the row. False when another writer completed the same manifest (same
 * digest, same content: nothing left to do). Throws when another writer took over mid-way.
 */
function owns(db: Database.Database, attempt: Attempt, digest: Digest): boolean {
  const row = sql<[number], { complete: number; stage_token: string | null }>(
    db,
    "SELECT complete, stage_token FROM manifests WHERE id = ?",
  ).get(attempt.manifestId);
  if (row?.complete === 1) return false;
  if (row?.stage_token === attempt.token) return true;
  throw new DpkgError(
    "E_UNAVAILABLE",
    `manifest ${digest} is being staged by another request`,
    { digest },
    { hint: "Another push of the same content is in progress; retry shortly." },
  );
}

/**
 * Deletes rows of an earlier, interrupted attempt, a batch (or value block) per transaction; false
 * if no longer ours.
 */
function clearEntries(db: Database.Database, attempt: Attempt, digest: Digest): boolean {
  const remove = sql<[number, number, number]>(
    db,
    `DELETE FROM entries WHERE manifest_id = ? AND path IN
       (SELECT path FROM entries WHERE manifest_id = ? LIMIT ?)`,
  );
  const step = db.transaction((): number => {
    if (!owns(db, attempt, digest)) return -1;
    if (deleteValueBlock(db, attempt.manifestId)) return 1;
    return remove.run(attempt.manifestId, attempt.manifestId, STAGE_BATCH_ROWS).changes;
  });
  for (;;) {
    const removed = step.immediate();
    if (removed <= 0) return removed === 0;
  }
}
