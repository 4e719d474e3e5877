/**
 * In-memory evaluation of a query against one entry, with SQL's three-valued (Kleene) logic: a
 * missing field or JSON null is NULL, any comparison with NULL is UNKNOWN, and an entry is selected
 * only when the whole query is TRUE. Values of different types are never equal and never ordered;
 * arrays and objects never equal anything; booleans are only equal or not; strings order by UTF-8
 * bytes. to-sql.ts compiles the same rules to SQL, and the shared vectors pin that both agree.
 */
import { compareUtf8, type JsonValue } from "../canonical-json.js";
import type { CompareOp, Operand, QueryEntry, QueryNode, Truth } from "./ast.js";
import { compileGlob, compileLike, matchPattern, type CompiledPattern } from "./glob-like.js";

/** True when the entry is selected: the query is TRUE for it (not FALSE, not UNKNOWN). */
export function evaluateQuery(node: QueryNode, entry: QueryEntry): boolean {
  return evaluateQueryTruth(node, entry) === true;
}

/** The query's three-valued truth for the entry: true, false, or null for UNKNOWN. */
export function evaluateQueryTruth(node: QueryNode, entry: QueryEntry): Truth {
  switch (node.kind) {
    case "and": {
      let result: Truth = true;
      for (const operand of node.operands) {
        const t = evaluateQueryTruth(operand, entry);
        if (t === false) return false;
        if (t === null) result = null;
      }
      return result;
    }
    case "or": {
      let result: Truth = false;
      for (const operand of node.operands) {
        const t = evaluateQueryTruth(operand, entry);
        if (t === true) return true;
        if (t === null) result = null;
      }
      return result;
    }
    case "not":
      return not(evaluateQueryTruth(node.operand, entry));
    case "compare":
      return compare(node.op, valueOf(node.left, entry), valueOf(node.right, entry));
    case "in":
      return negate(
        node.negated,
        memberOf(
          valueOf(node.operand, entry),
          node.list.map((o) => valueOf(o, entry)),
        ),
      );
    case "between": {
      const v = valueOf(node.operand, entry);
      const inside = and(compare(">=", v, valueOf(node.low, entry)), compare("<=", v, valueOf(node.high, entry)));
      return negate(node.negated, inside);
    }
    case "like":
    case "glob": {
      const v = valueOf(node.operand, entry);
      if (v === null) return null;
      return negate(node.negated, typeof v === "string" && matchPattern(patternOf(node), v));
    }
    case "isNull":
      return (valueOf(node.operand, entry) === null) !== node.negated;
  }
}

/** A field's value, or null for missing and JSON null. */
function valueOf(operand: Operand, entry: QueryEntry): JsonValue {
  switch (operand.kind) {
    case "literal":
      return operand.value;
    case "field":
      return entry[operand.field] ?? null;
    case "meta": {
      let v: JsonValue = entry.meta ?? null;
      for (const key of operand.keys) {
        // Only object members are addressable (never array elements or inherited properties).
        if (typeof v !== "object" || v === null || Array.isArray(v) || !Object.hasOwn(v, key)) return null;
        v = v[key] ?? null;
      }
      return v;
    }
  }
}

type Kind = "number" | "string" | "boolean" | "composite";

function kindOf(v: Exclude<JsonValue, null>): Kind {
  return typeof v === "object" ? "composite" : (typeof v as Kind);
}

function compare(op: CompareOp, a: JsonValue, b: JsonValue): Truth {
  if (a === null || b === null) return null;
  const kind = kindOf(a);
  const sameKind = kind === kindOf(b);
  if (op === "=" || op === "!=") {
    const equal = sameKind && kind !== "composite" && a === b;
    return equal === (op === "=");
  }
  if (!sameKind || (kind !== "number" && kind !== "string")) return false;
  const order = kind === "number" ? Math.sign((a as number) - (b as number)) : compareUtf8(a as string, b as string);
  switch (op) {
    case "<":
      return order < 0;
    case "<=":
      return order <= 0;
    case ">":
      return order > 0;
    case ">=":
      return order >= 0;
  }
}

function memberOf(v: JsonValue, list: JsonValue[]): Truth {
  let result: Truth = false;
  for (const item of list) {
    const t = compare("=", v, item);
    if (t === true) return true;
    if (t === null) result = null;
  }
  return result;
}

function not(t: Truth): Truth {
  return t === null ? null : !t;
}

function negate(negated: boolean, t: Truth): Truth {
  return negated ? not(t) : t;
}

function and(a: Truth, b: Truth): Truth {
  if (a === false || b === false) return false;
  return a === null || b === null ? null : true;
}

// Compiled once per query node: a query is typically evaluated against many entries.
const patterns = new WeakMap<object, CompiledPattern>();

function patternOf(node: { kind: "like" | "glob"; pattern: string }): CompiledPattern {
  let compiled = patterns.get(node);
  if (compiled === undefined) {
    compiled = node.kind === "like" ? compileLike(node.pattern) : compileGlob(node.pattern);
    patterns.set(node, compiled);
  }
  return compiled;
}
