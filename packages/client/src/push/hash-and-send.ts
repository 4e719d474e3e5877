/**
 * Hashing and sending, overlapped. Small files are read once, in batches: each batch is hashed, the
 * registry is asked which of its blobs it lacks, and those go up as one pack request built from the
 * bytes in memory (the bytes hashed are the bytes sent; the registry verifies them again), while the
 * next batches are read. Large files are hashed as they stream, then sent by reading them again with
 * every chunk checked against the digest, each as soon as its hash is known. Each distinct blob is
 * asked about and sent once. The digest and size read are recorded on the caller's file objects
 * themselves (one object per file for the whole push: for a million files, that is what counts).
 * Memory: the batches held (being sent or waiting for a request slot) are at most
 * `uploadConcurrency + 1`, of at most BATCH_BYTES each; large files are streamed.
 */
import type { Digest, PackageName } from "@dpkg/core";
import type { RegistryClient } from "../registry-client.js";
import { hashFile, type HashedFile } from "./hash-file.js";
import { keepMembers, readBatch, type BatchMember } from "./read-batch.js";
import { runLimited } from "../run-limited.js";
import type { RequestCount, SendCount } from "./send-count.js";
import { createSlots, createTaskGroup, type Slots, type TaskGroup } from "./task-group.js";
import { END_BYTES, memberBytes } from "./tar-bytes.js";
import { PACK_THRESHOLD, uploadLargeBlob, uploadPackBytes, type UploadBlob } from "./upload.js";
import type { WalkedFile } from "./walk.js";

const MIB = 1024 * 1024;
/** Bytes of a batch's archive (small files with their tar headers): one `missing` call and at most one pack request each. */
export const BATCH_BYTES = 8 * MIB;
/** Large files hashed at once (their reads are sequential; more would only compete for the disk). */
const LARGE_HASHERS = 2;

export interface HashAndSendOptions<T extends WalkedFile> {
  client: RegistryClient;
  pkg: PackageName;
  files: readonly T[];
  /** Requests sending blobs at once. */
  uploadConcurrency: number;
  /** Bytes of a batch's archive (default BATCH_BYTES). */
  batchBytes?: number;
  /** Synchronous reads of small files (see ../local-disk.ts; default true). */
  syncIo?: boolean;
  /** The digest a file is known to have without reading it (see push-record.ts), if any. */
  known?: (file: T) => Digest | undefined;
  counts: PushCounts;
  /** Called whenever a count changes. */
  changed: () => void;
}

/** What the push has done so far. */
export interface PushCounts {
  /** Files whose digest is known, read or not. */
  hashed: { files: number; bytes: number };
  /** Of those, the files not read: an earlier push of the folder read them as they are. */
  reused: { files: number; bytes: number };
  /** Blobs the registry lacks, as found so far (final once hashing ends). */
  toSend: { blobs: number; bytes: number };
  sent: SendCount;
}

export interface HashAndSend<T> {
  /**
   * Every file hashed, in the order of `files`, once the registry has also said which blobs it lacks
   * (so `counts.toSend` is final); rejects if the push failed before.
   */
  hashed: Promise<(T & HashedFile)[]>;
  /** Every blob the registry lacked is sent; throws the first failure. Await it even after `hashed` failed. */
  sent(): Promise<void>;
}

export function hashAndSend<T extends WalkedFile>(options: HashAndSendOptions<T>): HashAndSend<T> {
  const tasks = createTaskGroup();
  const run: Run<T> = {
    ...options,
    tasks,
    requests: createSlots(options.uploadConcurrency),
    out: new Array<T & HashedFile>(options.files.length),
    asked: new Set(),
    asking: new Set(),
  };
  const lanes = tasks.run(async () => {
    const toRead = options.known === undefined ? options.files.map((_, i) => i) : await reuseKnown(run, options.known);
    const small: number[] = [];
    const large: number[] = [];
    for (const i of toRead) (options.files[i]!.size < PACK_THRESHOLD ? small : large).push(i);
    // Large files first: their long transfers start early, and small packs fill the gaps.
    await Promise.all([tasks.run(() => largeLane(run, large)), tasks.run(() => smallLane(run, small))]);
  });
  const hashed = lanes.then(async () => {
    while (run.asking.size > 0) await Promise.allSettled(run.asking);
    tasks.check();
    return run.out;
  });
  hashed.catch(() => undefined); // the same failure is thrown by sent(), which the caller awaits in any case
  return { hashed, sent: () => tasks.wait() };
}

interface Run<T extends WalkedFile> extends HashAndSendOptions<T> {
  tasks: TaskGroup;
  requests: Slots;
  out: (T & HashedFile)[];
  /** Digests already asked about (and sent if the registry lacked them): each blob goes once. */
  asked: Set<Digest>;
  /** `missing` calls not answered yet. */
  asking: Set<Promise<unknown>>;
}

/** Records file `i`'s digest and the size actually read, on the file object itself. */
function recordHashed<T extends WalkedFile>(run: Run<T>, i: number, digest: Digest, size: number): T & HashedFile {
  const file = run.files[i]! as T & HashedFile;
  file.digest = digest;
  file.size = size;
  run.out[i] = file;
  return file;
}

/** Asks the registry which of `digests` it lacks. */
async function lacking<T extends WalkedFile>(run: Run<T>, digests: Digest[]): Promise<Set<Digest>> {
  const answer = run.client.missing(run.pkg, digests);
  run.asking.add(answer);
  try {
    return new Set(await answer);
  } finally {
    run.asking.delete(answer);
  }
}

