#!/usr/bin/env node
// `npm run bench -- [case...] [--flags]`: runs benchmark suites against the built packages and
// prints ratios against baselines measured in the same run (never absolute pass/fail timings).

const suites = {
  hash: () => import("./hash.mjs"),
};

// Suite names come first; every flag after them goes to the suites.
const argv = process.argv.slice(2);
const firstFlag = argv.findIndex((a) => a.startsWith("-"));
const positionals = firstFlag === -1 ? argv : argv.slice(0, firstFlag);
const values = { help: argv.includes("--help") || argv.includes("-h") };
const names = positionals.length > 0 ? positionals : Object.keys(suites);
if (values.help || names.some((n) => !(n in suites))) {
  const unknown = names.filter((n) => !(n in suites));
  if (unknown.length > 0) console.error(`unknown benchmark: ${unknown.join(", ")}`);
  console.error(`usage: npm run bench -- [${Object.keys(suites).join("|")}]... [suite flags]`);
  console.error("  hash: --size-mib N (default 1024)  hashes a cached file with BLAKE3 (native, wasm) and sha256");
  process.exit(unknown.length > 0 ? 2 : 0);
}
for (const name of names) {
  const suite = await suites[name]();
  await suite.run(process.argv.slice(2));
}
