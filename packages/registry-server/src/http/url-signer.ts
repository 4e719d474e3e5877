import { DpkgError } from "@dpkg/core";
import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Presigned URLs for stores that have none (the folder store): the registry signs
 * (key, start, end, expiry) with a secret of its own and serves exactly that byte range to whoever
 * holds the URL, the way S3 serves a presigned GET. The locations route only signs ranges that
 * hold blobs the caller may read, so a URL never opens more than was granted.
 */
export interface SignedRange {
  key: string;
  start: number;
  end: number;
  expires: number;
}

export function createUrlSigner(secret: Uint8Array): {
  sign(range: SignedRange): string;
  verify(range: SignedRange, signature: string, now?: number): void;
} {
  const mac = (r: SignedRange): Buffer =>
    createHmac("sha256", secret).update(`${r.key}\n${r.start}\n${r.end}\n${r.expires}`).digest();
  return {
    sign(range) {
      return mac(range).toString("base64url");
    },
    verify(range, signature, now = Date.now()) {
      const expected = mac(range);
      const given = Buffer.from(signature, "base64url");
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new DpkgError("E_FORBIDDEN", "the object URL's signature does not match");
      }
      if (range.expires * 1000 < now) {
        throw new DpkgError("E_FORBIDDEN", "the object URL has expired; ask for locations again");
      }
    },
  };
}
