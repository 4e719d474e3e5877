// The transfer suite: push and install of many-small, few-large and mixed-v2 through the CLI, against
// the raw SDK and `cp -r` measured on the same s3rver in the same run.
import { copyFile } from "node:fs/promises";
import { join } from "node:path";
import { fewLarge, manySmall, mixed } from "./datasets.mjs";
import { startEnvironment } from "./environment.mjs";
import { benchOptions } from "./options.mjs";
import { runProcess } from "./processes.mjs";
import { report } from "./report.mjs";
import { row, target } from "./rows.mjs";
import { chunkDedup } from "./cdc.mjs";

export async function run(argv) {
  const { scale, keep, cpuProf } = benchOptions(argv);
  const sets = { small: await manySmall(scale), large: await fewLarge(scale), mixed: await mixed(scale) };
  const env = await startEnvironment({ keep, cpuProf });
  const rows = [];
  const notes = { scale };
  try {
    // The fixed cost in every CLI case (node start-up, module loading): the floor of a no-op.
    const floor = await env.measure(() => env.cli(["--version"]), { registry: false });
    notes["CLI start-up (dpkg --version), s"] = round2(floor.seconds);
    notes["node start-up (node -e 0), s"] = round2((await env.measure(() => runProcess(process.execPath, ["-e", "0"]), { registry: false })).seconds);
    // smallAndLarge adds its own notes through env.
    Object.assign(env, { notes, startup: floor.seconds });
    rows.push(
      ...(await smallAndLarge(env, "many-small", sets.small, { speedup: { push: 10, install: 5 }, subset: true })),
    );
    rows.push(...(await smallAndLarge(env, "few-large", sets.large, { throughput: 0.85 })));
    rows.push(...(await versions(env, sets.mixed, notes)));
    notes["chunk-level dedup (v2 large file)"] = await chunkDedup(
      join(sets.mixed.v1.dir, sets.mixed.patch.path),
      join(sets.mixed.v2.dir, sets.mixed.patch.path),
    );
  } finally {
    await env.close();
  }
  report("transfer", rows, notes);
  return rows;
}

const round2 = (x) => Number(x.toFixed(2));

/** Baselines, push, install (cold), for many-small the --where subset, and the no-op re-install. */
async function smallAndLarge(env, name, ds, goals) {
  const pkg = `bench/${name}`;
  const rows = [];
  const baseline = { registry: false };
  const rawUp = await env.measure(() => env.rawSdk("upload", ds, `raw/${name}`), baseline);
  rows.push(row(`${name}: raw SDK upload (baseline)`, rawUp, ds.bytes));

  const push = await env.measure(() => env.cli(["push", ds.dir, pkg, "--entry-meta", ds.metaFile, "-m", "bench"]));
  const pushRow = row(`${name}: push (cold registry)`, push, ds.bytes);
  const up = rawUp.seconds / push.seconds;
  if (goals.speedup)
    target(pushRow, {
      value: up,
      text: "× SDK speed",
      goal: `≥${goals.speedup.push}× SDK`,
      ok: up >= goals.speedup.push,
    });
  else
    target(pushRow, {
      value: up,
      text: "× SDK throughput",
      goal: `≥${goals.throughput}× SDK`,
      ok: up >= goals.throughput,
    });
  rows.push(pushRow);
  // The same folder again, unchanged: the push record (client push-record.ts) vouches for every file.
  const again = await env.measure(() => env.cli(["push", ds.dir, pkg, "--entry-meta", ds.metaFile, "-m", "bench again"]));
  const againRow = row(`${name}: push again, folder unchanged`, again, ds.bytes);
  againRow.ratio = `${(again.seconds / push.seconds).toFixed(2)}× first push; ${again.out.json.filesReused} files not read`;
  rows.push(againRow);

  const rawDown = await env.measure(
    async () => env.rawSdk("download", ds, `raw/${name}`, await env.folder(`${name}-raw-download`)),
    baseline,
  );
  rows.push(row(`${name}: raw SDK download (baseline)`, rawDown, ds.bytes));
  const cp = await env.measure(
    async () => runProcess("cp", ["-r", ds.dir, join(await env.folder(`${name}-cp`), "copy")]),
    baseline,
  );
  rows.push(row(`${name}: cp -r (baseline)`, cp, ds.bytes));
  // The store's own floor for an install: GETs of the objects the push made (packs), bytes dropped.
  // Only many-small's packs are under packs/ at this point of the run.
  const storeFloor = goals.subset ? await env.measure(() => env.rawSdk("read", null, "packs/"), baseline) : undefined;
  if (storeFloor)
    rows.push(row(`${name}: raw SDK GET of its packs (store floor)`, storeFloor, JSON.parse(storeFloor.out.stdout).bytes));

  const ws = await env.folder(`${name}-install`);
  const cache = await env.folder(`${name}-install-cache`);
  const install = await env.measure(() => env.cli(["install", pkg], { cwd: ws, cache }));
  const installRow = row(`${name}: install (cold cache)`, install, ds.bytes);
  const down = rawDown.seconds / install.seconds;
  if (goals.speedup) {
    target(installRow, {
      value: down,
      text: "× SDK speed",
      goal: `≥${goals.speedup.install}× SDK`,
      ok: down >= goals.speedup.install,
    });
    const vsCp = install.seconds / cp.seconds;
    target(installRow, { value: vsCp, text: "× cp time", goal: "≤2× cp -r", ok: vsCp <= 2 });
    if (storeFloor)
      env.notes[`${name} install ÷ (store floor + cp -r)`] = round2(install.seconds / (storeFloor.seconds + cp.seconds));
  } else
    target(installRow, {
      value: down,
      text: "× SDK throughput",
      goal: `≥${goals.throughput}× SDK`,
      ok: down >= goals.throughput,
    });
  rows.push(installRow);

  if (goals.subset) {
    const selected = ds.files.filter((f) => f.meta.split === "test");
    const selectedBytes = selected.reduce((n, f) => n + f.size, 0);
    const subset = await env.measure(async () =>
      env.cli(["install", pkg, "--where", "meta.split = 'test'"], {
        cwd: await env.folder(`${name}-subset`),
        cache: await env.folder(`${name}-subset-cache`),
      }),
    );
    const installed = subset.out.json.packages[0];
    if (installed.entries !== selected.length)
      throw new Error(`subset installed ${installed.entries} entries, expected ${selected.length}`);
    const r = row(`${name}: install 10% subset (--where)`, subset, selectedBytes);
    const ratio = subset.s3.bytesDown / selectedBytes;
    rows.push(target(r, { value: ratio, text: "× selected bytes", goal: "≤1.2× selected", ok: ratio <= 1.2 }));
  }

  // Measured for both data sets: 5,000 files and 8 show what a no-op costs per file and what is fixed.
  const noop = await env.measure(() => env.cli(["install"], { cwd: ws, cache }));
  const n = row(`${name}: re-install (no-op)`, noop, 0);
  const share = noop.seconds / install.seconds;
  rows.push(target(n, { value: share, text: "× install time", goal: "≤0.05× install", ok: share <= 0.05 }));
  // What the no-op costs beyond starting the CLI at all (node and the bundle: `dpkg --version`).
  env.notes[`${name} re-install (no-op) minus CLI start-up, s`] = round2(noop.seconds - env.startup);
  return rows;
}

