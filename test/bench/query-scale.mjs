// Selective queries on a large manifest (issue 5): stages N entries (default 1,000,000) into the
// registry's SQLite metadata store, commits them, then times `--where` queries that select about
// 1,000 entries each (median of 20 runs). The baseline is what every query cost before the index
// of entry values: the query evaluated on every entry of the manifest, in SQL. Also reports this
// process's peak RSS (it is the store, as the registry server is) and the size of each table.
//
//   node test/bench/query-scale.mjs [--entries N] [--runs 20] [--keep]      (after npm run build)
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { compileQuery, parseQuery } from "@dpkg/core";
import { openSqliteMetadataStore } from "@dpkg/registry-server";
import { prng } from "./prng.mjs";
import { report } from "./report.mjs";

const PER_PLATE = 1_000;
const CHANNELS = ["dna", "membrane", "structure", "brightfield"];

/**
 * Entry i: path plates/pPPPP/wWWWW.tif (1,000 per plate, in path order), a uniform size below 1e9,
 * and meta with a cell line shared by 1,000 entries spread over the manifest, a channel shared by a
 * quarter of them, and a few more values of every type (a float, a boolean, a nested object).
 */
function* entries(n) {
  const random = prng(5).next;
  const word = () => ((random() * 2 ** 32) >>> 0).toString(16).padStart(8, "0");
  for (let i = 0; i < n; i++) {
    yield {
      path: `plates/p${String(Math.floor(i / PER_PLATE)).padStart(4, "0")}/w${String(i % PER_PLATE).padStart(4, "0")}.tif`,
      size: Math.floor(random() * 1e9),
      digest: `blake3:${word()}${word()}${word()}${word()}${word()}${word()}${word()}${word()}`,
      meta: {
        cell_line: `AICS-${(i * 7919) % 1000}`,
        channel: CHANNELS[i % 4],
        z: Math.floor(random() * 50),
        score: Math.round(random() * 1e6) / 1e6,
        ok: random() < 0.5,
        well: { row: String.fromCharCode(65 + (i % 16)), col: (i % 24) + 1 },
      },
    };
  }
}

async function* stream(n) {
  yield* entries(n);
}

const QUERIES = [
  { case: "rare meta equality", where: "meta.cell_line = 'AICS-17'" },
  { case: "range on size", where: "size BETWEEN 500000000 AND 500999999" },
  { case: "path glob", where: "path GLOB 'plates/p0421/*'" },
  { case: "compound AND", where: "meta.channel = 'dna' AND meta.z = 7 AND size < 200000000" },
  { case: "matches nothing", where: "meta.cell_line = 'AICS-none'" },
  { case: "common, first 1,000", where: "meta.channel = 'dna'", limit: 1_000 },
];

const seconds = (start) => (performance.now() - start) / 1000;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Reads every selected entry (as a client page of 100,000 would), timing each run. */
async function timeQuery(select, q, runs) {
  const selection = { where: parseQuery(q.where), limit: q.limit ?? 100_000 };
  const times = [];
  let count = 0;
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    count = 0;
    for await (const _ of select(selection)) count++;
    times.push(performance.now() - start);
  }
  return { ms: median(times), count };
}

/**
 * The query on every entry of the manifest, in path order: the plan every query had before (the
 * store read it a page at a time; the work is the same). Rows become entries as the store's do.
 */
function fullScan(db, manifestId) {
  return async function* (selection) {
    const where = compileQuery(selection.where, {
      dialect: "sqlite",
      columns: { path: "path", size: "size", digest: "digest", meta: "meta" },
    });
    const sql = `SELECT path, size, digest, meta FROM entries WHERE manifest_id = ? AND (${where.sql}) ORDER BY path LIMIT ?`;
    for (const row of db.prepare(sql).iterate(manifestId, ...where.params, selection.limit)) {
      yield {
        path: row.path,
        size: row.size,
        digest: row.digest,
        ...(row.meta === null ? {} : { meta: JSON.parse(row.meta) }),
      };
    }
  };
}

function dbMegabytes(dir) {
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0) / 1e6;
}

/** Megabytes per table and index (SQLite's dbstat), the index's own tables first. */
function tableSizes(db) {
  const rows = db.prepare("SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC").all();
  const mine = ["entries", "entries_ord", "entry_values", "manifest_blobs"];
  const sizes = Object.fromEntries(mine.map((name) => [name, 0]));
  let other = 0;
  for (const { name, bytes } of rows) {
    if (name in sizes) sizes[name] = bytes / 1e6;
    else other += bytes / 1e6;
  }
  return {
    ...Object.fromEntries(Object.entries(sizes).map(([k, v]) => [k, v.toFixed(0)])),
    "blob tables and rest": other.toFixed(0),
  };
}

export async function run(argv) {
  const { values } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: { entries: { type: "string" }, runs: { type: "string" }, keep: { type: "boolean" } },
  });
  const n = Number(values.entries ?? 1_000_000);
  const runs = Number(values.runs ?? 20);
  const dir = mkdtempSync(join(tmpdir(), "dpkg-query-scale-"));
  const store = openSqliteMetadataStore(join(dir, "index.sqlite"));
  const pkg = { namespace: "bench", name: "cells" };
  const digest = `blake3:${"5".repeat(64)}`;
  const rows = [];
  try {
    let start = performance.now();
    await store.stageManifest(digest, { format: "dpkg.manifest/1", meta: { title: "query scale" } }, stream(n));
    rows.push({
      case: `stage ${n} entries`,
      "median ms": seconds(start) * 1000,
      selected: n,
      "full scan ms": "",
      speedup: "",
    });

    // Every blob stored and granted, as after an upload; not timed (the push path owns that cost).
    let batch = [];
    for (const e of entries(n)) {
      batch.push({ digest: e.digest, size: e.size, key: `blobs/${e.digest.slice(7)}`, start: 0, end: e.size });
      if (batch.length === 20_000) {
        await store.recordBlobs(pkg.namespace, batch);
        batch = [];
      }
    }
    if (batch.length > 0) await store.recordBlobs(pkg.namespace, batch);
    start = performance.now();
    await store.commit({
      pkg,
      digest,
      message: "bench",
      author: "bench",
      createdAt: new Date(),
      tags: [],
      moveLatest: true,
    });
    rows.push({ case: "commit", "median ms": seconds(start) * 1000, selected: "", "full scan ms": "", speedup: "" });

    const manifestId = store.db.prepare("SELECT id FROM manifests WHERE digest = ?").pluck().get(digest);
    const before = fullScan(store.db, manifestId);
    for (const q of QUERIES) {
      const now = await timeQuery((selection) => store.selectEntries(digest, selection), q, runs);
      const then = await timeQuery(before, q, Math.min(runs, 5));
      if (then.count !== now.count)
        throw new Error(`${q.case}: selected ${now.count} entries, the full scan ${then.count}`);
      rows.push({
        case: q.case,
        "median ms": now.ms,
        selected: now.count,
        "full scan ms": then.ms,
        speedup: then.ms / now.ms,
      });
    }
    store.db.pragma("wal_checkpoint(TRUNCATE)");
    const notes = {
      "peak RSS MB": (process.resourceUsage().maxRSS / 1024).toFixed(0),
      "database MB": dbMegabytes(dir).toFixed(0),
      "table MB": tableSizes(store.db),
      queries: Object.fromEntries(QUERIES.map((q) => [q.case, q.where])),
    };
    report("query-scale", rows, notes);
  } finally {
    await store.close();
    if (values.keep) console.log(`(database kept in ${dir})`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run(process.argv.slice(2));
