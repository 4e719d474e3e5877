import { compareUtf8, DpkgError, isDigest, isValidPath, pathProblem, type ManifestEntry } from "@dpkg/core";

/**
 * The entries of one page of the registry's entry list (JSON Lines), checked line by line: valid
 * UTF-8 and JSON, a valid path sorting after the one before (the list is in byte order), a digest,
 * a size. A body cut off or garbled on the way fails with E_NETWORK, which the caller retries from
 * the last entry it got, instead of surfacing a parse error or a malformed entry.
 */
export async function* entryLines(
  body: AsyncIterable<Uint8Array>,
  after: string | undefined,
): AsyncGenerator<ManifestEntry, void, undefined> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let previous = after;
  let carry = "";
  for await (const chunk of body) {
    let text: string;
    try {
      text = carry + decoder.decode(chunk, { stream: true });
    } catch (err) {
      throw garbled("is not valid UTF-8", err);
    }
    const lines = text.split("\n");
    carry = lines.pop() ?? "";
    for (const line of lines) {
      if (line === "") continue;
      const entry = parseLine(line, previous);
      previous = entry.path;
      yield entry;
    }
  }
  try {
    carry += decoder.decode(); // bytes of a character cut off at the end
  } catch (err) {
    throw garbled("ended in the middle of a character", err);
  }
  if (carry.trim() !== "") throw garbled("ended in the middle of a line");
}

function parseLine(line: string, previous: string | undefined): ManifestEntry {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw garbled("has a line that is not JSON", err);
  }
  const e = value as Partial<ManifestEntry> | null;
  if (typeof e?.path === "string" && !isValidPath(e.path)) {
    // A well-formed line naming a path no manifest may hold: the registry's answer, not a transfer
    // error, so it is refused at once rather than asked for again.
    const shown = JSON.stringify(e.path.length > 200 ? `${e.path.slice(0, 200)}...` : e.path);
    throw new DpkgError("E_BAD_PATH", `the registry's entry list names the path ${shown}, which ${pathProblem(e.path) ?? "is invalid"}; refusing the whole list`, { path: e.path }, {
      hint: "Nothing was written. The registry answered with an entry its manifests cannot hold: tell its operators.",
    });
  }
  if (
    typeof e?.path !== "string" ||
    !isValidPath(e.path) ||
    (previous !== undefined && compareUtf8(previous, e.path) >= 0) ||
    !isDigest(e.digest) ||
    !Number.isSafeInteger(e.size) ||
    (e.size ?? -1) < 0 ||
    (e.meta !== undefined && (typeof e.meta !== "object" || e.meta === null || Array.isArray(e.meta)))
  ) {
    throw garbled(`has a malformed or out-of-order entry: ${line.slice(0, 200)}`);
  }
  return e as ManifestEntry;
}

function garbled(what: string, cause?: unknown): DpkgError {
  return new DpkgError(
    "E_NETWORK",
    `the registry's entry list ${what}`,
    {},
    cause === undefined ? undefined : { cause },
  );
}
