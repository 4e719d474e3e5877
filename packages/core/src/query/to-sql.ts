/**
 * Compiles a query to a parameterized SQL boolean expression with exactly evaluate.ts's semantics.
 * Every predicate becomes an expression yielding 1, 0 or NULL (TRUE, FALSE, UNKNOWN), so SQL's own
 * AND/OR/NOT give the Kleene logic. Type rules are enforced explicitly: each operand carries a
 * ValueClass (known statically for columns and literals, computed with json_type() for meta paths),
 * and values are compared only when their classes match, which also keeps SQLite's type affinity
 * and cross-type ordering out of play. User text (literals, patterns, meta keys) travels only as
 * parameters; column names come from the trusted options.
 */
import type { CompareOp, Operand, QueryNode } from "./ast.js";
import { SQL_DIALECTS, type SqlDialect, type SqlDialectName, type ValueClass } from "./sql-dialect.js";
import { balanced, joinFragments, param, sql, trusted, type SqlFragment, type SqlParam } from "./sql-fragment.js";
import { querySyntaxError } from "./syntax-error.js";

export interface CompileOptions {
  dialect: SqlDialectName;
  /** Trusted SQL names of the columns holding each field; `meta` holds canonical JSON text or NULL. */
  columns: { path: string; size: string; digest: string; meta: string };
}

export interface CompiledQuery {
  /** A boolean SQL expression, ready for `WHERE ${sql}`. */
  sql: string;
  params: SqlParam[];
}

/** An operand as SQL: its class (static, or SQL computing it) and its value for a given class. */
interface SqlOperand {
  cls: ValueClass | SqlFragment;
  value(cls: ValueClass): SqlFragment;
  /** Column operands: a NULL column would still be NULL (entries never have one). */
  column?: SqlFragment;
}

interface Context {
  dialect: SqlDialect;
  columns: CompileOptions["columns"];
}

export function compileQuery(node: QueryNode, options: CompileOptions): CompiledQuery {
  const ctx: Context = { dialect: SQL_DIALECTS[options.dialect], columns: options.columns };
  const fragment = compileNode(node, ctx);
  if (fragment.params.length > ctx.dialect.maxParams || fragment.depth > ctx.dialect.maxDepth) {
    throw querySyntaxError(
      1,
      `a query ${ctx.dialect.name} can run (at most ${ctx.dialect.maxParams} parameters, nesting ${ctx.dialect.maxDepth})`,
      `${fragment.params.length} parameters, nesting ${fragment.depth}`,
    );
  }
  return { sql: fragment.text, params: [...fragment.params] };
}

function compileNode(node: QueryNode, ctx: Context): SqlFragment {
  switch (node.kind) {
    case "and":
    case "or":
      return balanced(
        node.operands.map((o) => compileNode(o, ctx)),
        node.kind === "and" ? "AND" : "OR",
      );
    case "not":
      return sql`(NOT ${compileNode(node.operand, ctx)})`;
    case "compare":
      return compare(node.op, operand(node.left, ctx), operand(node.right, ctx), ctx);
    case "in":
      return negate(node.negated, member(operand(node.operand, ctx), node.list, ctx));
    case "between": {
      const x = operand(node.operand, ctx);
      const low = compare(">=", x, operand(node.low, ctx), ctx);
      const high = compare("<=", x, operand(node.high, ctx), ctx);
      return negate(node.negated, sql`(${low} AND ${high})`);
    }
    case "like":
    case "glob": {
      const { dialect } = ctx;
      const match = (v: SqlFragment): SqlFragment =>
        node.kind === "like" ? dialect.like(v, node.pattern) : dialect.glob(v, node.pattern);
      return negate(node.negated, onClass(operand(node.operand, ctx), "s", match, ctx.dialect.false, ctx));
    }
    case "isNull": {
      const x = operand(node.operand, ctx);
      const isNull =
        typeof x.cls !== "string"
          ? sql`(${x.cls} = 'z')`
          : x.column
            ? sql`(${x.column} IS NULL)`
            : truth(x.cls === "z", ctx);
      return negate(node.negated, isNull);
    }
  }
}

function operand(o: Operand, ctx: Context): SqlOperand {
  switch (o.kind) {
    case "literal": {
      const v = o.value;
      if (v === null) return { cls: "z", value: () => ctx.dialect.null };
      if (typeof v === "boolean") return { cls: "b", value: () => (v ? ctx.dialect.true : ctx.dialect.false) };
      return { cls: typeof v === "number" ? "n" : "s", value: () => param(v) };
    }
    case "field": {
      const column = trusted(ctx.columns[o.field]);
      return { cls: o.field === "size" ? "n" : "s", value: () => column, column };
    }
    case "meta": {
      const meta = trusted(ctx.columns.meta);
      if (o.keys.length === 0) {
        // The whole meta object: NULL or composite, so only IS [NOT] NULL can be TRUE for it.
        return { cls: sql`(CASE WHEN ${meta} IS NULL THEN 'z' ELSE 'c' END)`, value: () => meta };
      }
      const path = ctx.dialect.jsonPath(o.keys);
      return {
        cls: ctx.dialect.jsonClass(meta, param(path)),
        value: (cls) => ctx.dialect.jsonValue(meta, param(path), cls),
      };
    }
  }
}

