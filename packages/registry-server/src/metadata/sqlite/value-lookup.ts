import type Database from "better-sqlite3";
import type { Bound, Candidates, ValueRange } from "./query-candidates.js";
import { numberJson } from "./entry-values.js";
import { SIZE_KEY, ValueKeys } from "./value-keys.js";

/** At most this many probes filter the rows of a driving lookup (EXISTS, one seek each). */
const MAX_PROBES = 3;
/** Blocks counted to guess a lookup's size before counting it (spread over the manifest). */
const SAMPLE_BLOCKS = 8;

/** Ords [from, to) of one manifest whose entry_values come in blocks of `blockRows` entries. */
export interface LookupScope {
  manifestId: number;
  blockRows: number;
  from: number;
  to: number;
}

/**
 * A condition tested on each row of a driving lookup: the value under a key is one of `values`
 * (a seek in entry_values), or the size is in range (a seek in entries_ord, which holds the size).
 */
type Probe = { kind: "values"; key: string; values: Array<number | string> } | { kind: "size"; range: ValueRange };

interface Counted {
  n: number;
  /** False when counting stopped at a cap: there are at least n. */
  exact: boolean;
}

/**
 * Runs candidate lookups (query-candidates.ts) against entry_values. A range is read block by
 * block: one seek per block to its first value in range, then the values in range. Within an AND
 * the lookup with the fewest rows drives, and up to MAX_PROBES of the others filter its rows; the
 * rest is left to the query itself. Counts stop at a cap, and a lookup whose sample already shows
 * it far above the cap is not counted at all, so a common value costs a few blocks, not a scan.
 */
export class ValueLookup {
  readonly #keys: ValueKeys;
  readonly #counted = new Map<Candidates, Counted>();
  readonly #sampled = new Map<ValueRange, Counted>();
  /** Statements of this lookup by text: their shapes vary with the query, so they are not cached per connection. */
  readonly #statements = new Map<string, Database.Statement<unknown[], number>>();

  constructor(
    private readonly db: Database.Database,
    private readonly scope: LookupScope,
  ) {
    this.#keys = new ValueKeys(db);
  }

  /** How many ords the candidates hold, counting no further than `cap` (an upper bound for ANDs). */
  estimate(c: Candidates, cap: number): number {
    const known = this.#counted.get(c);
    if (known !== undefined && (known.exact || known.n >= cap)) return Math.min(known.n, cap);
    let n = 0;
    switch (c.kind) {
      case "none":
        break;
      case "range": {
        // Twice the cap: a sample may well be off by some, not by that much.
        const sample = this.#sample(c.range);
        n = sample.exact ? sample.n : sample.n > 2 * cap ? cap : this.#count(c.range, cap);
        break;
      }
      case "union":
        for (const part of c.parts) {
          if (n >= cap) break;
          n += this.estimate(part, cap - n);
        }
        break;
      case "intersect":
        n = cap;
        for (const part of this.#bySample(c.parts)) n = Math.min(n, this.estimate(part, n));
        break;
    }
    n = Math.min(n, cap);
    this.#counted.set(c, { n, exact: n < cap });
    return n;
  }

  /** The candidate ords, sorted and distinct; null when there are more than `cap`. */
  collect(c: Candidates, cap: number, probes: Probe[] = []): number[] | null {
    switch (c.kind) {
      case "none":
        return [];
      case "range": {
        const ords = this.#ords(c.range, probes, cap + 1);
        return ords.length > cap ? null : sortedDistinct(ords);
      }
      case "union": {
        let all: number[] = [];
        for (const part of c.parts) {
          const ords = this.collect(part, cap, probes);
          if (ords === null) return null;
          for (const ord of ords) all.push(ord);
          // Parts may overlap: only the distinct count tells whether the cap is passed.
          if (all.length > cap && (all = sortedDistinct(all)).length > cap) return null;
        }
        return sortedDistinct(all);
      }
      case "intersect": {
        const best = this.estimate(c, cap);
        const parts = this.#bySample(c.parts);
        // The part the estimate came from: no other has fewer rows.
        const driver = parts.find((p) => this.estimate(p, best + 1) <= best) ?? parts[0];
        if (driver === undefined) return null;
        const more = parts.filter((p) => p !== driver).flatMap((p) => probeOf(p) ?? []);
        return this.collect(driver, cap, [...probes, ...more].slice(0, MAX_PROBES));
      }
    }
  }

  /** Parts in order of their sampled size, smallest first. */
  #bySample(parts: Candidates[]): Candidates[] {
    const size = (c: Candidates): number => {
      switch (c.kind) {
        case "none":
          return 0;
        case "range":
          return this.#sample(c.range).n;
        case "union":
          return c.parts.reduce((n, p) => n + size(p), 0);
        case "intersect":
          return Math.min(...c.parts.map(size));
      }
    };
    const sizes = new Map(parts.map((p) => [p, size(p)]));
    return [...parts].sort((a, b) => (sizes.get(a) ?? 0) - (sizes.get(b) ?? 0));
  }

