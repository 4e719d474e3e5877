import { createHash, randomBytes } from "node:crypto";

/**
 * Token secrets look like `dpkg_<43 base64url chars>` (256 random bits), so they are easy to spot
 * in a leaked log or repository. The registry stores only the SHA-256 of a secret: with 256 bits
 * of entropy a slow password hash would add nothing, and lookups stay a single indexed read.
 */
const PREFIX = "dpkg_";

export function generateTokenSecret(): string {
  return PREFIX + randomBytes(32).toString("base64url");
}

export function hashTokenSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

export function looksLikeToken(secret: string): boolean {
  return /^dpkg_[A-Za-z0-9_-]{43}$/.test(secret);
}

export function newTokenId(): string {
  return randomBytes(8).toString("hex");
}
