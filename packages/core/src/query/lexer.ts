import { MAX_QUERY_LENGTH } from "./ast.js";
import { querySyntaxError, quoteText } from "./syntax-error.js";

export type Token =
  | { type: "word"; text: string; column: number }
  | { type: "string"; value: string; text: string; column: number }
  | { type: "number"; value: number; text: string; column: number }
  /** A double-quoted meta key: `"cell line"`. */
  | { type: "name"; value: string; text: string; column: number }
  | { type: "symbol"; text: string; column: number }
  | { type: "end"; column: number };

const WORD_START = /[A-Za-z_]/;
const WORD_REST = /[A-Za-z0-9_]/y;
const WORD = /[A-Za-z_][A-Za-z0-9_]*/y;
const NUMBER = /-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const WHITESPACE = new Set([" ", "\t", "\n", "\r"]);
const SYMBOLS = ["<=", ">=", "<>", "!=", "=", "<", ">", "(", ")", ",", "."];

/** How a token is named in "found ..." parts of error messages. */
export function describeToken(token: Token): string {
  switch (token.type) {
    case "end":
      return "end of query";
    case "string":
      return `string ${quoteText(token.value)}`;
    case "number":
      return `number ${token.text}`;
    case "name":
      return `quoted name ${token.text.length > 40 ? token.text.slice(0, 37) + '..."' : token.text}`;
    default:
      return quoteText(token.text);
  }
}

/** Splits query text into tokens; the last token is always `end`. Runs in linear time. */
export function tokenize(text: string): Token[] {
  if (text.length > MAX_QUERY_LENGTH) {
    throw querySyntaxError(
      MAX_QUERY_LENGTH + 1,
      `a query of at most ${MAX_QUERY_LENGTH} characters`,
      `${text.length} characters`,
    );
  }
  checkCharacters(text);
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text.charAt(i);
    if (WHITESPACE.has(c)) {
      i++;
      continue;
    }
    const column = i + 1;
    if (c === "'" || c === '"') {
      const end = quotedEnd(text, i, c);
      const raw = text.slice(i, end);
      const value = raw.slice(1, -1).replaceAll(c + c, c);
      tokens.push({ type: c === "'" ? "string" : "name", value, text: raw, column });
      i = end;
    } else if ((c >= "0" && c <= "9") || (c === "-" && /[0-9]/.test(text.charAt(i + 1)))) {
      i = pushNumber(text, i, tokens);
    } else if (WORD_START.test(c)) {
      WORD.lastIndex = i;
      const word = (WORD.exec(text) ?? [c])[0];
      tokens.push({ type: "word", text: word, column });
      i += word.length;
    } else {
      const symbol = SYMBOLS.find((s) => text.startsWith(s, i));
      if (symbol === undefined) throw unexpectedCharacter(text, i);
      tokens.push({ type: "symbol", text: symbol, column });
      i += symbol.length;
    }
  }
  tokens.push({ type: "end", column: text.length + 1 });
  return tokens;
}

/** Index just past the closing quote; a doubled quote inside is an escaped quote. */
function quotedEnd(text: string, start: number, quote: string): number {
  let i = start + 1;
  for (;;) {
    const close = text.indexOf(quote, i);
    if (close < 0) {
      // Point at the opening quote: the end of the text is rarely where the mistake is.
      const what =
        quote === "'" ? "a closing ' for the string that starts here" : 'a closing " for the name that starts here';
      throw querySyntaxError(start + 1, what, "end of query");
    }
    if (text.charAt(close + 1) !== quote) return close + 1;
    i = close + 2;
  }
}

function pushNumber(text: string, start: number, tokens: Token[]): number {
  NUMBER.lastIndex = start;
  const raw = (NUMBER.exec(text) ?? [""])[0];
  const end = start + raw.length;
  WORD_REST.lastIndex = end;
  const next = text.charAt(end);
  if (next === "." || WORD_REST.test(text)) {
    throw querySyntaxError(end + 1, "a well-formed number such as 42, -1, 0.5 or 5e7", quoteText(next), `'${raw}'`);
  }
  const value = Number(raw);
  if (!Number.isFinite(value)) {
    throw querySyntaxError(start + 1, "a number of at most about 1.8e308", `number ${raw}`);
  }
  // -0 would not survive JSON; it equals 0 in every comparison anyway.
  tokens.push({ type: "number", value: value === 0 ? 0 : value, text: raw, column: start + 1 });
  return end;
}

/** NUL cannot reach SQLite's pattern matcher intact and lone surrogates cannot be encoded as UTF-8. */
function checkCharacters(text: string): void {
  const nul = text.indexOf("\u0000");
  if (nul >= 0) throw querySyntaxError(nul + 1, "any character but NUL (U+0000)", "NUL");
  if (!text.isWellFormed()) {
    for (let i = 0; i < text.length; i++) {
      const cp = text.codePointAt(i) ?? 0;
      if (cp >= 0xd800 && cp <= 0xdfff) {
        throw querySyntaxError(i + 1, "well-formed Unicode text", "a lone surrogate");
      }
      if (cp > 0xffff) i++;
    }
  }
}

function unexpectedCharacter(text: string, i: number): Error {
  const cp = text.codePointAt(i) ?? 0;
  const found =
    cp < 0x20 || cp === 0x7f
      ? `control character U+${cp.toString(16).padStart(4, "0").toUpperCase()}`
      : quoteText(String.fromCodePoint(cp));
  if (text.charAt(i) === "!") return querySyntaxError(i + 1, "'!=' (a lone '!' is not an operator)", found);
  if (text.charAt(i) === "-")
    return querySyntaxError(i + 1, "a digit after '-' in a number", quoteText(text.slice(i, i + 2)));
  return querySyntaxError(i + 1, "a field, value, operator or parenthesis", found);
}
