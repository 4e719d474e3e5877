import { DpkgError } from "@dpkg/core";

/**
 * Reads exactly `length` bytes of a ranged response in pieces: a group of blobs is split into its
 * blobs by offset. Extra bytes are ignored (an object store may serve more than the range asked
 * for); a body that ends short throws E_NETWORK, which the caller may retry.
 */
export class ByteReader {
  /** Bytes of the range consumed so far. */
  position = 0;
  private readonly iterator: AsyncIterator<Uint8Array>;
  private pending: Uint8Array | null = null;

  constructor(
    private readonly source: AsyncIterable<Uint8Array>,
    private readonly length: number,
    private readonly what: string,
  ) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** Up to `max` bytes, or null at the end of the range. */
  async next(max: number): Promise<Uint8Array | null> {
    const left = Math.min(max, this.length - this.position);
    if (left <= 0) return null;
    let chunk = this.pending;
    this.pending = null;
    while (chunk === null || chunk.byteLength === 0) {
      const step = await this.iterator.next();
      if (step.done === true) {
        throw new DpkgError("E_NETWORK", `the response for ${this.what} ended after ${this.position} of ${this.length} bytes`, {
          received: this.position,
          expected: this.length,
        });
      }
      chunk = step.value;
    }
    if (chunk.byteLength > left) {
      this.pending = chunk.subarray(left);
      chunk = chunk.subarray(0, left);
    }
    this.position += chunk.byteLength;
    return chunk;
  }

  /** Exactly `n` bytes in one buffer (small blobs). */
  async read(n: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    for (let got = 0; got < n; ) {
      const chunk = await this.next(n - got);
      if (chunk === null) throw new Error(`read past the end of the range of ${this.what}`);
      parts.push(chunk);
      got += chunk.byteLength;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** The next `n` bytes as a stream; whatever its consumer leaves unread, `skipTo` passes over. */
  async *take(n: number): AsyncGenerator<Uint8Array, void, undefined> {
    const end = this.position + n;
    while (this.position < end) {
      const chunk = await this.next(end - this.position);
      if (chunk === null) throw new Error(`read past the end of the range of ${this.what}`);
      yield chunk;
    }
  }

  /** Discards bytes up to `position` (a gap, or a blob nobody read). */
  async skipTo(position: number): Promise<void> {
    while (this.position < position) await this.next(position - this.position);
  }

  /** Stops reading the body (the connection is given back or dropped, not drained). */
  async close(): Promise<void> {
    await this.iterator.return?.().catch(() => undefined);
    // A stream's async iterator that never yielded ignores return() (the generator has not started),
    // so a body nobody read (every blob was cached by another process meanwhile) would stay open, and
    // closing the HTTP client would then wait for it forever.
    const stream = this.source as { destroy?: unknown };
    if (typeof stream.destroy === "function") (stream as { destroy(): void }).destroy();
  }
}
