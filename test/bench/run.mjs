#!/usr/bin/env node
// `npm run bench -- [suite...] [--flags]`: runs benchmark suites against the built packages and
// prints ratios against baselines measured in the same run (never absolute pass/fail timings).
import { cleanupProcessFiles } from "./processes.mjs";

// The SDK warns once per process that Node 20 support ends in 2027: noise in every child's stderr.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const suites = {
  transfer: () => import("./transfer.mjs"),
  million: () => import("./million.mjs"),
  rate: () => import("./rate.mjs"),
  hash: () => import("./hash.mjs"),
};

// Suite names come first; every flag after them goes to the suites.
const argv = process.argv.slice(2);
const firstFlag = argv.findIndex((a) => a.startsWith("-"));
const positionals = firstFlag === -1 ? argv : argv.slice(0, firstFlag);
const help = argv.includes("--help") || argv.includes("-h");
const names = positionals.length > 0 ? positionals : Object.keys(suites);
const unknown = names.filter((n) => !(n in suites));
if (help || unknown.length > 0) {
  if (unknown.length > 0) console.error(`unknown benchmark: ${unknown.join(", ")}`);
  console.error(`usage: npm run bench -- [${Object.keys(suites).join("|")}]... [flags]   (no suite: all of them)`);
  console.error("  transfer: push/install of many-small, few-large, mixed-v2 vs raw SDK and cp -r, on s3rver");
  console.error("  million:  commit of a 1,000,000-entry manifest, a 1,000-entry --where query (median of 20)");
  console.error("  rate:     ref resolutions per second (autocannon, ~10 s)");
  console.error("  hash:     BLAKE3 (native, wasm) vs sha256 over a cached file; --size-mib N (default 1024 × scale)");
  console.error("  flags: --scale F (data sizes × F), --quick (= --scale 0.1), --keep (keep the run folder),");
  console.error("         --cpu-prof (registry and CLI under node --cpu-prof, into .bench/profiles)");
  process.exit(unknown.length > 0 ? 2 : 0);
}
const started = process.hrtime.bigint();
try {
  for (const name of names) {
    const suite = await suites[name]();
    await suite.run(argv.slice(positionals.length));
  }
} finally {
  await cleanupProcessFiles();
}
console.log(`\nbench finished in ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s`);
