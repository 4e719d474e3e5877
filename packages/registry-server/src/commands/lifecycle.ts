import { existsSync } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { parseDuration, type RegistryConfig } from "../config.js";
import { gc } from "../lifecycle/gc.js";
import { reindex } from "../lifecycle/reindex.js";
import { verify } from "../lifecycle/verify.js";
import { indexFile, openRegistry } from "../open-registry.js";

const SQLITE_SIDE_FILES = ["", "-wal", "-shm"];

/**
 * Rebuilds the index into a new file from the bucket alone, then swaps it in and keeps the old
 * one beside it (`index.sqlite.before-reindex-<time>`). Tokens live only in the index: they are
 * not in the bucket, so a rebuilt registry starts with none and `serve` makes a new admin token.
 */
export async function reindexCommand(config: RegistryConfig): Promise<void> {
  const target = indexFile(config);
  const building = `${target}.reindexing`;
  for (const side of SQLITE_SIDE_FILES) await rm(building + side, { force: true });
  const registry = await openRegistry(config, { indexFile: building });
  let ok = false;
  try {
    const report = await reindex({ blobs: registry.blobs, meta: registry.meta, log: (line) => process.stderr.write(line + "\n") });
    process.stdout.write(JSON.stringify(report, null, 2) + "\n");
    ok = true;
  } finally {
    await registry.close();
  }
  if (!ok) return;
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  for (const side of SQLITE_SIDE_FILES) {
    if (existsSync(target + side)) await rename(target + side, `${target}.before-reindex-${stamp}${side}`);
  }
  for (const side of SQLITE_SIDE_FILES) {
    if (existsSync(building + side)) await rename(building + side, target + side);
  }
  process.stderr.write(`reindexed into ${target}; the previous index (if any) was kept as ${target}.before-reindex-${stamp}\n`);
}

export async function gcCommand(config: RegistryConfig, options: { grace: string; delete: boolean }): Promise<void> {
  const registry = await openRegistry(config);
  try {
    const report = await gc({ blobs: registry.blobs, meta: registry.meta, graceMs: parseDuration(options.grace), dryRun: !options.delete });
    process.stdout.write(JSON.stringify(report, null, 2) + "\n");
    if (!options.delete) process.stderr.write("dry run: nothing was deleted (pass --delete to delete)\n");
  } finally {
    await registry.close();
  }
}

export async function verifyCommand(config: RegistryConfig): Promise<void> {
  const registry = await openRegistry(config);
  try {
    const report = await verify({ blobs: registry.blobs, meta: registry.meta });
    process.stdout.write(JSON.stringify(report, null, 2) + "\n");
    if (report.problems.length > 0) {
      process.stderr.write(`verify: ${report.problems.length} damaged object(s); see the report above\n`);
      process.exitCode = 1;
    }
  } finally {
    await registry.close();
  }
}
