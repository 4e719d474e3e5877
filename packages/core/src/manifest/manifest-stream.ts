import { createDigester, type Digest } from "../digest.js";
import { DpkgError } from "../errors.js";
import { createEntryOrderChecker } from "./entry-order.js";
import { splitLines } from "./split-lines.js";
import {
  decodeEntryLine,
  decodeHeaderLine,
  encodeEntryLine,
  encodeHeaderLine,
  type ManifestEntry,
  type ManifestHeader,
} from "./manifest-line.js";

/** A line holds one entry or the header; package readmes live in the header, so allow a few MiB. */
export const DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;

export interface ManifestSummary {
  /** The top hash: the digest of the canonical manifest bytes, which identifies the revision. */
  digest: Digest;
  entryCount: number;
  /** Sum of entry sizes. */
  totalSize: number;
  /** Length of the manifest itself. */
  byteLength: number;
}

/**
 * Encodes a manifest as canonical JSON Lines, in ~64 KiB chunks, validating every entry and the
 * order as it goes; memory stays bounded however many entries there are. Entries must already be
 * sorted by path (see sortByPath): the encoder refuses, rather than silently sorting, because a
 * stream cannot be sorted in bounded memory.
 */
export function encodeManifest(
  header: { meta?: ManifestHeader["meta"] },
  entries: Iterable<ManifestEntry> | AsyncIterable<ManifestEntry>,
): AsyncGenerator<Uint8Array, void, undefined> {
  return createManifestEncoder(header, entries).chunks;
}

export interface ManifestEncoder {
  /** The manifest's bytes. Iterate once. */
  chunks: AsyncGenerator<Uint8Array, void, undefined>;
  /** Available once `chunks` has been read to the end; throws before. */
  summary(): ManifestSummary;
}

/**
 * encodeManifest that also computes the summary (top hash included) of what it writes. Reading the
 * bytes back is not needed to know them canonical: every line is built canonical from a checked
 * entry, the order is checked, and no line may exceed what readManifest accepts by default.
 */
export function createManifestEncoder(
  header: { meta?: ManifestHeader["meta"] },
  entries: Iterable<ManifestEntry> | AsyncIterable<ManifestEntry>,
  options: { maxLineBytes?: number } = {},
): ManifestEncoder {
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const digester = createDigester();
  let summary: ManifestSummary | undefined;
  async function* chunks(): AsyncGenerator<Uint8Array, void, undefined> {
    const encoder = new TextEncoder();
    const order = createEntryOrderChecker();
    let byteLength = 0;
    let totalSize = 0;
    let n = 0;
    const emit = (text: string): Uint8Array => {
      const bytes = encoder.encode(text);
      digester.update(bytes);
      byteLength += bytes.byteLength;
      return bytes;
    };
    try {
      let pending = checkedLength(encodeHeaderLine(header), 1, maxLineBytes);
      for await (const entry of entries) {
        n += 1;
        const where = `manifest entry ${n}`;
        order.check(entry.path, where);
        pending += checkedLength(encodeEntryLine(entry, where), n + 1, maxLineBytes);
        totalSize += entry.size;
        if (pending.length >= CHUNK_BYTES) {
          yield emit(pending);
          pending = "";
        }
      }
      if (pending.length > 0) yield emit(pending);
    } catch (err) {
      digester.dispose();
      throw err;
    }
    summary = { digest: digester.digest(), entryCount: n, totalSize, byteLength };
  }
  return {
    chunks: chunks(),
    summary() {
      if (summary === undefined) throw new Error("manifest summary read before its bytes were consumed");
      return summary;
    },
  };
}

/** `line` (its `\n` included), unless it is longer than a reader accepts: refused as readManifest would. */
function checkedLength(line: string, number: number, maxLineBytes: number): string {
  // UTF-16 units are at most 3 bytes of UTF-8 each: only a long line needs counting.
  if ((line.length - 1) * 3 > maxLineBytes && Buffer.byteLength(line) - 1 > maxLineBytes) {
    throw new DpkgError("E_BAD_MANIFEST", `manifest line ${number}: longer than ${maxLineBytes} bytes`, {
      where: `manifest line ${number}`,
      maxLineBytes,
    });
  }
  return line;
}

/** Encodes and hashes a manifest; returns its top hash and summary. */
export async function summarizeManifest(
  header: { meta?: ManifestHeader["meta"] },
  entries: Iterable<ManifestEntry> | AsyncIterable<ManifestEntry>,
): Promise<ManifestSummary> {
  const encoder = createManifestEncoder(header, entries);
  for await (const _ of encoder.chunks) {
    // draining computes the summary
  }
  return encoder.summary();
}

export interface ManifestReader {
  header: ManifestHeader;
  /** The entries, validated as they stream. Iterate once. */
  entries: AsyncIterable<ManifestEntry>;
  /** Available once `entries` has been read to the end; throws before. */
  summary(): ManifestSummary;
}

/**
 * Decodes a canonical manifest from a byte stream with bounded memory. Anything non-canonical is
 * rejected with E_BAD_MANIFEST (or E_BAD_PATH) naming the line: bad UTF-8, unsorted or duplicate
 * paths, bad digests, negative or fractional sizes, extra fields, a missing final newline.
 * The top hash is computed over the bytes as they arrive; since every line was proven canonical,
 * that is the hash of the canonical form.
 */
export async function readManifest(
  source: AsyncIterable<Uint8Array>,
  options: { maxLineBytes?: number } = {},
): Promise<ManifestReader> {
  const digester = createDigester();
  let byteLength = 0;
  async function* hashed(): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      digester.update(chunk);
      byteLength += chunk.byteLength;
      yield chunk;
    }
  }
  const lines = splitLines(hashed(), options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES)[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) {
    digester.dispose();
    throw new DpkgError("E_BAD_MANIFEST", "manifest line 1: the manifest is empty (the header line is missing)", {
      where: "manifest line 1",
    });
  }
  const header = decodeHeaderLine(first.value.text, "manifest line 1");

  let summary: ManifestSummary | undefined;
  async function* entries(): AsyncGenerator<ManifestEntry> {
    const order = createEntryOrderChecker();
    let entryCount = 0;
    let totalSize = 0;
    try {
      for (;;) {
        const next = await lines.next();
        if (next.done) break;
        const where = `manifest line ${next.value.number}`;
        const entry = decodeEntryLine(next.value.text, where);
        order.check(entry.path, where);
        entryCount += 1;
        totalSize += entry.size;
        yield entry;
      }
    } catch (e) {
      digester.dispose();
      throw e;
    }
    summary = { digest: digester.digest(), entryCount, totalSize, byteLength };
  }

  return {
    header,
    entries: entries(),
    summary() {
      if (summary === undefined) throw new Error("manifest summary read before its entries were consumed");
      return summary;
    },
  };
}

/** Decodes a whole manifest held in memory (tests, small manifests). */
export async function parseManifest(
  bytes: Uint8Array | string,
): Promise<{ header: ManifestHeader; entries: ManifestEntry[]; summary: ManifestSummary }> {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  const reader = await readManifest(
    (async function* () {
      yield data;
    })(),
  );
  const entries: ManifestEntry[] = [];
  for await (const e of reader.entries) entries.push(e);
  return { header: reader.header, entries, summary: reader.summary() };
}
