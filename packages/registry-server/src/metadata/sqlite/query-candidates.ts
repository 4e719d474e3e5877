import { compareUtf8, type CompareOp, type Operand, type QueryNode } from "@dpkg/core";
import { globPrefix, likePrefix, prefixEnd } from "./pattern-prefix.js";
import { booleanKey, indexedText, metaKey, SIZE_KEY } from "./value-keys.js";

/**
 * Which entries a query can be TRUE for, as lookups in entry_values: a superset of what it selects,
 * never less (the query itself still filters every candidate). Only conditions that compare a field
 * with literals give lookups; anything else (`!=`, IS NULL, field against field, NOT of most
 * conditions) narrows nothing, so an AND drops it and an OR containing it gives up (null).
 *
 * Bounds are in stored form (value-keys.ts): strings cut to their indexed prefix, bounds on cut
 * strings inclusive. A value's class follows core's rules: values of different classes are never
 * equal and never ordered, and booleans are only equal or not.
 */
export type ValueClass = "number" | "string" | "boolean";

export interface Bound {
  value: number | string;
  inclusive: boolean;
}

/** Stored values of one class under one key, between optional bounds. */
export interface ValueRange {
  key: string;
  cls: ValueClass;
  low?: Bound;
  high?: Bound;
}

export type Candidates =
  | { kind: "none" }
  | { kind: "range"; range: ValueRange }
  | { kind: "union"; parts: Candidates[] }
  | { kind: "intersect"; parts: Candidates[] };

const NONE: Candidates = { kind: "none" };

/** The candidates of entries the query is TRUE for; null when no lookup narrows them. */
export function queryCandidates(node: QueryNode): Candidates | null {
  return whenTrue(node);
}

function whenTrue(node: QueryNode): Candidates | null {
  switch (node.kind) {
    case "and":
      return intersection(node.operands.map(whenTrue));
    case "or":
      return union(node.operands.map(whenTrue));
    case "not":
      return whenFalse(node.operand);
    case "compare":
      return compare(node.op, node.left, node.right);
    case "in":
      return node.negated ? null : member(node.operand, node.list);
    case "between":
      return node.negated
        ? null
        : intersection([compare(">=", node.operand, node.low), compare("<=", node.operand, node.high)]);
    case "like":
    case "glob":
      return node.negated ? null : pattern(node.kind, node.operand, node.pattern);
    case "isNull":
      return null;
  }
}

/** Entries the condition is FALSE for (so that NOT of it is TRUE), by De Morgan where it applies. */
function whenFalse(node: QueryNode): Candidates | null {
  switch (node.kind) {
    case "and":
      return union(node.operands.map(whenFalse));
    case "or":
      return intersection(node.operands.map(whenFalse));
    case "not":
      return whenTrue(node.operand);
    case "compare":
      // a != b is FALSE exactly when a = b; the size is never NULL and always a number, so any other
      // comparison of it with a number is FALSE exactly when the opposite one is TRUE.
      if (node.op === "!=") return compare("=", node.left, node.right);
      if (node.op !== "=" && sizeAndNumber(node.left, node.right)) {
        return compare(OPPOSITE[node.op], node.left, node.right);
      }
      return null;
    case "in":
    case "between":
    case "like":
    case "glob":
      return node.negated ? whenTrue({ ...node, negated: false }) : null;
    case "isNull":
      return null;
  }
}

const OPPOSITE: Record<"<" | "<=" | ">" | ">=", CompareOp> = { "<": ">=", "<=": ">", ">": "<=", ">=": "<" };
const FLIPPED: Record<CompareOp, CompareOp> = { "=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<=" };

function isSize(o: Operand): boolean {
  return o.kind === "field" && o.field === "size";
}

function sizeAndNumber(a: Operand, b: Operand): boolean {
  const isNumber = (o: Operand): boolean => o.kind === "literal" && typeof o.value === "number";
  return (isSize(a) && isNumber(b)) || (isNumber(a) && isSize(b));
}

/** A field compared with a literal. */
function compare(op: CompareOp, left: Operand, right: Operand): Candidates | null {
  if (left.kind === "literal" && right.kind !== "literal") return compare(FLIPPED[op], right, left);
  if (left.kind === "literal" || right.kind !== "literal") return null;
  const v = right.value;
  if (v === null) return NONE; // a comparison with NULL is never TRUE
  if (op === "!=") return null;
  if (isSize(left)) return typeof v === "number" ? range(SIZE_KEY, "number", op, v) : NONE;
  if (left.kind !== "meta" || left.keys.length === 0) return null;
  switch (typeof v) {
    case "number":
      return range(metaKey(left.keys), "number", op, v);
    case "string":
      return range(metaKey(left.keys), "string", op, v);
    case "boolean":
      return op === "=" ? range(booleanKey(left.keys), "boolean", "=", v ? 1 : 0) : NONE;
  }
}

