/**
 * Canonical text of a query, for storing selections (e.g. in dpkg.lock): keywords upper-case,
 * literals `true false null` lower-case, single spaces, `!=` for `<>`, and parentheses only where
 * the tree needs them. parseQuery(formatQuery(q)) rebuilds q exactly, so equal trees always give
 * equal text and a selection reads back as what was stored.
 */
import type { Operand, QueryNode } from "./ast.js";

const BARE_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function formatQuery(node: QueryNode): string {
  switch (node.kind) {
    case "and":
    case "or": {
      // An OR inside AND needs parentheses for precedence; a nested node of the same kind needs them
      // to parse back as a subtree rather than merge into its parent's list.
      const grouped = (o: QueryNode): boolean => o.kind === node.kind || o.kind === "or";
      const parts = node.operands.map((o) => (grouped(o) ? `(${formatQuery(o)})` : formatQuery(o)));
      return parts.join(node.kind === "and" ? " AND " : " OR ");
    }
    case "not": {
      const inner = formatQuery(node.operand);
      return node.operand.kind === "and" || node.operand.kind === "or" ? `NOT (${inner})` : `NOT ${inner}`;
    }
    case "compare":
      return `${formatOperand(node.left)} ${node.op} ${formatOperand(node.right)}`;
    case "in":
      return `${formatOperand(node.operand)} ${not(node.negated)}IN (${node.list.map(formatOperand).join(", ")})`;
    case "between": {
      const { operand, low, high } = node;
      return `${formatOperand(operand)} ${not(node.negated)}BETWEEN ${formatOperand(low)} AND ${formatOperand(high)}`;
    }
    case "like":
    case "glob":
      return `${formatOperand(node.operand)} ${not(node.negated)}${node.kind.toUpperCase()} ${quote(node.pattern, "'")}`;
    case "isNull":
      return `${formatOperand(node.operand)} IS ${not(node.negated)}NULL`;
  }
}

function not(negated: boolean): string {
  return negated ? "NOT " : "";
}

function quote(text: string, mark: "'" | '"'): string {
  return mark + text.replaceAll(mark, mark + mark) + mark;
}

export function formatOperand(operand: Operand): string {
  switch (operand.kind) {
    case "field":
      return operand.field;
    case "meta":
      return "meta" + operand.keys.map((k) => "." + (BARE_KEY.test(k) ? k : quote(k, '"'))).join("");
    case "literal": {
      const v = operand.value;
      if (typeof v === "string") return quote(v, "'");
      // String(n) gives the shortest text that reads back as the same double (1e+21, 5e-7, -0.5).
      return v === null ? "null" : String(v);
    }
  }
}
