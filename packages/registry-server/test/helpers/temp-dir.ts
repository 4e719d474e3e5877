import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TempDir {
  path: string;
  cleanup: () => Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A fresh folder under the OS temp dir; `cleanup` (or `await using`) removes it and everything in it. */
export async function makeTempDir(label = "dpkg-test"): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), `${label}-`));
  const cleanup = (): Promise<void> => rm(path, { recursive: true, force: true, maxRetries: 3 });
  return { path, cleanup, [Symbol.asyncDispose]: cleanup };
}