  /** The range's rows in a few blocks spread over the scope, scaled to all of them (exact if few). */
  #sample(range: ValueRange): Counted {
    const known = this.#sampled.get(range);
    if (known !== undefined) return known;
    const { first, last } = this.#blocks();
    const count = last - first + 1;
    const blocks =
      count <= SAMPLE_BLOCKS
        ? null
        : Array.from({ length: SAMPLE_BLOCKS }, (_, i) => first + Math.floor(((i + 0.5) * count) / SAMPLE_BLOCKS));
    const query = this.#query(range, [], Number.MAX_SAFE_INTEGER, blocks);
    const rows =
      query === null
        ? 0
        : (this.#prepare(`SELECT count(*) FROM (${query.text})`)
            .pluck()
            .get(...query.params) ?? 0);
    const sample = { n: blocks === null ? rows : (rows * count) / SAMPLE_BLOCKS, exact: blocks === null };
    this.#sampled.set(range, sample);
    return sample;
  }

  #count(range: ValueRange, cap: number): number {
    const query = this.#query(range, [], cap, null);
    if (query === null) return 0;
    return (
      this.#prepare(`SELECT count(*) FROM (${query.text})`)
        .pluck()
        .get(...query.params) ?? 0
    );
  }

  #ords(range: ValueRange, probes: Probe[], limit: number): number[] {
    const query = this.#query(range, probes, limit, null);
    if (query === null) return [];
    return this.#prepare(query.text)
      .pluck()
      .all(...query.params);
  }

  #prepare(text: string): Database.Statement<unknown[], number> {
    let statement = this.#statements.get(text);
    if (statement === undefined) this.#statements.set(text, (statement = this.db.prepare<unknown[], number>(text)));
    return statement;
  }

  #blocks(): { first: number; last: number } {
    const { blockRows, from, to } = this.scope;
    return { first: Math.floor(from / blockRows), last: Math.floor((to - 1) / blockRows) };
  }

  /**
   * Ords of `range` that every probe also holds, at most `limit`, in the scope's blocks or in
   * `blocks`; null when there can be none (a key no entry ever had holds no value).
   */
  #query(
    range: ValueRange,
    probes: Probe[],
    limit: number,
    blocks: number[] | null,
  ): { text: string; params: unknown[] } | null {
    const { manifestId, from, to } = this.scope;
    const key = this.#keys.find(range.key);
    if (key === undefined || to <= from) return null;
    const params: unknown[] = [];
    // Block numbers come from a CTE, so that each block is one seek of the primary key.
    let source: string;
    if (blocks === null) {
      const { first, last } = this.#blocks();
      source = "WITH RECURSIVE b(n) AS (SELECT ? UNION ALL SELECT n + 1 FROM b WHERE n < ?)";
      params.push(first, last);
    } else {
      source = "WITH b(n) AS (SELECT value FROM json_each(?))";
      params.push(JSON.stringify(blocks));
    }
    params.push(manifestId, key);
    const conditions = bounds("v.value", range, params);
    conditions.push("v.ord >= ?", "v.ord < ?");
    params.push(from, to);
    for (const probe of probes) {
      if (probe.kind === "size") {
        const sizes = bounds("e.size", probe.range, params);
        conditions.push(
          `EXISTS (SELECT 1 FROM entries e INDEXED BY entries_ord
           WHERE e.manifest_id = v.manifest_id AND e.ord = v.ord AND ${sizes.join(" AND ")})`,
        );
        continue;
      }
      const probeKey = this.#keys.find(probe.key);
      if (probeKey === undefined) return null;
      // The values as JSON, written as staging writes them, so that each reads back as stored.
      conditions.push(
        `EXISTS (SELECT 1 FROM entry_values p WHERE p.manifest_id = v.manifest_id AND p.block = b.n
         AND p.key_id = ? AND p.value IN (SELECT value FROM json_each(?)) AND p.ord = v.ord)`,
      );
      const json = probe.values.map((v) => (typeof v === "string" ? JSON.stringify(v) : numberJson(v)));
      params.push(probeKey, `[${json.join(",")}]`);
    }
    params.push(limit);
    const text = `${source} SELECT v.ord FROM b CROSS JOIN entry_values v
      WHERE v.manifest_id = ? AND v.block = b.n AND v.key_id = ? AND ${conditions.join(" AND ")} LIMIT ?`;
    return { text, params };
  }
}

