/**
 * Recursive-descent parser for the query language. Grammar, loosest binding first:
 *
 *   query     := or END
 *   or        := and ("OR" and)*
 *   and       := not ("AND" not)*
 *   not       := "NOT" not | "(" or ")" | predicate
 *   predicate := operand ( CMP operand | ["NOT"] "IN" "(" operand ("," operand)* ")"
 *                | ["NOT"] "BETWEEN" operand "AND" operand | ["NOT"] ("LIKE" | "GLOB") STRING
 *                | "IS" ["NOT"] "NULL" )
 *   operand   := "path" | "size" | "digest" | "meta" ("." (WORD | QUOTED))* | STRING | NUMBER
 *                | "TRUE" | "FALSE" | "NULL"
 *
 * Keywords are case-insensitive, field names are not. `x = null` parses (either side may be a field
 * or a literal) but, as in SQL, is never TRUE: `x IS NULL` is the test for null or missing.
 * Recursion depth is bounded by MAX_QUERY_DEPTH, so hostile input cannot overflow the stack.
 */
import { MAX_PATTERN_LENGTH, MAX_QUERY_DEPTH, type CompareOp, type Operand, type QueryNode } from "./ast.js";
import { describeToken, tokenize, type Token } from "./lexer.js";
import { querySyntaxError } from "./syntax-error.js";

const KEYWORDS = new Set(["AND", "OR", "NOT", "IN", "BETWEEN", "LIKE", "GLOB", "IS", "NULL", "TRUE", "FALSE"]);
const COMPARE_OPS = new Set(["=", "!=", "<>", "<", "<=", ">", ">="]);
const FIELD_HELP = "a field (path, size, digest, meta or meta.KEY) or a value";
const AFTER_OPERAND = "an operator (=, !=, <, <=, >, >=, IN, BETWEEN, LIKE, GLOB, IS)";

/** Parses query text into its syntax tree; throws DpkgError E_QUERY_SYNTAX naming the column. */
export function parseQuery(text: string): QueryNode {
  const s: State = { tokens: tokenize(text), pos: 0, depth: 0 };
  const node = parseOr(s);
  const next = peek(s);
  if (next.type !== "end") {
    const expected =
      next.type === "symbol" && next.text === ")"
        ? "AND, OR or end of query (unbalanced ')')"
        : "AND, OR or end of query";
    throw querySyntaxError(next.column, expected, describeToken(next));
  }
  return node;
}

function keyword(token: Token): string | undefined {
  if (token.type !== "word") return undefined;
  const upper = token.text.toUpperCase();
  return KEYWORDS.has(upper) ? upper : undefined;
}

function symbol(token: Token): string | undefined {
  return token.type === "symbol" ? token.text : undefined;
}

/** Quotes what the user wrote, for "after ..." parts of messages. */
function written(token: Token): string {
  return token.type === "end" ? "end of query" : `'${token.text}'`;
}

/** The parser's cursor: a position in the token list and the current nesting depth. */
interface State {
  readonly tokens: Token[];
  pos: number;
  depth: number;
}

function peek(s: State): Token {
  // The token list always ends with `end`, and parsing never moves past it.
  return s.tokens[s.pos] ?? { type: "end", column: 1 };
}

function next(s: State): Token {
  const t = peek(s);
  if (t.type !== "end") s.pos++;
  return t;
}

function previous(s: State): Token {
  return s.tokens[s.pos - 1] ?? peek(s);
}

function isKeyword(s: State, word: string): boolean {
  return keyword(peek(s)) === word;
}

function expectKeyword(s: State, word: string, after: Token): void {
  if (!isKeyword(s, word)) throw querySyntaxError(peek(s).column, word, describeToken(peek(s)), written(after));
  next(s);
}

function expectSymbol(s: State, text: string, expected: string, after?: Token): void {
  if (symbol(peek(s)) !== text) {
    throw querySyntaxError(peek(s).column, expected, describeToken(peek(s)), after && written(after));
  }
  next(s);
}

function enter(s: State, token: Token): void {
  if (++s.depth > MAX_QUERY_DEPTH) {
    throw querySyntaxError(
      token.column,
      `at most ${MAX_QUERY_DEPTH} nested parentheses and NOTs`,
      `nesting level ${s.depth}`,
    );
  }
}

function parseOr(s: State): QueryNode {
  const operands = [parseAnd(s)];
  while (isKeyword(s, "OR")) {
    next(s);
    operands.push(parseAnd(s));
  }
  return operands.length === 1 ? operands[0]! : { kind: "or", operands };
}

function parseAnd(s: State): QueryNode {
  const operands = [parseNot(s)];
  while (isKeyword(s, "AND")) {
    next(s);
    operands.push(parseNot(s));
  }
  return operands.length === 1 ? operands[0]! : { kind: "and", operands };
}

