import { Readable } from "node:stream";
import { pack as tarPack, type Pack } from "tar-stream";
import { readVerifiedFile } from "./read-file.js";
import type { UploadBlob } from "./upload.js";

// Members carry no meaning beyond name and bytes; a fixed time keeps packs of equal blobs identical.
const EPOCH = new Date(0);

export interface PackStream {
  stream: Readable;
  /** The error that made this stream fail on the sending side (a file that changed), if any. */
  failure(): unknown;
}

/**
 * A tar stream of small blobs, each member named by its digest, as the registry's pack upload takes
 * them. Each file is read whole (it is under the pack threshold) and checked against its digest
 * before its member starts, so a file that changed since hashing fails the upload by name instead
 * of sending bytes the server would refuse. Backpressure: the next file is read only once the
 * previous member has been taken by the request, so memory is one file plus the tar buffer.
 */
export function packStream(blobs: readonly UploadBlob[], onBytes: (n: number) => void): PackStream {
  const pack = tarPack();
  let failure: unknown;
  const fill = async (): Promise<void> => {
    for (const blob of blobs) {
      let bytes: Buffer;
      try {
        bytes = await readWhole(blob);
      } catch (err) {
        failure = err;
        pack.destroy(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      // A request that failed or was aborted destroyed the pack; its own error tells the story.
      if (pack.destroying) return;
      const added = await addMember(pack, blob.digest, bytes);
      if (!added) return;
      onBytes(bytes.byteLength);
    }
    pack.finalize();
  };
  void fill();
  return { stream: Readable.from(tarBytes(pack), { objectMode: false }), failure: () => failure };
}

/** True once the member is wholly in the tar stream, false if the pack was destroyed meanwhile. */
function addMember(pack: Pack, digest: string, bytes: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    try {
      // tar-stream writes a Buffer argument as the whole member; a plain Uint8Array would be ignored.
      pack.entry({ name: digest, size: bytes.byteLength, mode: 0o644, mtime: EPOCH }, bytes, (err) => resolve(!err));
    } catch {
      resolve(false); // destroyed between our check and the call
    }
  });
}

async function readWhole(blob: UploadBlob): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of readVerifiedFile(blob)) chunks.push(chunk);
  return Buffer.concat(chunks, blob.size);
}

/** streamx yields `unknown`; the pack only ever pushes bytes. */
async function* tarBytes(pack: Pack): AsyncGenerator<Uint8Array, void, undefined> {
  for await (const chunk of pack) {
    if (!(chunk instanceof Uint8Array)) throw new Error("tar-stream produced a chunk that is not bytes");
    yield chunk;
  }
}
