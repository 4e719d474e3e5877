import { createDigester, type Digest } from "@dpkg/core";
import { readFileChunks } from "./read-file.js";
import { runLimited } from "./run-limited.js";
import type { WalkedFile } from "./walk.js";

/** A walked file with the digest and size of the bytes actually read. */
export interface HashedFile extends WalkedFile {
  digest: Digest;
}

export interface HashOptions {
  /** Files hashed at once (default 8); memory is one read chunk per file in flight. */
  concurrency?: number;
  /** Running totals, called per chunk read. */
  onProgress?: (done: { files: number; bytes: number }) => void;
}

export const DEFAULT_HASH_CONCURRENCY = 8;

/** Hashes files in parallel, streaming; the result keeps the order of `files` (and their other fields). */
export async function hashFiles<T extends WalkedFile>(files: readonly T[], options: HashOptions = {}): Promise<(T & HashedFile)[]> {
  const out = new Array<T & HashedFile>(files.length);
  const done = { files: 0, bytes: 0 };
  await runLimited(files, options.concurrency ?? DEFAULT_HASH_CONCURRENCY, async (file, index) => {
    const digester = createDigester();
    try {
      for await (const chunk of readFileChunks(file)) {
        digester.update(chunk);
        done.bytes += chunk.byteLength;
        options.onProgress?.({ ...done });
      }
    } catch (err) {
      digester.dispose(); // the WebAssembly backend would otherwise keep the hasher's memory
      throw err;
    }
    const size = digester.size;
    out[index] = { ...file, size, digest: digester.digest() };
    done.files += 1;
    options.onProgress?.({ ...done });
  });
  return out;
}