function parseNot(s: State): QueryNode {
  const token = peek(s);
  if (keyword(token) === "NOT") {
    next(s);
    enter(s, token);
    const operand = parseNot(s);
    s.depth--;
    return { kind: "not", operand };
  }
  if (symbol(token) === "(") {
    next(s);
    enter(s, token);
    const inner = parseOr(s);
    expectSymbol(s, ")", `')' to close the '(' at column ${token.column}`);
    s.depth--;
    return inner;
  }
  if (token.type === "end")
    throw querySyntaxError(token.column, "a condition", "end of query", s.pos > 0 ? written(previous(s)) : undefined);
  return parsePredicate(s);
}

function parsePredicate(s: State): QueryNode {
  const operand = parseOperand(s, undefined);
  const after = previous(s);
  const t = next(s);
  const op = symbol(t);
  if (op !== undefined && COMPARE_OPS.has(op)) {
    const right = parseOperand(s, t);
    return { kind: "compare", op: op === "<>" ? "!=" : (op as CompareOp), left: operand, right };
  }
  const word = keyword(t);
  if (word === "IS") {
    const negated = isKeyword(s, "NOT");
    if (negated) next(s);
    expectKeyword(s, "NULL", previous(s));
    return { kind: "isNull", negated, operand };
  }
  if (word === "NOT") {
    const what = keyword(peek(s));
    if (what !== "IN" && what !== "BETWEEN" && what !== "LIKE" && what !== "GLOB") {
      throw querySyntaxError(peek(s).column, "IN, BETWEEN, LIKE or GLOB", describeToken(peek(s)), "'NOT'");
    }
    return parseTail(s, operand, true);
  }
  if (word === "IN" || word === "BETWEEN" || word === "LIKE" || word === "GLOB") {
    s.pos--;
    return parseTail(s, operand, false);
  }
  throw querySyntaxError(t.column, AFTER_OPERAND, describeToken(t), written(after));
}

/** IN, BETWEEN, LIKE or GLOB, after an optional NOT. */
function parseTail(s: State, operand: Operand, negated: boolean): QueryNode {
  const t = next(s);
  const word = keyword(t);
  if (word === "IN") {
    expectSymbol(s, "(", "'(' to start the list", t);
    const list = [parseOperand(s, previous(s))];
    while (symbol(peek(s)) === ",") list.push(parseOperand(s, next(s)));
    expectSymbol(s, ")", "',' or ')' to end the list", previous(s));
    return { kind: "in", negated, operand, list };
  }
  if (word === "BETWEEN") {
    const low = parseOperand(s, t);
    expectKeyword(s, "AND", previous(s));
    const high = parseOperand(s, previous(s));
    return { kind: "between", negated, operand, low, high };
  }
  const pattern = next(s);
  if (pattern.type !== "string") {
    throw querySyntaxError(pattern.column, "a pattern in single quotes", describeToken(pattern), written(t));
  }
  if (pattern.value.length > MAX_PATTERN_LENGTH) {
    throw querySyntaxError(
      pattern.column,
      `a pattern of at most ${MAX_PATTERN_LENGTH} characters`,
      `${pattern.value.length} characters`,
    );
  }
  return { kind: word === "LIKE" ? "like" : "glob", negated, operand, pattern: pattern.value };
}

function parseOperand(s: State, after: Token | undefined): Operand {
  const t = next(s);
  const where = after === undefined ? undefined : written(after);
  switch (t.type) {
    case "string":
      return { kind: "literal", value: t.value };
    case "number":
      return { kind: "literal", value: t.value };
    case "word": {
      const word = keyword(t);
      if (word === "TRUE" || word === "FALSE") return { kind: "literal", value: word === "TRUE" };
      if (word === "NULL") return { kind: "literal", value: null };
      if (word !== undefined) break;
      if (t.text === "path" || t.text === "size" || t.text === "digest") return { kind: "field", field: t.text };
      if (t.text === "meta") return { kind: "meta", keys: parseKeys(s) };
      throw querySyntaxError(t.column, FIELD_HELP, `unknown field '${t.text}'`, where);
    }
    case "name":
      throw querySyntaxError(t.column, `${FIELD_HELP} (string values take single quotes)`, describeToken(t), where);
    default:
      break;
  }
  throw querySyntaxError(t.column, after === undefined ? FIELD_HELP : "a value or field", describeToken(t), where);
}

function parseKeys(s: State): string[] {
  const keys: string[] = [];
  while (symbol(peek(s)) === ".") {
    next(s);
    const t = next(s);
    if (t.type === "word" || t.type === "name") {
      keys.push(t.type === "word" ? t.text : t.value);
    } else {
      throw querySyntaxError(
        t.column,
        "a key name (letters, digits, _) or a double-quoted key",
        describeToken(t),
        "'.'",
      );
    }
  }
  return keys;
}
