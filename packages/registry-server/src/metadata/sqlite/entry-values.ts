import type Database from "better-sqlite3";
import type { JsonObject, ManifestEntry } from "@dpkg/core";
import { sql } from "./rows.js";
import { booleanKey, indexedText, metaKey, SIZE_KEY, type ValueKeys } from "./value-keys.js";

/** Ids of the names under one meta key path, and the paths below it; built as keys are met. */
interface KeyNode {
  keys: string[];
  meta?: number;
  bool?: number;
  children: Map<string, KeyNode>;
}

/** Beyond this many key paths the tree starts afresh (manifests whose every entry has new keys). */
const MAX_KEY_NODES = 100_000;

/**
 * Turns entries into entry_values rows (see migrations.ts) for one staging batch at a time: the
 * size, and every scalar reachable through objects in the meta, exactly what a `meta.a.b` operand
 * addresses (members of arrays are not addressable). Key ids are kept in a tree of key paths, so
 * naming a key costs a map lookup per level once it has been seen.
 */
export class EntryValues {
  #root: KeyNode = { keys: [], children: new Map() };
  #nodes = 0;
  #size: number | undefined;
  /** The rows as JSON text, `[key,value,ord],` each: no array per row, one JSON parse in SQLite. */
  #rows = "";

  constructor(private readonly keys: ValueKeys) {}

  add(entry: ManifestEntry, ord: number): void {
    this.#size ??= this.keys.ensure(SIZE_KEY);
    this.#rows += `[${this.#size},${entry.size},${ord}],`;
    if (entry.meta !== undefined) this.#addObject(entry.meta, this.#root, ord);
  }

  #addObject(object: JsonObject, parent: KeyNode, ord: number): void {
    for (const key in object) {
      if (!Object.hasOwn(object, key)) continue;
      const value = object[key];
      if (value === null || value === undefined) continue;
      if (typeof value === "object") {
        if (!Array.isArray(value)) this.#addObject(value, this.#child(parent, key), ord);
      } else if (typeof value === "boolean") {
        const node = this.#child(parent, key);
        node.bool ??= this.keys.ensure(booleanKey(node.keys));
        this.#rows += `[${node.bool},${value ? 1 : 0},${ord}],`;
      } else {
        const node = this.#child(parent, key);
        node.meta ??= this.keys.ensure(metaKey(node.keys));
        const stored = typeof value === "string" ? JSON.stringify(indexedText(value)) : numberJson(value);
        this.#rows += `[${node.meta},${stored},${ord}],`;
      }
    }
  }

  #child(parent: KeyNode, key: string): KeyNode {
    let node = parent.children.get(key);
    if (node === undefined) {
      if (++this.#nodes > MAX_KEY_NODES) {
        this.#root = { keys: [], children: new Map() };
        this.#nodes = 1;
        // The parent may be a node of the old tree; it stays valid, only no longer shared.
      }
      node = { keys: [...parent.keys, key], children: new Map() };
      parent.children.set(key, node);
    }
    return node;
  }

  /**
   * Writes the rows added since the last write as block `block` of the manifest, in one statement
   * inside the batch's transaction. Integral numbers arrive as JSON integers and are stored as
   * SQLite integers, which compare with doubles exactly (a bound JavaScript number would always
   * become an 8-byte REAL); JSON's shortest round-trip form parses back to the very same double.
   */
  write(db: Database.Database, manifestId: number, block: number): void {
    if (this.#rows === "") return;
    const rows = `[${this.#rows.slice(0, -1)}]`;
    this.#rows = "";
    sql<[number, number, string]>(
      db,
      `INSERT INTO entry_values (manifest_id, block, key_id, value, ord)
       SELECT ?, ?, j.value ->> 0, j.value ->> 1, j.value ->> 2 FROM json_each(?) j`,
    ).run(manifestId, block, rows);
  }
}

/**
 * A number as JSON that SQLite reads back as the same double. An integer beyond 2^53 written as
 * digits would be read as a 64-bit integer, the exact decimal, which differs from the double it
 * stands for (74768102839268600 is the double 74768102839268608); in exponent form it is a REAL.
 */
export function numberJson(value: number): string {
  return Number.isInteger(value) && !Number.isSafeInteger(value) ? value.toExponential() : JSON.stringify(value);
}

/** Deletes a manifest's entry_values, one block per call; false when none were left. */
export function deleteValueBlock(db: Database.Database, manifestId: number): boolean {
  const block = sql<[number], number | null>(db, "SELECT min(block) FROM entry_values WHERE manifest_id = ?")
    .pluck()
    .get(manifestId);
  if (block === null || block === undefined) return false;
  sql<[number, number]>(db, "DELETE FROM entry_values WHERE manifest_id = ? AND block = ?").run(manifestId, block);
  return true;
}
