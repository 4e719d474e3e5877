import { createDigester, type Digest } from "@dpkg/core";
import { readFileChunks, type FileSource } from "./read-file.js";
import type { WalkedFile } from "./walk.js";

/** A walked file with the digest and size of the bytes actually read. */
export interface HashedFile extends WalkedFile {
  digest: Digest;
}

const SCRATCH_BYTES = 1024 * 1024;

/**
 * Hashes a (large) file as it streams, through one reused buffer: nothing is kept, so nothing needs
 * a fresh allocation. `onBytes` is told of every chunk hashed.
 */
export async function hashFile(file: FileSource, onBytes: (n: number) => void): Promise<{ digest: Digest; size: number }> {
  const digester = createDigester();
  try {
    for await (const chunk of readFileChunks(file, new Uint8Array(SCRATCH_BYTES))) {
      digester.update(chunk);
      onBytes(chunk.byteLength);
    }
  } catch (err) {
    digester.dispose(); // the WebAssembly backend would otherwise keep the hasher's memory
    throw err;
  }
  const size = digester.size;
  return { digest: digester.digest(), size };
}
