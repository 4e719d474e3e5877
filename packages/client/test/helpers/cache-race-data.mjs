// Deterministic blobs for the cache concurrency test, shared by the test and its child processes.
import { digestBytes } from "@dpkg/core";

/** Blob i: a few bytes to ~100 KiB, distinct per i. */
export function blobOf(i) {
  const size = 1 + ((i * 7919) % 100_000);
  const bytes = new Uint8Array(size);
  for (let j = 0; j < size; j++) bytes[j] = (i * 31 + j * 17) & 0xff;
  bytes[0] = i & 0xff;
  if (size > 1) bytes[1] = (i >> 8) & 0xff;
  return { digest: digestBytes(bytes), bytes };
}

/** from..to-1 in an order that depends on `seed`. */
export function shuffled(from, to, seed) {
  const out = Array.from({ length: to - from }, (_, k) => from + k);
  let s = seed >>> 0 || 1;
  for (let k = out.length - 1; k > 0; k--) {
    s = (s * 1103515245 + 12345) >>> 0;
    const j = s % (k + 1);
    [out[k], out[j]] = [out[j], out[k]];
  }
  return out;
}
