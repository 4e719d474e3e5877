import { loadBestBlake3Backend, type Blake3Backend } from "./blake3-backend.js";
import { DpkgError } from "./errors.js";

/** `blake3:` + 64 lowercase hex digits of the BLAKE3-256 hash of some bytes. */
export type Digest = `blake3:${string}`;

export const DIGEST_PREFIX = "blake3:";
const DIGEST_RE = /^blake3:[0-9a-f]{64}$/;

// Top-level await: importing core yields a ready hasher, so no caller can forget to initialise it.
const backend: Blake3Backend = await loadBestBlake3Backend();

/** Which BLAKE3 implementation this process uses ("native" or "wasm"). */
export function digestBackend(): Blake3Backend["name"] {
  return backend.name;
}

export function isDigest(value: unknown): value is Digest {
  return typeof value === "string" && DIGEST_RE.test(value);
}

/** Validates a digest string; `where` names the field or line for the error message. */
export function parseDigest(value: unknown, where = "digest"): Digest {
  if (!isDigest(value)) {
    throw new DpkgError("E_BAD_DIGEST", `${where}: ${JSON.stringify(value)} is not a digest`, { where, value });
  }
  return value;
}

/** The 64 hex digits of a digest, as used in bucket keys. */
export function digestHex(digest: Digest): string {
  return digest.slice(DIGEST_PREFIX.length);
}

export function digestFromHex(hex: string): Digest {
  return parseDigest(DIGEST_PREFIX + hex);
}

function toHex(bytes: Uint8Array): string {
  // Buffer's hex encoder is native; a loop of toString(16) costs several µs per digest.
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** An incremental hasher. `digest()` may be called once; it frees the hasher. */
export interface Digester {
  update(data: Uint8Array): Digester;
  /** Bytes fed so far. */
  readonly size: number;
  digest(): Digest;
  /** Frees the hasher without a result (for abandoned streams; the WebAssembly backend needs it). */
  dispose(): void;
}

export function createDigester(): Digester {
  const raw = backend.createHasher();
  let size = 0;
  let done = false;
  const digester: Digester = {
    update(data) {
      if (done) throw new Error("digester already finished");
      raw.update(data);
      size += data.byteLength;
      return digester;
    },
    get size() {
      return size;
    },
    digest() {
      if (done) throw new Error("digester already finished");
      done = true;
      try {
        return `blake3:${toHex(raw.digest(32))}`;
      } finally {
        raw.dispose();
      }
    },
    dispose() {
      done = true;
      raw.dispose();
    },
  };
  return digester;
}

export function digestBytes(data: Uint8Array | string): Digest {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  // Called once per small file on push (client and registry): skip the Digester's bookkeeping.
  const raw = backend.createHasher();
  try {
    raw.update(bytes);
    return `blake3:${toHex(raw.digest(32))}`;
  } finally {
    raw.dispose();
  }
}

/** Hashes a byte stream with bounded memory. */
export async function digestStream(source: AsyncIterable<Uint8Array>): Promise<{ digest: Digest; size: number }> {
  const d = createDigester();
  try {
    for await (const chunk of source) d.update(chunk);
  } catch (err) {
    d.dispose(); // the WebAssembly backend would otherwise keep the hasher's memory
    throw err;
  }
  const size = d.size;
  return { digest: d.digest(), size };
}

/**
 * Passes bytes through while hashing them, and throws E_INTEGRITY (or E_SIZE_MISMATCH) at the end,
 * or as soon as too many bytes arrive, if they are not what `expected` names. The consumer must
 * treat everything it received as untrusted until the iteration completes without throwing.
 */
export async function* verifyStream(
  source: AsyncIterable<Uint8Array>,
  expected: { digest: Digest; size?: number; what?: string },
): AsyncGenerator<Uint8Array, void, undefined> {
  const what = expected.what ?? expected.digest;
  const d = createDigester();
  let finished = false;
  try {
    for await (const chunk of source) {
      d.update(chunk);
      if (expected.size !== undefined && d.size > expected.size) {
        throw new DpkgError("E_SIZE_MISMATCH", `${what}: more than the expected ${expected.size} bytes`, {
          digest: expected.digest,
          expectedSize: expected.size,
        });
      }
      yield chunk;
    }
    finished = true;
  } finally {
    if (!finished) d.dispose();
  }
  if (expected.size !== undefined && d.size !== expected.size) {
    d.dispose();
    throw new DpkgError("E_SIZE_MISMATCH", `${what}: got ${d.size} bytes, expected ${expected.size}`, {
      digest: expected.digest,
      expectedSize: expected.size,
      actualSize: d.size,
    });
  }
  const actual = d.digest();
  if (actual !== expected.digest) {
    throw new DpkgError("E_INTEGRITY", `${what}: content hashes to ${actual}, expected ${expected.digest}`, {
      expected: expected.digest,
      actual,
    });
  }
}
