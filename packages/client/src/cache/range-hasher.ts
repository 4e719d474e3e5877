import { createDigester, type Digest } from "@dpkg/core";
import type { FileHandle } from "node:fs/promises";

export interface Range {
  index: number;
  start: number;
  end: number;
}

/** Bytes read back from the file per call, when the hasher catches up on ranges it had not reached. */
const READ_BACK_BYTES = 4 * 1024 * 1024;

/**
 * Hashes a file that is downloaded as ranges completing out of order, so that its digest is known
 * when the last range lands rather than after re-reading the whole file. It walks the ranges in
 * order: bytes of the range it has reached are hashed as they are written; bytes it had not reached
 * (later ranges, and ranges an interrupted run left on disk) are read back from the file once it gets
 * there, from the page cache in practice. Nothing is held in memory, and what is hashed is always
 * what the file holds, because a byte of the file is written at most once per run (a retried range
 * continues where it stopped; see `written`).
 */
export class RangeHasher {
  readonly #ranges: readonly Range[];
  readonly #handle: FileHandle;
  readonly #digester = createDigester();
  /** Bytes written from each range's start (in this run, or all of it for a range done before). */
  readonly #written: number[];
  /** The range being hashed, and the file offset hashed up to. */
  #front = 0;
  #hashed = 0;
  #reading = false;
  #stopped = false;
  readonly #result: Promise<{ digest: Digest; size: number }>;
  #settle!: { resolve(v: { digest: Digest; size: number }): void; reject(err: unknown): void };

  /** `done` are ranges already complete in the file (from an interrupted run). */
  constructor(ranges: readonly Range[], handle: FileHandle, done: ReadonlySet<number>) {
    this.#ranges = ranges;
    this.#handle = handle;
    this.#written = ranges.map((r) => (done.has(r.index) ? r.end - r.start : 0));
    this.#result = new Promise((resolve, reject) => (this.#settle = { resolve, reject }));
    this.#result.catch(() => undefined); // observed by digest(); a failed download may never ask
    this.#advance();
  }

  /** Bytes of range `index` already in the file from its start: a retry continues from there. */
  written(index: number): number {
    return this.#written[index]!;
  }

  /** Records that `bytes` were just written to the file right after range `index`'s written part. */
  wrote(index: number, bytes: Uint8Array): void {
    const range = this.#ranges[index]!;
    const at = range.start + this.#written[index]!;
    this.#written[index]! += bytes.byteLength;
    if (!this.#reading && index === this.#front && at === this.#hashed) {
      this.#digester.update(bytes);
      this.#hashed += bytes.byteLength;
      if (this.#hashed === range.end) this.#advance();
    } else {
      this.#advance();
    }
  }

  /** The digest and size of the whole file, once every range is written and hashed. */
  digest(): Promise<{ digest: Digest; size: number }> {
    return this.#result;
  }

  /** Stops hashing (the download failed or was abandoned). */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (!this.#reading) this.#digester.dispose();
    this.#settle.reject(new Error("the download was stopped before it finished"));
  }

  /** Moves the front past complete ranges, reading back written bytes it had not hashed yet. */
  #advance(): void {
    if (this.#reading || this.#stopped) return;
    for (;;) {
      const range = this.#ranges[this.#front];
      if (range === undefined) {
        this.#stopped = true;
        this.#settle.resolve({ digest: this.#digester.digest(), size: this.#hashed });
        return;
      }
      const available = range.start + this.#written[this.#front]!;
      if (this.#hashed < available) {
        this.#reading = true;
        this.#readBack(available).then(
          () => {
            this.#reading = false;
            if (this.#stopped) this.#digester.dispose();
            else this.#advance();
          },
          (err: unknown) => {
            this.#reading = false;
            this.#digester.dispose();
            this.#stopped = true;
            this.#settle.reject(err);
          },
        );
        return;
      }
      if (this.#hashed < range.end) return; // the rest is hashed as it is written
      this.#front += 1;
    }
  }

  async #readBack(end: number): Promise<void> {
    const buffer = Buffer.allocUnsafe(Math.min(READ_BACK_BYTES, end - this.#hashed));
    while (this.#hashed < end && !this.#stopped) {
      const want = Math.min(buffer.byteLength, end - this.#hashed);
      const { bytesRead } = await this.#handle.read(buffer, 0, want, this.#hashed);
      if (bytesRead === 0) throw new Error(`the partial file ended at ${this.#hashed} while hashing it`);
      this.#digester.update(buffer.subarray(0, bytesRead));
      this.#hashed += bytesRead;
    }
  }
}
