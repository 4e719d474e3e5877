/**
 * A pull-based tar reader for pack uploads. Thousands of small members arrive per request; a stream of
 * streams per member (tar-stream's extractor, then a generator or two per chunk) cost more than hashing
 * their bytes. Here a small member is a view of the request's chunk that holds it (copied only when
 * it straddles two chunks), and only a large member is streamed. Views stay valid because a request's
 * chunks are never reused: Node emits a fresh buffer for every chunk of a body, and a source given to
 * this reader must do the same. Headers are read as tar-stream reads them: ustar and GNU formats, base-256 sizes,
 * pax `path` and `size` records, GNU long names, and zero blocks skipped wherever a header may start.
 */
import { BLOCK, decodeHeader, decodePax, decodeString, type TarHeader } from "./tar-header.js";

export type { TarHeader };
/** A long name or pax header bigger than this is refused rather than buffered. */
const MAX_LONG_HEADER = 1024 * 1024;
/** Small members that straddle chunks are copied into shared slabs of this size: few allocations. */
const SLAB_BYTES = 1024 * 1024;

export class TarReader {
  private readonly source: AsyncIterator<Uint8Array>;
  private chunk: Uint8Array = new Uint8Array(0);
  private at = 0;
  private ended = false;
  private zeroBlocks = 0;
  private slab = new Uint8Array(0);
  private slabUsed = 0;
  /** The source's own error, if reading it failed: it must reach the caller unchanged. */
  sourceError: unknown;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.source = source[Symbol.asyncIterator]();
  }

  /** Whether the archive ended with its end-of-archive marker (at least two zero blocks). */
  get endMarker(): boolean {
    return this.zeroBlocks >= 2;
  }

  /** The next member's header, or null where the input ends between members. */
  async next(): Promise<TarHeader | null> {
    let longName: string | undefined;
    let pax: Record<string, string> | undefined;
    let paxGlobal: Record<string, string> | undefined;
    for (;;) {
      // Most headers are in the chunk at hand: no promise for them.
      if (this.at >= this.chunk.byteLength && !(await this.fill())) {
        if (longName !== undefined || pax !== undefined) throw truncated("after a long name or pax header");
        return null;
      }
      const block = this.chunk.byteLength - this.at >= BLOCK ? this.takeBlock() : await this.readBlock();
      if (isZero(block)) {
        this.zeroBlocks += 1;
        continue;
      }
      this.zeroBlocks = 0;
      const header = decodeHeader(block);
      if (typeof header === "string") throw bad(header);
      if (header.type === "gnu-long-path" || header.type === "pax-header" || header.type === "pax-global-header") {
        if (header.size > MAX_LONG_HEADER) throw bad(`a ${header.type} of ${header.size} bytes is larger than allowed`);
        const body = await this.read(header.size, false);
        if (header.type === "gnu-long-path") longName = decodeString(body, 0, body.byteLength);
        else if (header.type === "pax-global-header") paxGlobal = decodePax(body);
        else pax = { ...paxGlobal, ...decodePax(body) };
        continue;
      }
      if (header.type === "gnu-long-link-path") {
        await this.discard(header.size);
        continue;
      }
      if (longName !== undefined) header.name = longName;
      if (pax?.path !== undefined) header.name = pax.path;
      if (pax?.size !== undefined) header.size = parseInt(pax.size, 10);
      if (!Number.isSafeInteger(header.size) || header.size < 0) throw bad(`member ${JSON.stringify(header.name)} has an invalid size`);
      return header;
    }
  }

  /**
   * The current member's `size` bytes, and the reader moved past its padding: a view of the chunk
   * that holds them all, else a copy (into a shared slab unless the member is big).
   */
  async read(size: number, slab = true): Promise<Uint8Array> {
    const end = this.at + size;
    if (end <= this.chunk.byteLength) {
      // Copying every member cost more than hashing it (fresh memory: a page fault per 4 KiB).
      const view = this.chunk.subarray(this.at, end);
      this.at = end;
      const pad = padding(size);
      if (pad > 0) {
        if (this.at + pad <= this.chunk.byteLength) this.at += pad;
        else await this.discard(pad);
      }
      return view;
    }
    const out = slab && size <= SLAB_BYTES / 4 ? this.fromSlab(size) : new Uint8Array(size);
    let filled = 0;
    while (filled < size) {
      if (this.at >= this.chunk.byteLength && !(await this.fill())) throw truncated("inside a member");
      const n = Math.min(size - filled, this.chunk.byteLength - this.at);
      out.set(this.chunk.subarray(this.at, this.at + n), filled);
      filled += n;
      this.at += n;
    }
    if (padding(size) > 0) await this.discard(padding(size));
    return out;
  }

  /** The current member's `size` bytes as they arrive (views, valid until the next chunk is asked for). */
  async *stream(size: number): AsyncGenerator<Uint8Array, void, undefined> {
    let left = size;
    while (left > 0) {
      if (!(await this.fill())) throw truncated("inside a member");
      const n = Math.min(left, this.chunk.byteLength - this.at);
      const view = this.chunk.subarray(this.at, this.at + n);
      this.at += n;
      left -= n;
      yield view;
    }
    await this.discard(padding(size));
  }

  /**
   * Stops reading the source (after a failure): for a request, that destroys it, so its client stops
   * sending at once instead of stalling against a body nobody reads.
   */
  async close(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    try {
      await this.source.return?.(undefined);
    } catch {
      // the source's own failure is already known, or does not matter any more
    }
  }

  private fromSlab(size: number): Uint8Array {
    if (this.slabUsed + size > this.slab.byteLength) {
      // Not zeroed: a member's view is handed out only once every byte of it was copied in.
      this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.slabUsed = 0;
    }
    const out = this.slab.subarray(this.slabUsed, this.slabUsed + size);
    this.slabUsed += size;
    return out;
  }

  private takeBlock(): Uint8Array {
    const block = this.chunk.subarray(this.at, this.at + BLOCK);
    this.at += BLOCK;
    return block;
  }

  /** A header block that straddles chunks. */
  private async readBlock(): Promise<Uint8Array> {
    try {
      return await this.read(BLOCK, false);
    } catch (err) {
      throw err === this.sourceError ? err : truncated("inside a header");
    }
  }

  private async discard(n: number): Promise<void> {
    while (n > 0) {
      if (this.at >= this.chunk.byteLength && !(await this.fill())) throw truncated("inside a member");
      const k = Math.min(n, this.chunk.byteLength - this.at);
      this.at += k;
      n -= k;
    }
  }

  /** Makes sure some unread bytes are at hand; false at the end of the input. */
  private async fill(): Promise<boolean> {
    while (this.at >= this.chunk.byteLength) {
      if (this.ended) return false;
      let step: IteratorResult<Uint8Array>;
      try {
        step = await this.source.next();
      } catch (err) {
        this.sourceError = err;
        throw err;
      }
      if (step.done === true) {
        this.ended = true;
        return false;
      }
      this.chunk = step.value;
      this.at = 0;
    }
    return true;
  }
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

function isZero(block: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

/** Plain errors: the upload names the member they happened in (see receive-pack.ts). */
function bad(problem: string): Error {
  return new Error(problem);
}

function truncated(where: string): Error {
  return new Error(`the stream ends ${where}`);
}
