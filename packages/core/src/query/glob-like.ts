/**
 * LIKE and GLOB matching with SQLite's semantics, so that a query evaluated in memory selects
 * exactly what the same query selects in the registry's SQLite index.
 *
 * GLOB follows SQLite's patternCompare(): `*` any run, `?` one character, `[...]` a set of
 * characters, `[^...]` its complement; inside a set `]` is literal when it comes first (after an
 * optional `^`), `a-z` is a range when `-` has a character before it (not itself a range's end) and
 * a character other than `]` after it, and any other `-` is literal. A pattern whose set is never
 * closed matches nothing. Case-sensitive; characters are Unicode code points. Two SQLite quirks are
 * kept on purpose, because the SQL side cannot avoid them: U+FFFE and U+FFFF read as U+FFFD on both
 * sides, and a text is matched only up to its first NUL (U+0000; queries themselves cannot contain
 * NUL, and SQLite's replace() cannot remove it).
 *
 * LIKE is defined as the GLOB obtained by likeToGlob(): `%` any run, `_` one character, ASCII
 * letters case-insensitive, no escape character. That is SQLite's default LIKE, and compiling LIKE
 * to GLOB for SQLite keeps it exact even where `PRAGMA case_sensitive_like` or ICU changes LIKE.
 *
 * Matching is the greedy wildcard algorithm that backtracks only to the latest `*`, which is exact
 * because every other step consumes one character: O(text × pattern), never exponential.
 */

/** One step of a compiled pattern; every step but `star` matches exactly one character. */
type Step =
  | { type: "star" }
  | { type: "one" }
  | { type: "char"; cp: number }
  | { type: "set"; negated: boolean; chars: Set<number>; ranges: Array<[number, number]> };

export interface CompiledPattern {
  readonly steps: readonly Step[];
  /** True when a `[` is never closed: SQLite then matches nothing. */
  readonly never: boolean;
}

const STAR = 0x2a;
const QUESTION = 0x3f;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const CARET = 0x5e;
const DASH = 0x2d;

/** Code points as SQLite's UTF-8 reader sees them. */
function codePoints(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    out.push(cp === 0xfffe || cp === 0xffff ? 0xfffd : cp);
  }
  return out;
}

export function compileGlob(pattern: string): CompiledPattern {
  const cps = codePoints(pattern);
  const steps: Step[] = [];
  let i = 0;
  while (i < cps.length) {
    const c = cps[i++]!;
    if (c === STAR) {
      if (steps.at(-1)?.type !== "star") steps.push({ type: "star" });
    } else if (c === QUESTION) {
      steps.push({ type: "one" });
    } else if (c === OPEN) {
      const set = readSet(cps, i);
      if (set === undefined) return { steps, never: true };
      steps.push(set.step);
      i = set.next;
    } else {
      steps.push({ type: "char", cp: c });
    }
  }
  return { steps, never: false };
}

/** Reads a set that starts just after `[`, exactly as SQLite does; undefined if never closed. */
function readSet(cps: number[], start: number): { step: Step; next: number } | undefined {
  const chars = new Set<number>();
  const ranges: Array<[number, number]> = [];
  let i = start;
  const negated = cps[i] === CARET;
  if (negated) i++;
  if (cps[i] === CLOSE) {
    chars.add(CLOSE);
    i++;
  }
  let prior = 0; // the last single character, which a following `-x` turns into a range start
  while (i < cps.length && cps[i] !== CLOSE) {
    const c = cps[i]!;
    const after = cps[i + 1];
    if (c === DASH && after !== undefined && after !== CLOSE && prior > 0) {
      ranges.push([prior, after]);
      prior = 0;
      i += 2;
    } else {
      chars.add(c);
      prior = c;
      i++;
    }
  }
  if (i >= cps.length) return undefined;
  return { step: { type: "set", negated, chars, ranges }, next: i + 1 };
}

/** Translates a LIKE pattern to the GLOB pattern that means the same. */
export function likeToGlob(pattern: string): string {
  let out = "";
  for (const ch of pattern) {
    if (ch === "%") out += "*";
    else if (ch === "_") out += "?";
    else if (ch === "*" || ch === "?" || ch === "[") out += `[${ch}]`;
    else if (/^[A-Za-z]$/.test(ch)) out += `[${ch.toLowerCase()}${ch.toUpperCase()}]`;
    else out += ch;
  }
  return out;
}

export function compileLike(pattern: string): CompiledPattern {
  return compileGlob(likeToGlob(pattern));
}

function stepMatches(step: Step, c: number): boolean {
  switch (step.type) {
    case "one":
      return true;
    case "char":
      return step.cp === c;
    case "set": {
      const inSet = step.chars.has(c) || step.ranges.some(([lo, hi]) => c >= lo && c <= hi);
      return inSet !== step.negated;
    }
    case "star":
      return false;
  }
}

export function matchPattern(pattern: CompiledPattern, text: string): boolean {
  if (pattern.never) return false;
  const steps = pattern.steps;
  const nul = text.indexOf("\u0000");
  const cps = codePoints(nul < 0 ? text : text.slice(0, nul));
  let p = 0;
  let t = 0;
  let starStep = -1; // index of the latest `*`, where a failed match resumes
  let starText = 0; // how far into the text that `*` currently reaches
  while (t < cps.length) {
    const step = steps[p];
    if (step?.type === "star") {
      starStep = p++;
      starText = t;
    } else if (step !== undefined && stepMatches(step, cps[t]!)) {
      p++;
      t++;
    } else if (starStep >= 0) {
      p = starStep + 1;
      t = ++starText;
    } else {
      return false;
    }
  }
  while (steps[p]?.type === "star") p++;
  return p === steps.length;
}
