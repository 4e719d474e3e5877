import { DpkgError } from "@dpkg/core";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** The DpkgError `p` rejects with; fails the test if it resolves or rejects with anything else. */
export async function rejection(p: Promise<unknown>): Promise<DpkgError> {
  const outcome = await p.then(
    () => ({ resolved: true as const }),
    (err: unknown) => ({ resolved: false as const, err }),
  );
  if (outcome.resolved) throw new Error("expected a rejection");
  if (!(outcome.err instanceof DpkgError)) throw new Error(`expected a DpkgError, got ${String(outcome.err)}`);
  return outcome.err;
}

/** Writes `files` (relative `/`-separated path → content) under `root`, making folders on the way. */
export async function writeTree(root: string, files: Record<string, string | Uint8Array>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const path = join(root, ...rel.split("/"));
    await mkdir(join(path, ".."), { recursive: true });
    await writeFile(path, content);
  }
}

/** Bytes whose digest differs per seed: large files that do not deduplicate by accident. */
export function bigBytes(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) bytes[i] = (i / 4096 + seed) & 0xff;
  return bytes;
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
