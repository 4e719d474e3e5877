import { DpkgError } from "./errors.js";

/**
 * Package names, tags and refs.
 *
 *   name     = part "/" part            part = [a-z0-9][a-z0-9._-]{0,63}     (lowercase only)
 *   tag      = [A-Za-z0-9][A-Za-z0-9._-]{0,127}
 *   ref      = name | name "@" tag | name "@blake3:" hex{8,64}   (lowercase hex; 64 = the full digest)
 *
 * A tag can never look like a digest, because ':' is not a tag character; and as neither a part nor a
 * tag may start with '.', none of them can be '.' or '..' when used in a storage key.
 */
export interface PackageName {
  namespace: string;
  name: string;
}

export type RefSelector = { kind: "tag"; tag: string } | { kind: "digest"; prefix: string; full: boolean };

export type PackageRef = PackageName & {
  selector: RefSelector;
  /** False when the text had no '@' and the selector is the default tag. */
  explicit: boolean;
};

export const DEFAULT_TAG = "latest";

const PART_MAX = 64;
const TAG_MAX = 128;
const PREFIX_MIN = 8;
const PREFIX_MAX = 64;
const PART_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const TAG_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const WHITESPACE_RE = /\s/;

/** "contains whitespace at position N" (1-based, code points), or null. */
function whitespaceProblem(text: string): string | null {
  if (!WHITESPACE_RE.test(text)) return null;
  return `contains whitespace at position ${[...text].findIndex((ch) => WHITESPACE_RE.test(ch)) + 1}`;
}

export function isValidPackagePart(text: string): boolean {
  return PART_RE.test(text);
}

export function isValidTag(text: string): boolean {
  return TAG_RE.test(text);
}

/** Describes the first character of `text` outside `allowed`, e.g. `"!" at position 3` (1-based, code points). */
function firstBadChar(text: string, allowed: RegExp): string {
  const chars = [...text];
  const at = chars.findIndex((ch) => !allowed.test(ch));
  return `${JSON.stringify(chars[at])} at position ${at + 1}`;
}

/** Why `part` is not a valid namespace or name, or null. `role` is "namespace" or "name". */
function partProblem(part: string, role: "namespace" | "name"): string | null {
  if (part === "") return `the ${role} is empty`;
  if (PART_RE.test(part)) return null;
  const label = `${role} ${JSON.stringify(part)}`;
  if (/[A-Z]/.test(part)) {
    const lower = part.toLowerCase();
    const suggestion = PART_RE.test(lower) ? ` (did you mean ${JSON.stringify(lower)}?)` : "";
    return `${label} has uppercase letters; package names are lowercase${suggestion}`;
  }
  if (/^[._-]/.test(part)) return `${label} must start with a lowercase letter or digit`;
  if (part.length > PART_MAX) return `${label} is ${part.length} characters long; the limit is ${PART_MAX}`;
  return `${label} has ${firstBadChar(part, /[a-z0-9._-]/)}; allowed are a-z, 0-9, '.', '_' and '-'`;
}

/** Why `text` is not a package name, as a phrase that names it, or null. */
function nameProblem(text: string): string | null {
  const q = `package name ${JSON.stringify(text)}`;
  if (text === "") return `${q} is empty`;
  const ws = whitespaceProblem(text);
  if (ws !== null) return `${q} ${ws}`;
  const parts = text.split("/");
  if (parts.length === 1) return `${q} has no '/': write it as 'namespace/name', e.g. 'mypkg/images'`;
  if (parts.length > 2) return `${q} has ${parts.length - 1} '/' but a package name has exactly one ('namespace/name')`;
  const problem = partProblem(parts[0] ?? "", "namespace") ?? partProblem(parts[1] ?? "", "name");
  return problem === null ? null : `${q}: ${problem}`;
}

export function parsePackageName(text: string): PackageName {
  const problem = nameProblem(text);
  if (problem !== null) throw new DpkgError("E_BAD_NAME", problem, { name: text, reason: problem });
  const slash = text.indexOf("/");
  return { namespace: text.slice(0, slash), name: text.slice(slash + 1) };
}

/** `namespace/name`; throws E_BAD_NAME if either part is invalid, so it never emits an unparsable name. */
export function formatPackageName(p: PackageName): string {
  const text = `${p.namespace}/${p.name}`;
  parsePackageName(text);
  return text;
}

/** Why `text` is not a tag, as a phrase that names it, or null. */
function tagProblem(text: string): string | null {
  if (TAG_RE.test(text)) return null;
  const q = `tag ${JSON.stringify(text)}`;
  if (text === "") return `${q} is empty`;
  const ws = whitespaceProblem(text);
  if (ws !== null) return `${q} ${ws}`;
  if (text.includes(":")) return `${q} contains ':', which only digests have (written '@blake3:HEX')`;
  if (/^[._-]/.test(text)) return `${q} must start with a letter or digit`;
  if (text.length > TAG_MAX) return `${q} is ${text.length} characters long; the limit is ${TAG_MAX}`;
  return `${q} has ${firstBadChar(text, /[A-Za-z0-9._-]/)}; allowed are A-Z, a-z, 0-9, '.', '_' and '-'`;
}