/**
 * Files whose digest is known are not read: the registry is asked about those digests at once, and
 * only the files of blobs it lacks go on to be read (and hashed again) like any other. Returns the
 * indexes of the files still to read, in order.
 */
async function reuseKnown<T extends WalkedFile>(run: Run<T>, known: (file: T) => Digest | undefined): Promise<number[]> {
  const toRead: number[] = [];
  const vouched = new Map<Digest, number[]>();
  run.files.forEach((file, i) => {
    const digest = known(file);
    if (digest === undefined) toRead.push(i);
    else {
      const same = vouched.get(digest);
      if (same === undefined) vouched.set(digest, [i]);
      else same.push(i);
    }
  });
  if (vouched.size === 0) return toRead;
  const lacks = await lacking(run, [...vouched.keys()]);
  for (const [digest, indexes] of vouched) {
    if (lacks.has(digest)) {
      toRead.push(...indexes);
      continue;
    }
    run.asked.add(digest);
    for (const i of indexes) {
      const file = recordHashed(run, i, digest, run.files[i]!.size);
      run.counts.hashed.files += 1;
      run.counts.hashed.bytes += file.size;
      run.counts.reused.files += 1;
      run.counts.reused.bytes += file.size;
    }
  }
  run.changed();
  return toRead.sort((a, b) => a - b);
}

async function largeLane<T extends WalkedFile>(run: Run<T>, indexes: readonly number[]): Promise<void> {
  const { files, counts, changed, tasks } = run;
  await runLimited(indexes, LARGE_HASHERS, async (i) => {
    if (tasks.failed) return;
    const file = files[i]!;
    const { digest, size } = await hashFile(file, (n) => {
      counts.hashed.bytes += n;
      changed();
    });
    recordHashed(run, i, digest, size);
    counts.hashed.files += 1;
    changed();
    if (run.asked.has(digest)) return;
    run.asked.add(digest);
    const blob: UploadBlob = { path: file.path, source: file.source, digest, size };
    void tasks.run(async () => {
      if ((await lacking(run, [digest])).size === 0) return;
      await send(run, blob.size, 1, (count) => uploadLargeBlob(run, blob, count));
    });
  });
}

async function smallLane<T extends WalkedFile>(run: Run<T>, indexes: readonly number[]): Promise<void> {
  const { files, counts, changed, tasks } = run;
  const held = createSlots(run.uploadConcurrency + 1);
  // Reused: a fresh buffer costs a page fault per 4 KiB the first time it is written.
  const pool: Buffer[] = [];
  const batchBytes = run.batchBytes ?? BATCH_BYTES;
  for (const { batch, bytes } of batches(files, indexes, batchBytes)) {
    const release = await held.acquire();
    // One spare byte shows a last file that grew since the walk.
    let buffer = pool.pop();
    if (buffer === undefined || buffer.byteLength < bytes + 1) buffer = Buffer.allocUnsafe(Math.max(batchBytes, bytes) + 1);
    const taken = buffer;
    const giveBack = (): void => {
      pool.push(taken);
      release();
    };
    let handedOver = false;
    try {
      if (tasks.failed) return;
      const members = await readBatch(
        batch.map((i) => files[i]!),
        taken,
        (size) => {
          counts.hashed.files += 1;
          counts.hashed.bytes += size;
          changed();
        },
        run.syncIo ?? true,
      );
      const fresh: BatchMember[] = [];
      members.forEach((m, k) => {
        recordHashed(run, batch[k]!, m.digest, m.size);
        if (run.asked.has(m.digest)) return;
        run.asked.add(m.digest);
        fresh.push(m);
      });
      void tasks.run(() => sendBatch(run, taken, fresh).finally(giveBack));
      handedOver = true;
    } finally {
      if (!handedOver) giveBack();
    }
  }
}

/** Sends those of a batch's blobs that the registry lacks, as one pack request. */
async function sendBatch<T extends WalkedFile>(run: Run<T>, buffer: Buffer, members: BatchMember[]): Promise<void> {
  if (members.length === 0 || run.tasks.failed) return;
  const lacks = await lacking(run, members.map((m) => m.digest));
  const kept = members.filter((m) => lacks.has(m.digest));
  if (kept.length === 0) return;
  const pack = { tar: keepMembers(buffer, kept), blobs: kept.length, fileBytes: kept.reduce((n, m) => n + m.size, 0) };
  await send(run, pack.fileBytes, pack.blobs, (count) => uploadPackBytes(run, pack, count));
}

/** Counts blobs to send, then sends them once a request slot is free (unless the push failed meanwhile). */
async function send<T extends WalkedFile>(
  run: Run<T>,
  bytes: number,
  blobs: number,
  upload: (count: RequestCount) => Promise<void>,
): Promise<void> {
  run.counts.toSend.blobs += blobs;
  run.counts.toSend.bytes += bytes;
  run.changed();
  const release = await run.requests.acquire();
  try {
    if (!run.tasks.failed) await upload(run.counts.sent.request());
  } finally {
    release();
  }
}

/** Consecutive small files whose archive fits `limit` bytes (or one file alone, whatever its size), and that archive's size. */
function* batches(
  files: readonly WalkedFile[],
  indexes: readonly number[],
  limit: number,
): Generator<{ batch: number[]; bytes: number }, void, undefined> {
  let batch: number[] = [];
  let bytes = END_BYTES;
  for (const i of indexes) {
    const size = memberBytes(files[i]!.size);
    if (batch.length > 0 && bytes + size > limit) {
      yield { batch, bytes };
      batch = [];
      bytes = END_BYTES;
    }
    batch.push(i);
    bytes += size;
  }
  if (batch.length > 0) yield { batch, bytes };
}
