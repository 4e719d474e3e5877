// Flags shared by the suites: `--scale F` multiplies data sizes (counts of small files, bytes of
// large ones, entries of the big manifest); `--quick` is `--scale 0.1`; `--keep` leaves the run's
// temp folder (s3rver, registry data, workspaces) in place for inspection; `--cpu-prof` runs the
// registry and the CLI under `node --cpu-prof`, profiles in .bench/profiles.
import { parseArgs } from "node:util";

export function benchOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: {
      scale: { type: "string" },
      quick: { type: "boolean" },
      keep: { type: "boolean" },
      "cpu-prof": { type: "boolean" },
    },
  });
  const scale = values.scale !== undefined ? Number(values.scale) : values.quick ? 0.1 : 1;
  if (!(scale > 0 && scale <= 4)) throw new Error(`--scale must be a number in (0, 4], got ${values.scale}`);
  return { scale, keep: values.keep === true, cpuProf: values["cpu-prof"] === true };
}

/** A count scaled by --scale, never below `min`. */
export function scaled(n, scale, min = 1) {
  return Math.max(min, Math.round(n * scale));
}
