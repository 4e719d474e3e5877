import { canonicalJson, DpkgError, isJsonObject, type JsonObject } from "@dpkg/core";
import { readFile } from "node:fs/promises";

/** `dpkg push --meta FILE.json`: package metadata (title, description, readme, anything) as one JSON object. */
export async function readMetaFile(file: string): Promise<JsonObject> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new DpkgError(
      "E_IO",
      `cannot read the metadata file ${file}: ${(err as Error).message}`,
      { file },
      { cause: err },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new DpkgError("E_BAD_JSON", `${file} is not valid JSON: ${(err as Error).message}`, { file }, { cause: err });
  }
  if (!isJsonObject(value)) {
    throw new DpkgError(
      "E_BAD_JSON",
      `${file} must hold one JSON object, e.g. {"title": "...", "description": "..."}`,
      { file },
    );
  }
  canonicalJson(value, file); // refuses what a manifest cannot hold (e.g. numbers too large), naming the file
  return value;
}
