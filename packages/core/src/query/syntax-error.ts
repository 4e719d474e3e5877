import { DpkgError } from "../errors.js";

/**
 * Builds the one kind of error a malformed query gets. `column` is 1-based and counts UTF-16 code
 * units (what JavaScript's string indices count), so a character outside the BMP counts as two.
 * The message reads `at column 17: expected a value after '=', found end of query`.
 */
export function querySyntaxError(column: number, expected: string, found: string, after?: string): DpkgError {
  const context = after === undefined ? "" : ` after ${after}`;
  return new DpkgError("E_QUERY_SYNTAX", `at column ${column}: expected ${expected}${context}, found ${found}`, {
    column,
    expected,
    found,
  });
}

/** Quotes a piece of query text for a message, shortening long pieces so errors stay readable. */
export function quoteText(text: string): string {
  const short = text.length > 40 ? `${text.slice(0, 37)}...` : text;
  return `'${short}'`;
}
