import { compareUtf8, type CompareOp, type Operand, type QueryNode } from "@dpkg/core";
import type { PathRange } from "./path-ranges.js";
import { globPrefix, likePrefix, prefixEnd } from "./pattern-prefix.js";

/**
 * Path ranges outside which a query is never TRUE, from its conditions on `path` (comparisons,
 * IN, BETWEEN, and the literal start of GLOB and LIKE patterns) under AND and OR; null when the
 * query does not narrow the paths. The scan reads only these ranges; the query itself still
 * decides, so a range may hold paths the query rejects, never the other way round.
 *
 * Ranges returned here are half-open ([low, high), exact = false), sorted and disjoint. A NUL
 * never occurs in a path, so `p + "\0"` is the least path after p: `path > p` is `path >= p\0`.
 */
export function queryPathRanges(node: QueryNode): PathRange[] | null {
  switch (node.kind) {
    case "and": {
      const narrowed = node.operands.map(queryPathRanges).filter((r) => r !== null);
      return narrowed.length === 0 ? null : narrowed.reduce(intersectRanges);
    }
    case "or": {
      const each = node.operands.map(queryPathRanges);
      return each.some((r) => r === null) ? null : unionRanges(each.flatMap((r) => r ?? []));
    }
    case "compare":
      return compareRanges(node.op, node.left, node.right);
    case "in": {
      if (node.negated || !isPath(node.operand)) return null;
      const ranges: PathRange[] = [];
      for (const item of node.list) {
        if (item.kind !== "literal") return null;
        // Anything but a string is never equal to a path.
        if (typeof item.value === "string") ranges.push(only(item.value));
      }
      return unionRanges(ranges);
    }
    case "between": {
      if (node.negated) return null;
      const low = compareRanges(">=", node.operand, node.low);
      const high = compareRanges("<=", node.operand, node.high);
      if (low === null) return high;
      return high === null ? low : intersectRanges(low, high);
    }
    case "glob":
    case "like": {
      if (node.negated || !isPath(node.operand)) return null;
      const prefix = node.kind === "glob" ? globPrefix(node.pattern) : likePrefix(node.pattern);
      return prefix === "" ? null : [{ low: prefix, high: prefixEnd(prefix), exact: false }];
    }
    case "not":
    case "isNull":
      return null;
  }
}

const FLIPPED: Record<CompareOp, CompareOp> = { "=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<=" };

function compareRanges(op: CompareOp, left: Operand, right: Operand): PathRange[] | null {
  if (isPath(right) && left.kind === "literal") return compareRanges(FLIPPED[op], right, left);
  if (!isPath(left) || right.kind !== "literal" || typeof right.value !== "string") return null;
  const v = right.value;
  switch (op) {
    case "=":
      return [only(v)];
    case "<":
      return [{ low: "", high: v, exact: false }];
    case "<=":
      return [{ low: "", high: v + "\u0000", exact: false }];
    case ">":
      return [{ low: v + "\u0000", high: null, exact: false }];
    case ">=":
      return [{ low: v, high: null, exact: false }];
    case "!=":
      return null;
  }
}

function isPath(o: Operand): boolean {
  return o.kind === "field" && o.field === "path";
}

function only(path: string): PathRange {
  return { low: path, high: path + "\u0000", exact: false };
}

/** [low, high) of any range: an exact range [p, p] is [p, p\0). */
function halfOpen(r: PathRange): { low: string; high: string | null } {
  return { low: r.low, high: r.exact ? r.low + "\u0000" : r.high };
}

/** high bounds compared with null as +infinity. */
function compareHigh(a: string | null, b: string | null): number {
  if (a === null) return b === null ? 0 : 1;
  return b === null ? -1 : compareUtf8(a, b);
}

/** Paths in both lists (each sorted and disjoint); the result is sorted, disjoint and half-open. */
export function intersectRanges(a: readonly PathRange[], b: readonly PathRange[]): PathRange[] {
  const out: PathRange[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = halfOpen(a[i]!);
    const y = halfOpen(b[j]!);
    const low = compareUtf8(x.low, y.low) >= 0 ? x.low : y.low;
    const high = compareHigh(x.high, y.high) <= 0 ? x.high : y.high;
    if (high === null || compareUtf8(low, high) < 0) out.push({ low, high, exact: false });
    // Move past whichever range ends first; the other may still overlap the next one.
    if (compareHigh(x.high, y.high) <= 0) i++;
    else j++;
  }
  return out;
}

/** Paths in any of the ranges, as sorted, disjoint, half-open ranges. */
export function unionRanges(ranges: readonly PathRange[]): PathRange[] {
  const sorted = ranges.map(halfOpen).sort((x, y) => compareUtf8(x.low, y.low));
  const out: PathRange[] = [];
  for (const r of sorted) {
    const last = out.at(-1);
    if (last !== undefined && (last.high === null || compareUtf8(r.low, last.high) <= 0)) {
      if (compareHigh(r.high, last.high) > 0) last.high = r.high;
    } else {
      out.push({ low: r.low, high: r.high, exact: false });
    }
  }
  return out;
}
