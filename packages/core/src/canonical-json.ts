import { DpkgError } from "./errors.js";

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/** Compares strings by their UTF-8 bytes (= by code points), which is how manifests sort paths. */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // UTF-16 order differs from code point order only when a surrogate meets U+E000..U+FFFF:
      // shifting surrogates above that range restores code point order.
      return fixup(x) - fixup(y);
    }
  }
  return a.length - b.length;
}

function fixup(unit: number): number {
  if (unit >= 0xe000) return unit - 0x800;
  if (unit >= 0xd800) return unit + 0x2000;
  return unit;
}

function compareKeys(a: string, b: string): number {
  return compareUtf8(a, b);
}

/**
 * Canonical JSON: keys sorted by UTF-8 bytes at every depth, no whitespace, strings and numbers as
 * JSON.stringify writes them. Rejects what JSON cannot represent exactly (non-finite numbers,
 * undefined, functions, lone surrogates, non-plain objects), naming where it was found.
 */
export function canonicalJson(value: unknown, where = "$"): string {
  return encode(value, where, []);
}

/**
 * `trail` holds the keys and indexes leading from `where` to `value`: the place an error names is
 * built from it only when there is an error. Building it for every key, as a string, cost more than
 * the encoding itself for the few-key metas a push writes per entry.
 */
function encode(value: unknown, where: string, trail: (string | number)[]): string {
  switch (typeof value) {
    case "string":
      if (!value.isWellFormed()) throw badJson(where, trail, "string contains a lone surrogate");
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw badJson(where, trail, `${value} is not a finite number`);
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "object": {
      if (value === null) return "null";
      if (Array.isArray(value)) {
        let out = "[";
        for (let i = 0; i < value.length; i++) {
          trail.push(i);
          out += (i === 0 ? "" : ",") + encode(value[i], where, trail);
          trail.pop();
        }
        return out + "]";
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw badJson(where, trail, "not a plain object");
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj);
      if (keys.length > 1) keys.sort(compareKeys);
      let out = "{";
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        if (!k.isWellFormed()) throw badJson(where, trail, "key contains a lone surrogate");
        trail.push(k);
        out += (i === 0 ? "" : ",") + JSON.stringify(k) + ":" + encode(obj[k], where, trail);
        trail.pop();
      }
      return out + "}";
    }
    default:
      throw badJson(where, trail, `${typeof value} is not JSON`);
  }
}

function badJson(where: string, trail: readonly (string | number)[], problem: string): DpkgError {
  let at = where;
  for (const step of trail) at += typeof step === "number" ? `[${step}]` : `.${step}`;
  return new DpkgError("E_BAD_JSON", `${at}: ${problem}`, { where: at });
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Parses text that must already be canonical JSON; returns the value, or throws naming `where`.
 * Canonical means: re-encoding the parsed value gives back exactly the same text.
 */
export function parseCanonicalJson(text: string, where: string): JsonValue {
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch (e) {
    throw new DpkgError("E_BAD_JSON", `${where}: invalid JSON (${(e as Error).message})`, { where });
  }
  const again = canonicalJson(value, where);
  if (again !== text) {
    throw new DpkgError("E_BAD_JSON", `${where}: JSON is not in canonical form`, { where, expected: again });
  }
  return value;
}
