import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const BENCH_DIR = fileURLToPath(new URL("../../.bench/", import.meta.url));

/** Prints rows as an aligned table and writes them as JSON to .bench/<name>.json. */
export function report(name, rows) {
  const cols = Object.keys(rows[0] ?? {});
  const cell = (v) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : String(v ?? ""));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals) => vals.map((v, i) => v.padEnd(widths[i])).join("  ");
  console.log(`\n== ${name}`);
  console.log(line(cols));
  for (const r of rows) console.log(line(cols.map((c) => cell(r[c]))));
  mkdirSync(BENCH_DIR, { recursive: true });
  const file = `${BENCH_DIR}${name}.json`;
  writeFileSync(file, JSON.stringify({ name, at: new Date().toISOString(), rows }, null, 2) + "\n");
  console.log(`(written to ${file})`);
}