/**
 * mixed: push v1, install it, change the folder into v2 in place (as a user edits a data set) and
 * push it again (incremental), `dpkg update` the workspace to v2.
 */
async function versions(env, set, notes) {
  const pkg = "bench/mixed";
  const rows = [];
  // A working copy of v1 that becomes v2; the generated data sets themselves stay as they are.
  const work = join(await env.folder("mixed-work"), "data");
  await runProcess("cp", ["-r", set.v1.dir, work]);
  // Files changed within 2 s of a push are read again by the next one (client push-record.ts).
  await new Promise((resolve) => setTimeout(resolve, 2100));
  const pushV1 = await env.measure(() => env.cli(["push", work, pkg, "--entry-meta", set.v1.metaFile, "-m", "v1"]));
  rows.push(row("mixed: push v1", pushV1, set.v1.bytes));
  const ws = await env.folder("mixed-install");
  const cache = await env.folder("mixed-install-cache");
  const install = await env.measure(() => env.cli(["install", pkg], { cwd: ws, cache }));
  rows.push(row("mixed: install v1 (cold cache)", install, set.v1.bytes));

  for (const path of set.changed.paths) await copyFile(join(set.v2.dir, path), join(work, path));
  const pushV2 = await env.measure(() => env.cli(["push", work, pkg, "--entry-meta", set.v2.metaFile, "-m", "v2"]));
  const r = row("mixed: push v2 (incremental, the v1 folder changed in place)", pushV2, set.changed.bytes);
  const ratio = pushV2.s3.bytesUp / set.changed.bytes;
  target(r, { value: ratio, text: "× changed bytes to S3", goal: "≤1.05× changed", ok: ratio <= 1.05 });
  rows.push(r);
  notes["v2 changed files"] = {
    files: set.changed.files,
    bytes: set.changed.bytes,
    clientBytesSent: pushV2.out.json.bytesSent,
    blobsSent: pushV2.out.json.blobsSent,
  };

  const update = await env.measure(() => env.cli(["update"], { cwd: ws, cache }));
  const u = row("mixed: update to v2", update, set.changed.bytes);
  const fetched = update.s3.bytesDown / set.changed.bytes;
  rows.push(target(u, { value: fetched, text: "× changed bytes from S3", goal: "(none; file-level: ~1×)", ok: true }));
  return rows;
}
