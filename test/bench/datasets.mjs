// The data sets, generated once per scale under .bench/data and reused by later runs. A data set is
// complete when its index file (<name>.json beside the folder) exists; it is written last.
import { copyFile, mkdir, open, readFile, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { BENCH_DIR } from "./report.mjs";
import { fillRandom, prng } from "./prng.mjs";
import { scaled } from "./options.mjs";

const KIB = 1024;
const MIB = 1024 * KIB;
const LABELS = ["cat", "dog", "bird", "fish", "horse", "frog", "deer", "ship", "truck", "plane"];

const DATA_DIR = join(BENCH_DIR, "data");

/** 5,000 files of 1–16 KiB in 100 nested folders, with label/split/size metadata per file. */
export function manySmall(scale) {
  return load(`many-small-x${scale}`, async (dir) => smallFiles(dir, "", scaled(5000, scale, 10), 1));
}

/** 8 files of 64 MiB. */
export function fewLarge(scale) {
  return load(`few-large-x${scale}`, async (dir) => largeFiles(dir, "", 8, largeSize(64 * MIB, scale), 2));
}

/**
 * A mixed set (2,000 small files and 4 of 32 MiB) and its second version: 1% of the small files
 * rewritten, and 1 MiB in the middle of one large file. Returns both, with what changed.
 */
export async function mixed(scale) {
  const name = `mixed-x${scale}`;
  const smallCount = scaled(2000, scale, 10);
  const v1 = await load(`${name}-v1`, async (dir) => [
    ...(await smallFiles(dir, "small/", smallCount, 3)),
    ...(await largeFiles(dir, "large/", 4, largeSize(32 * MIB, scale), 4)),
  ]);
  const changedSmall = v1.files.filter((f) => f.path.startsWith("small/")).filter((_, i) => i % 100 === 50);
  const large = v1.files.find((f) => f.path === "large/large-1.bin");
  const patch = Math.min(MIB, Math.floor(large.size / 4));
  const patchAt = Math.floor(large.size / 2 - patch / 2);
  const v2 = await load(`${name}-v2`, async (dir) => {
    const changed = new Set(changedSmall.map((f) => f.path));
    await runPool(v1.files, 16, async (f) => {
      const to = join(dir, f.path);
      await mkdir(dirname(to), { recursive: true });
      if (changed.has(f.path)) await writeFile(to, fillRandom(new Uint8Array(f.size), seedOf(5, f.path)));
      else await copyFile(join(v1.dir, f.path), to);
    });
    const fh = await open(join(dir, large.path), "r+");
    try {
      await fh.write(fillRandom(new Uint8Array(patch), seedOf(6, large.path)), 0, patch, patchAt);
    } finally {
      await fh.close();
    }
    return v1.files.map((f) => ({ ...f }));
  });
  const changedFiles = [...changedSmall, large];
  return {
    v1,
    v2,
    changed: { files: changedFiles.length, bytes: changedFiles.reduce((n, f) => n + f.size, 0), paths: changedFiles.map((f) => f.path) },
    patch: { path: large.path, offset: patchAt, length: patch },
  };
}

function largeSize(bytes, scale) {
  // Aligned to 64 KiB so sizes stay round; never below 64 KiB.
  return Math.max(64 * KIB, Math.round((bytes * scale) / (64 * KIB)) * 64 * KIB);
}

async function load(name, generate) {
  const dir = join(DATA_DIR, name);
  const indexFile = join(DATA_DIR, `${name}.json`);
  if (existsSync(indexFile)) return { ...JSON.parse(await readFile(indexFile, "utf8")), dir };
  process.stderr.write(`generating data set ${name} ...\n`);
  await mkdir(dir, { recursive: true });
  const files = (await generate(dir)).sort((a, b) => (a.path < b.path ? -1 : 1));
  // Per-entry metadata lives beside the folder, not in it: it is not part of the data pushed.
  const metaFile = join(DATA_DIR, `${name}.meta.jsonl`);
  await writeFile(metaFile, files.map((f) => JSON.stringify({ path: f.path, meta: f.meta })).join("\n") + "\n");
  const index = { name, metaFile, files, bytes: files.reduce((n, f) => n + f.size, 0) };
  await writeFile(indexFile, JSON.stringify(index));
  return { ...index, dir };
}

async function smallFiles(dir, prefix, count, stream) {
  const rand = prng(stream * 7919);
  const files = [];
  for (let i = 0; i < count; i++) {
    const path = `${prefix}part-${i % 10}/group-${Math.floor(i / 10) % 10}/file-${String(i).padStart(6, "0")}.bin`;
    const size = rand.int(KIB, 16 * KIB);
    // Exactly every tenth file is in "test": the 10% subset the --where case selects.
    const split = i % 10 === 3 ? "test" : i % 10 === 7 ? "val" : "train";
    files.push({ path, size, meta: { label: rand.pick(LABELS), split, size } });
  }
  await runPool(files, 16, async (f) => {
    const to = join(dir, f.path);
    await mkdir(dirname(to), { recursive: true });
    await writeFile(to, fillRandom(new Uint8Array(f.size), seedOf(stream, f.path)));
  });
  return files;
}

async function largeFiles(dir, prefix, count, size, stream) {
  const files = [];
  const chunk = 4 * MIB;
  for (let i = 0; i < count; i++) {
    const path = `${prefix}large-${i}.bin`;
    await mkdir(dirname(join(dir, path)), { recursive: true });
    const fh = await open(join(dir, path), "w");
    try {
      for (let at = 0, n = 0; at < size; at += chunk, n++) {
        const len = Math.min(chunk, size - at);
        await fh.write(fillRandom(new Uint8Array(len), seedOf(stream, `${path}#${n}`)), 0, len, at);
      }
    } finally {
      await fh.close();
    }
    files.push({ path, size, meta: { kind: "large", size } });
  }
  return files;
}

/** A 32-bit seed from a stream number and a name (FNV-1a). */
function seedOf(stream, name) {
  let h = (0x811c9dc5 ^ stream) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h || 1;
}

/** Runs `fn` over `items`, `width` at a time. */
export async function runPool(items, width, fn) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}
