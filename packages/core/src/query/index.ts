export {
  MAX_PATTERN_LENGTH,
  MAX_QUERY_DEPTH,
  MAX_QUERY_LENGTH,
  QUERY_FIELDS,
  type CompareOp,
  type Operand,
  type QueryEntry,
  type QueryNode,
  type ScalarField,
  type Truth,
} from "./ast.js";
export { parseQuery } from "./parser.js";
export { evaluateQuery, evaluateQueryTruth } from "./evaluate.js";
export { compileQuery, type CompileOptions, type CompiledQuery } from "./to-sql.js";
export { SQL_DIALECTS, type SqlDialect, type SqlDialectName, type ValueClass } from "./sql-dialect.js";
export type { SqlParam } from "./sql-fragment.js";
export { formatQuery } from "./format.js";