export function parseTag(text: string): string {
  const problem = tagProblem(text);
  if (problem !== null) throw new DpkgError("E_BAD_TAG", problem, { tag: text, reason: problem });
  return text;
}

/** Why `selector` (the text after '@', containing ':') is not a digest selector, or null. */
function digestProblem(selector: string): string | null {
  const colon = selector.indexOf(":");
  const algorithm = selector.slice(0, colon);
  const hex = selector.slice(colon + 1);
  const q = `digest ${JSON.stringify(selector)}`;
  if (algorithm !== "blake3") {
    return `${q} uses algorithm ${JSON.stringify(algorithm)}; only 'blake3' is supported`;
  }
  if (/^[0-9a-fA-F]*$/.test(hex) && /[A-F]/.test(hex)) {
    return `${q} has uppercase hex; digests are lowercase (did you mean 'blake3:${hex.toLowerCase()}'?)`;
  }
  if (!/^[0-9a-f]*$/.test(hex))
    return `${q} has ${firstBadChar(hex, /[0-9a-f]/)} after 'blake3:', which is not a hex digit`;
  if (hex.length < PREFIX_MIN) return `${q} has only ${hex.length} hex digits; give at least ${PREFIX_MIN}`;
  if (hex.length > PREFIX_MAX) return `${q} has ${hex.length} hex digits; a full digest has ${PREFIX_MAX}`;
  return null;
}

/** `problem` either names its own subject ("tag "x" ...", joined with ': ') or is about the ref itself. */
function refError(
  code: "E_BAD_REF" | "E_BAD_NAME" | "E_BAD_TAG",
  text: string,
  problem: string,
  hasSubject = true,
): DpkgError {
  const message = `ref ${JSON.stringify(text)}${hasSubject ? ": " : " "}${problem}`;
  return new DpkgError(code, message, { ref: text, reason: problem });
}

/**
 * Parses `ns/name`, `ns/name@TAG` or `ns/name@blake3:HEX`. Errors keep the most specific code: a bad
 * name part is E_BAD_NAME, a bad tag E_BAD_TAG, anything else (shape, digest) E_BAD_REF; every
 * message quotes the whole ref.
 */
export function parseRef(text: string): PackageRef {
  if (text === "") throw refError("E_BAD_REF", text, "is empty", false);
  const ws = whitespaceProblem(text);
  if (ws !== null) throw refError("E_BAD_REF", text, ws, false);
  if (text.startsWith("@")) {
    throw refError(
      "E_BAD_REF",
      text,
      "starts with '@': write 'namespace/name@TAG' (there are no npm-style scopes)",
      false,
    );
  }
  const at = text.indexOf("@");
  const nameText = at === -1 ? text : text.slice(0, at);
  const nameIssue = nameProblem(nameText);
  if (nameIssue !== null) throw refError("E_BAD_NAME", text, nameIssue);
  const { namespace, name } = parsePackageName(nameText);
  if (at === -1) return { namespace, name, selector: { kind: "tag", tag: DEFAULT_TAG }, explicit: false };

  const rest = text.slice(at + 1);
  if (rest === "")
    throw refError("E_BAD_REF", text, "has nothing after '@': give a tag (e.g. '@latest') or '@blake3:HEX'", false);
  if (rest.includes("@")) throw refError("E_BAD_REF", text, "has more than one '@'", false);
  if (rest.includes(":")) {
    const digestIssue = digestProblem(rest);
    if (digestIssue !== null) throw refError("E_BAD_REF", text, digestIssue);
    const prefix = rest.slice("blake3:".length);
    return {
      namespace,
      name,
      selector: { kind: "digest", prefix, full: prefix.length === PREFIX_MAX },
      explicit: true,
    };
  }
  const tagIssue = tagProblem(rest);
  if (tagIssue !== null) throw refError("E_BAD_TAG", text, tagIssue);
  return { namespace, name, selector: { kind: "tag", tag: rest }, explicit: true };
}

/**
 * The text form of a ref; `parseRef(formatRef(r))` gives `r` back. The '@latest' is left out only
 * when the ref was written without it. Throws like parseRef if a part is invalid.
 */
export function formatRef(r: PackageRef): string {
  const base = `${r.namespace}/${r.name}`;
  const s = r.selector;
  const implicit = !r.explicit && s.kind === "tag" && s.tag === DEFAULT_TAG;
  const text = implicit ? base : `${base}@${s.kind === "tag" ? s.tag : `blake3:${s.prefix}`}`;
  parseRef(text);
  return text;
}
