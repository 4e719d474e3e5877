import { canonicalJson, DpkgError, isJsonObject, validatePath, type JsonObject } from "@dpkg/core";
import { open, type FileHandle } from "node:fs/promises";

const LINE_HINT = 'Each line of an entry-meta file is {"path": "<entry path>", "meta": {...}}; blank lines are ignored.';

/**
 * Reads per-entry metadata from JSON Lines: `{"path": "a/b.csv", "meta": {...}}` per line. Paths are
 * normalised to NFC (as entry paths are) and checked; errors name the file and line; a path given
 * twice is refused rather than merged, since either choice would silently drop someone's values.
 */
export async function readEntryMetaFile(file: string): Promise<Map<string, JsonObject>> {
  const out = new Map<string, JsonObject>();
  const firstLine = new Map<string, number>();
  let handle: FileHandle;
  try {
    handle = await open(file);
  } catch (err) {
    throw ioError(file, err);
  }
  const input = handle.createReadStream({ encoding: "utf8" });
  let number = 0;
  try {
    for await (const text of splitLines(input)) {
      number += 1;
      if (text.trim() === "") continue;
      const where = `${file}:${number}`;
      const { path, meta } = parseLine(text, where);
      const seen = firstLine.get(path);
      if (seen !== undefined) {
        throw new DpkgError("E_BAD_REQUEST", `${where}: path ${JSON.stringify(path)} was already given on line ${seen}`, { file, line: number, path }, { hint: LINE_HINT });
      }
      firstLine.set(path, number);
      out.set(path, meta);
    }
  } catch (err) {
    throw err instanceof DpkgError ? err : ioError(file, err);
  } finally {
    input.destroy(); // closes the handle too
  }
  return out;
}

const LINE_BREAK = /\r\n|\r|\n/;

/**
 * The lines of a text stream, ended by \n, \r\n or a lone \r (as readline splits them), the last
 * one whether or not a break ends it. Split a chunk at a time: readline's per-line events cost
 * several times the JSON parsing for a file of a few hundred thousand short lines.
 */
async function* splitLines(input: AsyncIterable<string>): AsyncGenerator<string, void, undefined> {
  let rest = "";
  for await (const chunk of input) {
    const text = rest + chunk;
    // A \r that ends the chunk may be the first half of a \r\n: it waits for the next chunk.
    const held = text.endsWith("\r") ? 1 : 0;
    const lines = text.slice(0, text.length - held).split(LINE_BREAK);
    rest = lines.pop()! + (held === 1 ? "\r" : "");
    yield* lines;
  }
  if (rest.endsWith("\r")) rest = rest.slice(0, -1);
  else if (rest === "") return;
  yield rest;
}

function ioError(file: string, err: unknown): DpkgError {
  const code = (err as NodeJS.ErrnoException).code ?? String(err);
  return new DpkgError("E_IO", `cannot read entry-meta file ${JSON.stringify(file)}: ${code}`, { file }, { cause: err });
}

function parseLine(text: string, where: string): { path: string; meta: JsonObject } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new DpkgError("E_BAD_JSON", `${where}: invalid JSON (${(err as Error).message})`, { where }, { hint: LINE_HINT });
  }
  if (!isJsonObject(value)) throw shapeError(where, "the line is not a JSON object");
  for (const key of Object.keys(value)) {
    if (key !== "path" && key !== "meta") throw shapeError(where, `unexpected field ${JSON.stringify(key)}`);
  }
  if (typeof value.path !== "string") throw shapeError(where, '"path" must be a string');
  if (!isJsonObject(value.meta)) throw shapeError(where, '"meta" must be a JSON object');
  canonicalJson(value.meta, `${where} meta`); // refuses what a manifest could not hold (lone surrogates)
  return { path: validatePath(value.path.normalize("NFC"), where), meta: value.meta };
}

function shapeError(where: string, problem: string): DpkgError {
  return new DpkgError("E_BAD_REQUEST", `${where}: ${problem}`, { where }, { hint: LINE_HINT });
}

/**
 * Attaches metadata to entries by path, in place (the entries are the push's own walked files: a
 * copy of each would be one more object per file). A path in `entryMeta` that names no pushed file is
 * an error (naming it): a typo would otherwise silently publish data without its labels.
 */
export function applyEntryMeta<T extends { path: string }>(
  entries: (T & { meta?: JsonObject })[],
  entryMeta: ReadonlyMap<string, JsonObject> | undefined,
): (T & { meta?: JsonObject })[] {
  if (entryMeta === undefined || entryMeta.size === 0) return entries;
  const known = new Set(entries.map((e) => e.path));
  const unknown = [...entryMeta.keys()].filter((p) => !known.has(p));
  if (unknown.length > 0) {
    const shown = unknown.slice(0, 5).map((p) => JSON.stringify(p)).join(", ");
    const more = unknown.length > 5 ? ` and ${unknown.length - 5} more` : "";
    throw new DpkgError(
      "E_BAD_REQUEST",
      `entry metadata names ${unknown.length} path(s) that match no file pushed: ${shown}${more}`,
      { paths: unknown.slice(0, 100) },
      { hint: "Paths are relative to the pushed folder, '/'-separated; excluded files, symlinks out of the folder and special files are not pushed." },
    );
  }
  for (const e of entries) {
    const meta = entryMeta.get(e.path);
    if (meta !== undefined) e.meta = meta;
  }
  return entries;
}
