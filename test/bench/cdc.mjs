// For the notes: how much content-defined chunking would save on v2's changed large file, with a
// FastCDC-style gear-hash chunker (normalized chunking; min 16 KiB, average ~64 KiB, max 256 KiB).
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { prng } from "./prng.mjs";

const MIN = 16 * 1024;
const AVG = 64 * 1024;
const MAX = 256 * 1024;
// Gear hashes shift left, so the high bits mix the most recent ~32 bytes: the masks test high bits.
// Stricter before the average size, looser after it (FastCDC's normalization, level 2).
const MASK_S = (0xffffffff << (32 - 18)) >>> 0;
const MASK_L = (0xffffffff << (32 - 14)) >>> 0;

const GEAR = (() => {
  const rand = prng(0x6ea2);
  return Uint32Array.from({ length: 256 }, () => Math.floor(rand.next() * 4294967296) >>> 0);
})();

/** Chunk boundaries of `bytes` as [start, end) pairs. */
export function chunks(bytes) {
  const out = [];
  let start = 0;
  while (start < bytes.length) {
    const end = cut(bytes, start, Math.min(bytes.length, start + MAX));
    out.push([start, end]);
    start = end;
  }
  return out;
}

function cut(bytes, start, limit) {
  if (limit - start <= MIN) return limit;
  let h = 0;
  let i = start + MIN;
  const normal = Math.min(limit, start + AVG);
  for (; i < normal; i++) {
    h = ((h << 1) + GEAR[bytes[i]]) >>> 0;
    if ((h & MASK_S) === 0) return i + 1;
  }
  for (; i < limit; i++) {
    h = ((h << 1) + GEAR[bytes[i]]) >>> 0;
    if ((h & MASK_L) === 0) return i + 1;
  }
  return limit;
}

/** Bytes of v2's chunks that v1 lacks, against the whole file that file-level dedup sends. */
export async function chunkDedup(v1Path, v2Path) {
  const [a, b] = await Promise.all([readFile(v1Path), readFile(v2Path)]);
  const digest = (buf, [s, e]) => createHash("sha256").update(buf.subarray(s, e)).digest("hex");
  const known = new Set(chunks(a).map((c) => digest(a, c)));
  const next = chunks(b);
  const changed = next.filter((c) => !known.has(digest(b, c)));
  const changedBytes = changed.reduce((n, [s, e]) => n + e - s, 0);
  return {
    fileBytes: b.length,
    chunks: next.length,
    averageChunk: Math.round(b.length / next.length),
    changedChunks: changed.length,
    changedBytes,
    changedShare: Number((changedBytes / b.length).toFixed(4)),
    savedBytes: b.length - changedBytes,
  };
}