/** How many ranges the candidates look up: each costs a seek per block. */
export function rangeCount(c: Candidates): number {
  return c.kind === "none" ? 0 : c.kind === "range" ? 1 : c.parts.reduce((n, p) => n + rangeCount(p), 0);
}

/** The candidates as a probe, when they are one: equalities on one key, or a range of sizes. */
function probeOf(c: Candidates): Probe | undefined {
  if (c.kind === "range") {
    if (c.range.key === SIZE_KEY) return { kind: "size", range: c.range };
    const value = equalityValue(c.range);
    return value === undefined ? undefined : { kind: "values", key: c.range.key, values: [value] };
  }
  if (c.kind !== "union") return undefined;
  const values: Array<number | string> = [];
  let key: string | undefined;
  for (const part of c.parts) {
    if (part.kind !== "range" || (key !== undefined && part.range.key !== key)) return undefined;
    key = part.range.key;
    const value = equalityValue(part.range);
    if (value === undefined) return undefined;
    values.push(value);
  }
  return key === undefined ? undefined : { kind: "values", key, values };
}

function equalityValue(r: ValueRange): number | string | undefined {
  const { low, high } = r;
  const equal = low !== undefined && high !== undefined && low.inclusive && high.inclusive && low.value === high.value;
  return equal ? low.value : undefined;
}

/**
 * SQL conditions on `column` for a range, pushing their parameters. Under a meta key numbers and
 * strings share the column; every number sorts before every string (and '' is the least string),
 * so class bounds keep a range to its class. Booleans are alone under their key, sizes in theirs.
 */
function bounds(column: string, range: ValueRange, params: unknown[]): string[] {
  const out: string[] = [];
  const bound = (b: Bound, strict: string, inclusive: string): void => {
    out.push(`${column} ${b.inclusive ? inclusive : strict} ?`);
    params.push(b.value);
  };
  if (range.low !== undefined) bound(range.low, ">", ">=");
  else if (range.cls === "string") out.push(`${column} >= ''`);
  if (range.high !== undefined) bound(range.high, "<", "<=");
  else if (range.cls === "number") out.push(`${column} < ''`);
  return out;
}

function sortedDistinct(ords: number[]): number[] {
  const sorted = Float64Array.from(ords).sort();
  const out: number[] = [];
  for (const ord of sorted) if (out.at(-1) !== ord) out.push(ord);
  return out;
}
