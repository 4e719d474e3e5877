/**
 * The literal start of LIKE and GLOB patterns (core's glob-like.ts semantics): every string a
 * pattern matches begins with it, which turns a pattern into a range of strings in UTF-8 byte order.
 */

/** SQLite reads U+FFFE and U+FFFF as U+FFFD when matching, so from these on, text may differ. */
function matchesLoosely(ch: string): boolean {
  return ch === "\uFFFD" || ch === "\uFFFE" || ch === "\uFFFF";
}

/** Characters before the first `*`, `?` or `[`: a text must match them exactly. */
export function globPrefix(pattern: string): string {
  let prefix = "";
  for (const ch of pattern) {
    if (ch === "*" || ch === "?" || ch === "[" || matchesLoosely(ch)) break;
    prefix += ch;
  }
  return prefix;
}

/** Characters before the first `%`, `_` or ASCII letter (letters match either case). */
export function likePrefix(pattern: string): string {
  let prefix = "";
  for (const ch of pattern) {
    if (ch === "%" || ch === "_" || /^[A-Za-z]$/.test(ch) || matchesLoosely(ch)) break;
    prefix += ch;
  }
  return prefix;
}

/**
 * The least string greater than every string that starts with `prefix` (its last code point plus
 * one, carrying past U+10FFFF), or null when there is none ("" or only U+10FFFF).
 */
export function prefixEnd(prefix: string): string | null {
  const cps = Array.from(prefix, (ch) => ch.codePointAt(0) ?? 0);
  while (cps.length > 0 && cps.at(-1) === 0x10ffff) cps.pop();
  const last = cps.pop();
  if (last === undefined) return null;
  // Surrogate code points are not characters; after U+D7FF comes U+E000 in UTF-8 order.
  cps.push(last + 1 === 0xd800 ? 0xe000 : last + 1);
  return String.fromCodePoint(...cps);
}
