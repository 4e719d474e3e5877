import type { Digest } from "@dpkg/core";

export function blobOf(i: number): { digest: Digest; bytes: Uint8Array };
export function shuffled(from: number, to: number, seed: number): number[];
