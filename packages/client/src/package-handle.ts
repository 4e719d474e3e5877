import {
  compilePathGlobs,
  DpkgError,
  evaluateQuery,
  parseQuery,
  type Digest,
  type JsonObject,
  type ManifestEntry,
  type PackageName,
} from "@dpkg/core";
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import type { Readable } from "node:stream";
import type { ContentCache } from "./cache/content-cache.js";
import { ensureManifest, fetchBlobs } from "./fetch-blobs.js";
import type { RegistryClient } from "./registry-client.js";

/** One file of an opened package. Nothing is fetched until its bytes or its path are asked for. */
export interface PackageEntry extends ManifestEntry {
  bytes(): Promise<Uint8Array>;
  text(): Promise<string>;
  json<T = unknown>(): Promise<T>;
  stream(): Promise<Readable>;
  /** A read-only file in the per-user cache holding exactly the entry's verified bytes. */
  localPath(): Promise<string>;
}

export interface EntrySelection {
  where?: string;
  path?: string | string[];
}

/** What `open()` returns: a revision of a package, lazily. */
export interface PackageHandle {
  readonly name: string;
  readonly digest: Digest;
  /** Package metadata from the manifest header (title, description, readme, anything). */
  readonly meta: JsonObject;
  /** True when the revision came from the nearest dpkg.lock rather than from the registry. */
  readonly pinned: boolean;
  /** Selected entries, in path order: evaluated by the registry when online, else in memory from the cached manifest. */
  entries(selection?: EntrySelection): AsyncIterable<PackageEntry>;
  /** The entry at `path`; E_NOT_FOUND when the revision has none. */
  get(path: string): Promise<PackageEntry>;
}

export interface HandleContext {
  client: RegistryClient | null;
  cache: ContentCache;
  pkg: PackageName;
  digest: Digest;
  meta: JsonObject;
  pinned: boolean;
}

export function createPackageHandle(ctx: HandleContext): PackageHandle {
  const name = `${ctx.pkg.namespace}/${ctx.pkg.name}`;
  let index: Promise<Map<string, ManifestEntry>> | undefined;

  const wrap = (entry: ManifestEntry): PackageEntry => {
    const localPath = async (): Promise<string> => {
      if (!(await ctx.cache.hasBlob(entry.digest))) {
        await fetchBlobs(ctx.client, ctx.cache, ctx.pkg, [{ digest: entry.digest, size: entry.size, path: entry.path }], {
          offline: ctx.client === null,
        });
      }
      return ctx.cache.blobPath(entry.digest);
    };
    const bytes = async (): Promise<Uint8Array> => new Uint8Array(await readFile(await localPath()));
    return {
      ...entry,
      localPath,
      bytes,
      text: async () => new TextDecoder("utf-8", { fatal: true }).decode(await bytes()),
      json: async <T>() => JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(await bytes())) as T,
      stream: async () => createReadStream(await localPath()),
    };
  };

  async function* fromManifest(selection: EntrySelection): AsyncGenerator<ManifestEntry> {
    const where = selection.where === undefined || selection.where.trim() === "" ? undefined : parseQuery(selection.where);
    const globs = selection.path === undefined ? [] : Array.isArray(selection.path) ? selection.path : [selection.path];
    const match = globs.length === 0 ? undefined : compilePathGlobs(globs);
    const reader = await ensureManifest(ctx.client, ctx.cache, ctx.pkg, ctx.digest);
    for await (const e of reader.entries) {
      if (match !== undefined && !match(e.path)) continue;
      if (where !== undefined && !evaluateQuery(where, e)) continue;
      yield e;
    }
  }

  return {
    name,
    digest: ctx.digest,
    meta: ctx.meta,
    pinned: ctx.pinned,
    async *entries(selection = {}) {
      const selective = (selection.where ?? "").trim() !== "" || selection.path !== undefined;
      const source =
        selective && ctx.client !== null
          ? ctx.client.entries(ctx.pkg, ctx.digest, {
              where: selection.where,
              paths: selection.path === undefined ? undefined : Array.isArray(selection.path) ? selection.path : [selection.path],
            })
          : fromManifest(selection);
      for await (const e of source) yield wrap(e);
    },
    async get(path) {
      index ??= (async () => {
        const map = new Map<string, ManifestEntry>();
        for await (const e of fromManifest({})) map.set(e.path, e);
        return map;
      })();
      const entry = (await index).get(path);
      if (entry === undefined) {
        throw new DpkgError("E_NOT_FOUND", `${name}@${ctx.digest.slice(0, 15)} has no entry ${JSON.stringify(path)}`, { path });
      }
      return wrap(entry);
    },
  };
}
