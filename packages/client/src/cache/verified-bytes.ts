import { digestBytes, DpkgError, type Digest } from "@dpkg/core";

/** The bytes of `chunks` as one buffer, after checking their size and digest (same errors as verifyStream). */
export function verifiedBytes(chunks: Uint8Array[], expected: { digest: Digest; size: number; what: string }): Uint8Array {
  const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  if (bytes.byteLength !== expected.size) {
    const problem = bytes.byteLength > expected.size ? `more than the expected ${expected.size} bytes` : `got ${bytes.byteLength} bytes, expected ${expected.size}`;
    throw new DpkgError("E_SIZE_MISMATCH", `${expected.what}: ${problem}`, {
      digest: expected.digest,
      expectedSize: expected.size,
      actualSize: bytes.byteLength,
    });
  }
  const actual = digestBytes(bytes);
  if (actual !== expected.digest) {
    throw new DpkgError("E_INTEGRITY", `${expected.what}: content hashes to ${actual}, expected ${expected.digest}`, { expected: expected.digest, actual });
  }
  return bytes;
}
