// Hash throughput of a cached file: BLAKE3 through @dpkg/core (native addon, then the wasm
// fallback) against node's sha256 as the baseline, all streaming the same file in one run.
import { createHash } from "node:crypto";
import { createReadStream, existsSync, statSync, openSync, writeSync, closeSync, mkdirSync } from "node:fs";
import { parseArgs } from "node:util";
import { createDigester, digestBackend, loadBlake3Backend } from "@dpkg/core";
import { BENCH_DIR, report } from "./report.mjs";
import { benchOptions } from "./options.mjs";

const CHUNK = 1 << 20;

function makeFile(path, mib) {
  if (existsSync(path) && statSync(path).size === mib * CHUNK) return;
  mkdirSync(BENCH_DIR, { recursive: true });
  // Deterministic, incompressible-looking content: xorshift32 stream, one MiB at a time.
  const fd = openSync(path, "w");
  const buf = new Uint32Array(CHUNK / 4);
  let x = 0x9e3779b9;
  for (let i = 0; i < mib; i++) {
    for (let j = 0; j < buf.length; j++) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      buf[j] = x;
    }
    writeSync(fd, new Uint8Array(buf.buffer));
  }
  closeSync(fd);
}

async function timeStream(path, update) {
  const start = process.hrtime.bigint();
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK })) update(chunk);
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export async function run(argv) {
  const { values } = parseArgs({ args: argv, allowPositionals: true, strict: false, options: { "size-mib": { type: "string" } } });
  const mib = Number(values["size-mib"] ?? Math.max(1, Math.round(1024 * benchOptions(argv).scale)));
  const path = `${BENCH_DIR}hash-${mib}mib.bin`;
  makeFile(path, mib);
  await timeStream(path, () => {}); // warm the page cache: "streaming a cached file"

  const wasm = await loadBlake3Backend("wasm");
  const candidates = [
    { name: "sha256 (node:crypto, baseline)", make: () => { const h = createHash("sha256"); return { update: (c) => h.update(c), done: () => h.digest("hex") }; } },
    { name: `blake3 (@dpkg/core, ${digestBackend()})`, make: () => { const d = createDigester(); return { update: (c) => d.update(c), done: () => d.digest() }; } },
    { name: "blake3 (wasm fallback)", make: () => { const h = wasm.createHasher(); return { update: (c) => h.update(c), done: () => { h.digest(); h.dispose(); } }; } },
  ];
  const best = new Map();
  // Three rounds, interleaved, best of each: the machine is shared and noisy.
  for (let round = 0; round < 3; round++) {
    for (const c of candidates) {
      const h = c.make();
      const s = await timeStream(path, (chunk) => h.update(chunk));
      h.done();
      best.set(c.name, Math.min(best.get(c.name) ?? Infinity, s));
    }
  }
  const base = best.get(candidates[0].name);
  report("hash", candidates.map((c) => ({
    case: c.name,
    seconds: best.get(c.name),
    "MB/s": (mib * CHUNK) / 1e6 / best.get(c.name),
    "ratio vs sha256": base / best.get(c.name),
  })));
}
