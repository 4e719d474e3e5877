import type { ManifestSummary } from "@dpkg/core";
import type { PushCounts } from "./hash-and-send.js";
import { createSendCount } from "./send-count.js";

/**
 * Hashing and sending overlap: blobs the registry lacks are sent while later files are still read.
 * "hash" lasts until every file is hashed and counts files and bytes hashed of all of them; "upload"
 * then counts blobs and bytes sent of all the registry lacked (so it may open well above zero);
 * "commit" reports the totals. `sentBytes` is the file bytes sent so far, in every phase.
 */
export interface PushProgress {
  phase: "hash" | "upload" | "commit";
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
  sentBytes: number;
}

export interface PushProgressReport {
  counts: PushCounts;
  /** Reports the counts as they are now. */
  report: () => void;
  /** Every file is hashed: from now on progress counts what is sent. */
  hashed(): void;
  committing(summary: ManifestSummary): void;
}

/** The counts a push keeps, and the progress events made of them (the first one at once). */
export function createPushProgress(
  totals: { files: number; bytes: number },
  onProgress: (p: PushProgress) => void,
): PushProgressReport {
  let phase: "hash" | "upload" = "hash";
  const counts: PushCounts = {
    hashed: { files: 0, bytes: 0 },
    reused: { files: 0, bytes: 0 },
    toSend: { blobs: 0, bytes: 0 },
    sent: createSendCount(() => report()),
  };
  const report = (): void => {
    const sentBytes = counts.sent.bytes;
    if (phase === "hash") onProgress({ phase, ...counts.hashed, totalFiles: totals.files, totalBytes: totals.bytes, sentBytes });
    else onProgress({ phase, files: counts.sent.blobs, totalFiles: counts.toSend.blobs, bytes: sentBytes, totalBytes: counts.toSend.bytes, sentBytes });
  };
  report();
  return {
    counts,
    report,
    hashed() {
      phase = "upload";
      report();
    },
    committing(summary) {
      const { entryCount: files, totalSize: bytes } = summary;
      onProgress({ phase: "commit", files, totalFiles: files, bytes, totalBytes: bytes, sentBytes: counts.sent.bytes });
    },
  };
}