function truth(value: boolean, ctx: Context): SqlFragment {
  return value ? ctx.dialect.true : ctx.dialect.false;
}

function negate(negated: boolean, f: SqlFragment): SqlFragment {
  return negated ? sql`(NOT ${f})` : f;
}

/** `whenClass(value)` if x has class `cls`, NULL if x is NULL, `otherwise` for any other class. */
function onClass(
  x: SqlOperand,
  cls: Exclude<ValueClass, "z">,
  whenClass: (value: SqlFragment) => SqlFragment,
  otherwise: SqlFragment,
  ctx: Context,
): SqlFragment {
  if (typeof x.cls === "string") {
    if (x.cls === "z") return ctx.dialect.null;
    return x.cls === cls ? whenClass(x.value(cls)) : otherwise;
  }
  return sql`(CASE ${x.cls} WHEN 'z' THEN NULL WHEN ${trusted(`'${cls}'`)} THEN ${whenClass(x.value(cls))} ELSE ${otherwise} END)`;
}

const SQL_OPS: Record<CompareOp, string> = { "=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">=" };

/** The comparison of two values both of class `cls` (not NULL). */
function sameClass(
  op: CompareOp,
  cls: Exclude<ValueClass, "z">,
  a: SqlFragment,
  b: SqlFragment,
  ctx: Context,
): SqlFragment {
  const equality = op === "=" || op === "!=";
  if (cls === "c" || (cls === "b" && !equality)) return truth(op === "!=", ctx);
  const collate = cls === "s" ? ctx.dialect.bytewise : trusted("");
  return sql`(${a} ${trusted(SQL_OPS[op])} ${b}${collate})`;
}

function compare(op: CompareOp, a: SqlOperand, b: SqlOperand, ctx: Context): SqlFragment {
  const mismatch = truth(op === "!=", ctx);
  if (typeof b.cls === "string") {
    if (b.cls === "z") return ctx.dialect.null;
    const cls = b.cls;
    return onClass(a, cls, (va) => sameClass(op, cls, va, b.value(cls), ctx), mismatch, ctx);
  }
  if (typeof a.cls === "string") {
    if (a.cls === "z") return ctx.dialect.null;
    const cls = a.cls;
    return onClass(b, cls, (vb) => sameClass(op, cls, a.value(cls), vb, ctx), mismatch, ctx);
  }
  // Both classes known only at run time (field against field): switch on the pair.
  const branches = (["n", "s", "b", "c"] as const).map((cls) => {
    const same = sameClass(op, cls, a.value(cls), b.value(cls), ctx);
    return same.text === mismatch.text ? undefined : sql`WHEN ${trusted(`'${cls}${cls}'`)} THEN ${same}`;
  });
  const whens = joinFragments(
    branches.filter((f) => f !== undefined),
    " ",
  );
  return sql`(CASE ${a.cls} || ${b.cls} ${whens} ELSE (CASE WHEN ${a.cls} = 'z' OR ${b.cls} = 'z' THEN NULL ELSE ${mismatch} END) END)`;
}

/**
 * x IN (list): TRUE if x equals an element, else UNKNOWN if x or an element is NULL, else FALSE.
 * A list of literals compiles to SQL IN lists per class (SQL IN has exactly this NULL rule), each
 * distinct value bound once; a list naming fields compiles to an OR of equalities.
 */
function member(x: SqlOperand, list: Operand[], ctx: Context): SqlFragment {
  if (!list.every((o) => o.kind === "literal")) {
    return balanced(
      list.map((o) => compare("=", x, operand(o, ctx), ctx)),
      "OR",
    );
  }
  const literals = new Map<string, SqlOperand>(); // distinct values, keyed by type and value
  let hasNull = false;
  for (const o of list) {
    if (o.kind !== "literal") continue;
    if (o.value === null) hasNull = true;
    else literals.set(`${typeof o.value}:${String(o.value)}`, operand(o, ctx));
  }
  const groups: Array<[ValueClass, SqlFragment[]]> = [];
  for (const cls of ["n", "s", "b"] as const) {
    const elements = [...literals.values()].filter((l) => l.cls === cls).map((l) => l.value(cls));
    if (elements.length === 0) continue;
    if (hasNull) elements.push(ctx.dialect.null);
    groups.push([cls, elements]);
  }
  const otherwise = hasNull ? ctx.dialect.null : ctx.dialect.false;
  const inList = (cls: ValueClass, v: SqlFragment, elements: SqlFragment[]): SqlFragment => {
    const collate = cls === "s" ? ctx.dialect.bytewise : trusted("");
    return sql`(${v}${collate} IN (${joinFragments(elements, ", ")}))`;
  };
  if (typeof x.cls === "string") {
    if (x.cls === "z") return ctx.dialect.null;
    const group = groups.find(([cls]) => cls === x.cls);
    return group ? inList(group[0], x.value(group[0]), group[1]) : otherwise;
  }
  const whens = groups.map(
    ([cls, elements]) => sql`WHEN ${trusted(`'${cls}'`)} THEN ${inList(cls, x.value(cls), elements)}`,
  );
  return sql`(CASE ${x.cls} WHEN 'z' THEN NULL ${joinFragments(whens, " ")} ELSE ${otherwise} END)`;
}
