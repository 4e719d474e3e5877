import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadBlake3Backend, type Blake3BackendName } from "../src/blake3-backend.js";
import {
  createDigester,
  digestBackend,
  digestBytes,
  digestFromHex,
  digestHex,
  digestStream,
  isDigest,
  parseDigest,
  verifyStream,
  type Digest,
} from "../src/digest.js";
import { DpkgError, isDpkgError } from "../src/errors.js";

const { cases } = JSON.parse(readFileSync(new URL("./vectors/blake3.json", import.meta.url), "utf8")) as {
  cases: { input_len: number; hash: string }[];
};

/** The official vectors' input: `len` bytes of 0, 1, ..., 250, 0, 1, ... */
function vectorInput(len: number): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => i % 251);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/** Cuts `bytes` at fixed `size` steps (views, not copies, to catch offset bugs in the bindings). */
function chunks(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

function cutAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [0, ...[...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b), bytes.length];
  return points.slice(1).map((end, i) => bytes.subarray(points[i], end));
}

/** A real stream hands chunks over asynchronously; so does this one. */
async function* source(parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) {
    await Promise.resolve();
    yield p;
  }
}

describe.each<Blake3BackendName>(["native", "wasm"])("%s backend against the official BLAKE3 vectors", (name) => {
  it.each(cases.map((c) => [c.input_len, c] as const))("input_len %i", async (_, c) => {
    const backend = await loadBlake3Backend(name);
    const hashOf = (parts: Uint8Array[], length?: number): string => {
      const h = backend.createHasher();
      for (const p of parts) h.update(p);
      const out = hex(h.digest(length));
      h.dispose();
      return out;
    };
    const input = vectorInput(c.input_len);
    expect(hashOf([input])).toBe(c.hash.slice(0, 64));
    expect(hashOf([input], 131)).toBe(c.hash);
    for (const size of [1, 1023, 1025]) expect(hashOf(chunks(input, size), 131)).toBe(c.hash);
    // A view at an odd offset into a larger buffer must hash only the bytes it shows.
    const padded = new Uint8Array(c.input_len + 7).fill(0xff);
    padded.set(input, 3);
    expect(hashOf([padded.subarray(3, 3 + c.input_len)])).toBe(c.hash.slice(0, 64));
  });

  it("gives the same hash for random chunk splits", async () => {
    const backend = await loadBlake3Backend(name);
    const c = cases.find((x) => x.input_len === 8193)!;
    const input = vectorInput(c.input_len);
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 12 }), (cuts) => {
        const h = backend.createHasher();
        for (const part of cutAt(input, cuts)) h.update(part);
        expect(hex(h.digest(131))).toBe(c.hash);
        h.dispose();
      }),
      { numRuns: 40 },
    );
  });
});

describe("loadBlake3Backend", () => {
  it("loads each backend once, so repeated calls add no process listeners", async () => {
    const first = await loadBlake3Backend("wasm");
    const listeners = process.listenerCount("uncaughtException");
    for (let i = 0; i < 3; i++) expect(await loadBlake3Backend("wasm")).toBe(first);
    expect(process.listenerCount("uncaughtException")).toBe(listeners);
  });
});

