import { DpkgError } from "@dpkg/core";
import { randomBytes } from "node:crypto";
import { open, readFile, rename, rm, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * Reads a workspace JSON file (dpkg.json, dpkg.lock). Absent → null; anything unreadable or not JSON
 * → E_BAD_JSON naming the file, so the user knows which file to fix.
 */
export async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new DpkgError("E_IO", `cannot read ${file}: ${(err as Error).message}`, { file }, { cause: err });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new DpkgError("E_BAD_JSON", `${file} is not valid JSON: ${(err as Error).message}`, { file }, { cause: err });
  }
}

/**
 * Stable, diff-friendly text: two-space indentation, object keys sorted at every depth, a final
 * newline. The same value always gives the same bytes, so re-writing an unchanged file is a no-op
 * in version control.
 */
export function formatJsonFile(value: unknown): string {
  return JSON.stringify(sortKeys(value), null, 2) + "\n";
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = sortKeys(v);
  }
  return out;
}

/** Text gathered before each write of a file given in pieces. */
const WRITE_CHUNK = 1 << 20;

/**
 * Writes `file` atomically: temp file beside it, fsync, rename. Readers see the old or the new text,
 * never half. `text` may come in pieces (lines, say): they are written in chunks of about a MiB, so
 * that a file of a million lines is never built as one string (V8 caps strings at ~512 MB).
 */
export async function writeFileAtomic(file: string, text: string | Iterable<string>): Promise<void> {
  const temp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    const handle = await open(temp, "wx");
    try {
      if (typeof text === "string") await handle.writeFile(text, "utf8");
      else await writePieces(handle, text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw new DpkgError("E_IO", `cannot write ${file}: ${(err as Error).message}`, { file }, { cause: err });
  }
}

/** Each writeFile on a handle goes on from where the previous one ended. */
async function writePieces(handle: FileHandle, pieces: Iterable<string>): Promise<void> {
  let chunk: string[] = [];
  let length = 0;
  for (const piece of pieces) {
    chunk.push(piece);
    length += piece.length;
    if (length >= WRITE_CHUNK) {
      await handle.writeFile(chunk.join(""), "utf8");
      chunk = [];
      length = 0;
    }
  }
  if (chunk.length > 0) await handle.writeFile(chunk.join(""), "utf8");
}

/** Writes a JSON file atomically in the stable format, unless it already holds exactly that text. */
export async function writeJsonFile(file: string, value: unknown): Promise<void> {
  const text = formatJsonFile(value);
  const current = await readFile(file, "utf8").catch(() => null);
  if (current === text) return;
  await writeFileAtomic(file, text);
}
