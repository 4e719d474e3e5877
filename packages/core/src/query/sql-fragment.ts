/**
 * Pieces of parameterized SQL. User text can enter a fragment only through param(): the sql``
 * template accepts nothing but fragments between its literal parts, so no code path can splice a
 * query's strings, numbers or meta keys into SQL text.
 */
export type SqlParam = string | number;

export interface SqlFragment {
  readonly text: string;
  readonly params: readonly SqlParam[];
  /** Nesting depth of the expression, an estimate of what the database's depth limit counts. */
  readonly depth: number;
}

/** A parameter placeholder bound to `value`. */
export function param(value: SqlParam): SqlFragment {
  return { text: "?", params: [value], depth: 1 };
}

/** Trusted SQL text from this codebase or from trusted options (column names), never user input. */
export function trusted(text: string): SqlFragment {
  return { text, params: [], depth: 1 };
}

/** Composes fragments; the result nests one level deeper than its deepest part. */
export function sql(strings: TemplateStringsArray, ...parts: SqlFragment[]): SqlFragment {
  let text = strings[0] ?? "";
  const params: SqlParam[] = [];
  let depth = 0;
  parts.forEach((part, i) => {
    text += part.text + (strings[i + 1] ?? "");
    params.push(...part.params);
    depth = Math.max(depth, part.depth);
  });
  return { text, params, depth: depth + 1 };
}

/** Joins fragments with a separator (`, ` in lists); depth is that of the deepest part. */
export function joinFragments(parts: readonly SqlFragment[], separator: string): SqlFragment {
  return {
    text: parts.map((p) => p.text).join(separator),
    params: parts.flatMap((p) => p.params),
    depth: Math.max(0, ...parts.map((p) => p.depth)),
  };
}

/**
 * Combines many conditions with AND or OR as a balanced tree, so that a long flat chain nests
 * log2(n) levels deep instead of n (databases cap expression depth; SQLite at 1000).
 */
export function balanced(parts: readonly SqlFragment[], operator: "AND" | "OR"): SqlFragment {
  if (parts.length === 1) return parts[0]!;
  const mid = Math.ceil(parts.length / 2);
  const left = balanced(parts.slice(0, mid), operator);
  const right = balanced(parts.slice(mid), operator);
  return operator === "AND" ? sql`(${left} AND ${right})` : sql`(${left} OR ${right})`;
}