describe("digest.ts", () => {
  const big = cases.find((x) => x.input_len === 102400)!;
  const input = vectorInput(big.input_len);
  const expected: Digest = `blake3:${big.hash.slice(0, 64)}`;

  it("uses a loaded backend and matches the vectors through every entry point", async () => {
    expect(["native", "wasm"]).toContain(digestBackend());
    expect(digestBytes(input)).toBe(expected);
    expect(await digestStream(source(chunks(input, 1025)))).toEqual({ digest: expected, size: big.input_len });
    const d = createDigester();
    for (const part of chunks(input, 1023)) d.update(part);
    expect(d.size).toBe(big.input_len);
    expect(d.digest()).toBe(expected);
    expect(() => d.digest()).toThrow(/already finished/);
    expect(digestBytes(new Uint8Array())).toBe(`blake3:${cases[0]!.hash.slice(0, 64)}`);
    expect(digestBytes("h\u00e9llo")).toBe(digestBytes(new TextEncoder().encode("h\u00e9llo")));
    expect(digestBytes(input)).toMatch(/^blake3:[0-9a-f]{64}$/);
  });

  it("passes a source error through digestStream", async () => {
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield* source([input.subarray(0, 10)]);
      throw new Error("disk gone");
    }
    await expect(digestStream(failing())).rejects.toThrow("disk gone");
  });

  it("verifyStream passes good bytes through unchanged", async () => {
    const out: Uint8Array[] = [];
    for await (const part of verifyStream(source(chunks(input, 4096)), { digest: expected, size: input.length })) out.push(part);
    expect(Buffer.concat(out).equals(input)).toBe(true);
    // The size is optional.
    for await (const _ of verifyStream(source([input]), { digest: expected })) void _;
  });

  async function drain(expectedSize: number | undefined, parts: Uint8Array[]): Promise<DpkgError> {
    try {
      for await (const _ of verifyStream(source(parts), { digest: expected, size: expectedSize, what: "blob x" })) void _;
    } catch (e) {
      if (e instanceof DpkgError) return e;
      throw e;
    }
    return expect.unreachable("verifyStream accepted bad data");
  }

  it("verifyStream throws E_INTEGRITY on a flipped byte", async () => {
    const flipped = input.slice();
    flipped.set([input[5000]! ^ 1], 5000);
    for (const size of [input.length, undefined]) {
      const e = await drain(size, chunks(flipped, 4096));
      expect(e.code).toBe("E_INTEGRITY");
      expect(e.message).toContain(`blob x: content hashes to blake3:`);
      expect(e.details).toMatchObject({ expected });
    }
  });

  it("verifyStream throws E_SIZE_MISMATCH on short and long input", async () => {
    const short = await drain(input.length, chunks(input.subarray(0, input.length - 1), 4096));
    expect(short.code).toBe("E_SIZE_MISMATCH");
    expect(short.details).toMatchObject({ expectedSize: input.length, actualSize: input.length - 1 });
    const long = await drain(input.length, [input, new Uint8Array(1)]);
    expect(long.code).toBe("E_SIZE_MISMATCH");
  });

  it("verifyStream stops as soon as too many bytes arrive, and closes the source", async () => {
    let pulled = 0;
    let closed = false;
    async function* endless(): AsyncGenerator<Uint8Array> {
      try {
        for (;;) {
          pulled++;
          await Promise.resolve();
          yield new Uint8Array(8);
        }
      } finally {
        closed = true;
      }
    }
    const received: Uint8Array[] = [];
    const run = async (): Promise<void> => {
      for await (const part of verifyStream(endless(), { digest: expected, size: 20 })) received.push(part);
    };
    await expect(run()).rejects.toSatisfy((e) => isDpkgError(e, "E_SIZE_MISMATCH"));
    expect(pulled).toBe(3);
    expect(received).toHaveLength(2); // 16 bytes passed on; the chunk that overflowed never was
    expect(closed).toBe(true);
  });
});

describe("parseDigest", () => {
  const good = `blake3:${cases[0]!.hash.slice(0, 64)}`;

  it("accepts the canonical form and round-trips hex", () => {
    expect(parseDigest(good)).toBe(good);
    expect(isDigest(good)).toBe(true);
    expect(digestFromHex(digestHex(parseDigest(good)))).toBe(good);
  });

  it.each([
    ["uppercase hex", good.toUpperCase().replace("BLAKE3", "blake3")],
    ["uppercase algorithm", good.replace("blake3", "BLAKE3")],
    ["short", good.slice(0, -1)],
    ["long", good + "0"],
    ["8-digit prefix", good.slice(0, 15)],
    ["sha256", good.replace("blake3", "sha256")],
    ["no algorithm", good.slice(7)],
    ["whitespace", ` ${good}`],
    ["non-string", 42],
    ["null", null],
  ])("rejects %s with E_BAD_DIGEST", (_, value) => {
    expect(isDigest(value)).toBe(false);
    try {
      parseDigest(value, "entry 3 digest");
      expect.unreachable();
    } catch (e) {
      expect(isDpkgError(e, "E_BAD_DIGEST")).toBe(true);
      expect((e as Error).message).toContain(`entry 3 digest: ${JSON.stringify(value)} is not a digest`);
    }
  });
});
