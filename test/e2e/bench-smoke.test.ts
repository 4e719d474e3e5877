import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));

/**
 * The benchmark suite at 1% scale, so it cannot rot between the runs that measure: every suite
 * must run to the end and write its table. Timings are not asserted (shared, noisy machines).
 */
describe("npm run bench at --scale 0.01", () => {
  it("runs every suite and writes their JSON tables", async () => {
    const child = spawn(process.execPath, ["test/bench/run.mjs", "transfer", "million", "rate", "--scale", "0.01"], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (out += s));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code, out.slice(-3000)).toBe(0);
    for (const suite of ["transfer", "million", "rate"]) {
      const table = JSON.parse(await readFile(`${root}/.bench/${suite}.json`, "utf8")) as { rows: unknown[] };
      expect(table.rows.length, suite).toBeGreaterThan(0);
    }
  }, 300_000);
});