function range(key: string, cls: ValueClass, op: Exclude<CompareOp, "!=">, literal: number | string): Candidates {
  // A cut string compares with cut values only inclusively: `v > s` allows cut(v) = cut(s).
  const stored = typeof literal === "string" ? indexedText(literal) : literal;
  const bound = (strict: boolean): Bound => ({ value: stored, inclusive: cls === "string" || !strict });
  const r: ValueRange = { key, cls };
  if (op === "=" || op === ">" || op === ">=") r.low = bound(op === ">");
  if (op === "=" || op === "<" || op === "<=") r.high = bound(op === "<");
  return { kind: "range", range: r };
}

/** x IN (literals): TRUE only when x equals one of them. */
function member(x: Operand, list: Operand[]): Candidates | null {
  if (!list.every((o) => o.kind === "literal")) return null;
  return union(list.map((item) => compare("=", x, item)));
}

function pattern(kind: "like" | "glob", x: Operand, text: string): Candidates | null {
  if (isSize(x)) return NONE; // a number never matches a pattern
  if (x.kind !== "meta" || x.keys.length === 0) return null;
  const prefix = indexedText(kind === "glob" ? globPrefix(text) : likePrefix(text));
  const r: ValueRange = { key: metaKey(x.keys), cls: "string" };
  if (prefix !== "") {
    r.low = { value: prefix, inclusive: true };
    const end = prefixEnd(prefix);
    if (end !== null) r.high = { value: end, inclusive: false };
  }
  return { kind: "range", range: r };
}

function union(parts: Array<Candidates | null>): Candidates | null {
  if (parts.some((p) => p === null)) return null;
  const flat = (parts as Candidates[])
    .flatMap((p) => (p.kind === "union" ? p.parts : [p]))
    .filter((p) => p.kind !== "none");
  if (flat.length === 0) return NONE;
  return flat.length === 1 ? flat[0]! : { kind: "union", parts: flat };
}

/** Parts that narrow nothing (null) are dropped; ranges of one key are merged into one. */
function intersection(parts: Array<Candidates | null>): Candidates | null {
  const flat = parts.filter((p) => p !== null).flatMap((p) => (p.kind === "intersect" ? p.parts : [p]));
  if (flat.length === 0) return null;
  if (flat.some((p) => p.kind === "none")) return NONE;
  const byKey = new Map<string, ValueRange>();
  const others: Candidates[] = [];
  for (const p of flat) {
    if (p.kind !== "range") {
      others.push(p);
      continue;
    }
    const seen = byKey.get(p.range.key);
    if (seen === undefined) {
      byKey.set(p.range.key, { ...p.range });
      continue;
    }
    const merged = mergeRanges(seen, p.range);
    if (merged === null) return NONE;
    byKey.set(p.range.key, merged);
  }
  const all = [...[...byKey.values()].map((range): Candidates => ({ kind: "range", range })), ...others];
  return all.length === 1 ? all[0]! : { kind: "intersect", parts: all };
}

/** Values in both ranges of one key; null when none can be. */
function mergeRanges(a: ValueRange, b: ValueRange): ValueRange | null {
  if (a.cls !== b.cls) return null; // no value has two classes
  const low = tighter(a.low, b.low, 1);
  const high = tighter(a.high, b.high, -1);
  if (low !== undefined && high !== undefined) {
    const order = compareValues(low.value, high.value);
    if (order > 0 || (order === 0 && !(low.inclusive && high.inclusive))) return null;
  }
  const merged: ValueRange = { key: a.key, cls: a.cls };
  if (low !== undefined) merged.low = low;
  if (high !== undefined) merged.high = high;
  return merged;
}

/** The tighter of two bounds: the greater low (sign 1) or the lesser high (sign -1). */
function tighter(a: Bound | undefined, b: Bound | undefined, sign: 1 | -1): Bound | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const order = compareValues(a.value, b.value) * sign;
  if (order !== 0) return order > 0 ? a : b;
  return a.inclusive ? b : a;
}

/** Order of two values of one class: numbers by value, strings by UTF-8 bytes as SQLite does. */
export function compareValues(a: number | string, b: number | string): number {
  if (typeof a === "number" && typeof b === "number") return Math.sign(a - b);
  return compareUtf8(String(a), String(b));
}
