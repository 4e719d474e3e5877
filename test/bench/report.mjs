import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const BENCH_DIR = fileURLToPath(new URL("../../.bench/", import.meta.url));

/**
 * Prints rows as an aligned table (object- and array-valued fields stay in the JSON only), then
 * `notes` as lines, and writes both as JSON to .bench/<name>.json.
 */
export function report(name, rows, notes = {}) {
  const cols = Object.keys(rows[0] ?? {}).filter((c) => rows.every((r) => typeof r[c] !== "object" || r[c] === null));
  const cell = (v) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : String(v ?? ""));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals) => vals.map((v, i) => v.padEnd(widths[i])).join("  ");
  console.log(`\n== ${name}`);
  console.log(line(cols));
  for (const r of rows) console.log(line(cols.map((c) => cell(r[c]))));
  for (const [k, v] of Object.entries(notes)) console.log(`${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`);
  mkdirSync(BENCH_DIR, { recursive: true });
  const file = `${BENCH_DIR}${name}.json`;
  writeFileSync(file, JSON.stringify({ name, at: new Date().toISOString(), rows, notes }, null, 2) + "\n");
  console.log(`(written to ${file})`);
}
