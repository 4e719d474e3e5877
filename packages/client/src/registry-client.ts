import {
  CONTENT_TYPES,
  DpkgError,
  isErrorCode,
  MAX_DIGESTS_PER_CALL,
  type api,
  type ApiSchemaName,
  type Digest,
  type ManifestEntry,
  type PackageName,
} from "@dpkg/core";
import type { Dispatcher } from "undici";
import { Readable } from "node:stream";
import { entryLines } from "./fetch/entry-lines.js";
import { asDpkgError, backoff, isTransient } from "./fetch/transient.js";

export interface RegistryClientOptions {
  /** e.g. http://127.0.0.1:7777 */
  url: string;
  token?: string;
  /** Connections per origin (registry and object store each). */
  connections?: number;
  /** Attempts for idempotent requests on network errors and 502/503/504 (default 4). */
  attempts?: number;
  /** A dispatcher to use instead of the client's own (tests inject faults with it). */
  dispatcher?: Dispatcher;
}

type Body = string | Uint8Array | Readable | null;

interface Call {
  method: "GET" | "POST" | "PUT" | "DELETE";
  path: string;
  query?: Record<string, string | string[] | undefined>;
  json?: unknown;
  /** A streaming body; a factory, so that a retried call can make it again. */
  body?: () => Body;
  contentType?: string;
  headers?: Record<string, string>;
  /** Safe to send again after a network error or a 502/503/504. */
  idempotent: boolean;
}

/**
 * Answers worth sending an idempotent request again for: a gateway or store that is down or
 * overloaded, and 500, which a proxy or an object store answers for faults that pass (the
 * registry's own 500s come back the same after a few quick attempts, with their request id).
 */
const RETRY_STATUSES = new Set([500, 502, 503, 504]);

/**
 * The registry's HTTP API as typed calls. Every non-2xx answer becomes the DpkgError the server
 * described (same code, message, hint), so callers handle one error type whatever the transport.
 * Tokens go only to the registry's own origin, never to presigned object-store URLs.
 */
export class RegistryClient {
  readonly url: string;
  private readonly origin: string;
  private readonly basePath: string;
  private readonly token: string | undefined;
  private dispatcher: Promise<Dispatcher> | undefined;
  private readonly ownsDispatcher: boolean;
  private readonly connections: number;
  private readonly attempts: number;

  constructor(options: RegistryClientOptions) {
    let parsed: URL;
    try {
      parsed = new URL(options.url);
    } catch {
      throw new DpkgError("E_USAGE", `registry URL ${JSON.stringify(options.url)} is not a URL`, {}, { hint: "Pass e.g. --registry http://127.0.0.1:7777" });
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new DpkgError("E_USAGE", `registry URL ${JSON.stringify(options.url)} must be http or https`);
    }
    this.url = options.url.replace(/\/+$/, "");
    this.origin = parsed.origin;
    this.basePath = parsed.pathname.replace(/\/+$/, "");
    this.token = options.token;
    this.attempts = Math.max(1, options.attempts ?? 4);
    this.ownsDispatcher = options.dispatcher === undefined;
    this.dispatcher = options.dispatcher === undefined ? undefined : Promise.resolve(options.dispatcher);
    this.connections = options.connections ?? 16;
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher && this.dispatcher !== undefined) await (await this.dispatcher).close();
  }

  /**
   * The connection pool, made (and undici loaded) on the first request: commands that never reach the
   * registry (a no-op install, verify, the cache commands) do not pay the ~35 ms of loading undici.
   */
  private pool(): Promise<Dispatcher> {
    // `.default` is undici's module.exports, both under Node and in the CLI bundle's chunk for it
    // (which cannot know a CommonJS module's named exports).
    this.dispatcher ??= import("undici").then(({ default: { Agent } }) => new Agent({ connections: this.connections, keepAliveTimeout: 10_000 }));
    return this.dispatcher;
  }

  // --- reads -------------------------------------------------------------------------------
  health(): Promise<api.HealthResponse> {
    return this.json({ method: "GET", path: "/v1/health", idempotent: true }, "HealthResponse");
  }

  whoami(): Promise<api.WhoamiResponse> {
    return this.json({ method: "GET", path: "/v1/whoami", idempotent: true }, "WhoamiResponse");
  }

  packageInfo(pkg: PackageName): Promise<api.PackageInfo> {
    return this.json({ method: "GET", path: pkgPath(pkg), idempotent: true }, "PackageInfo");
  }

  async log(pkg: PackageName, options: { limit?: number; before?: string } = {}): Promise<api.Revision[]> {
    const res = await this.json<api.LogResponse>({
      method: "GET",
      path: `${pkgPath(pkg)}/revisions`,
      query: { limit: options.limit?.toString(), before: options.before },
      idempotent: true,
    }, "LogResponse");
    return res.revisions;
  }

  /** A tag or digest prefix of this package → the revision's full digest. */
  async resolve(pkg: PackageName, ref: string): Promise<Digest> {
    const res = await this.json<api.ResolveResponse>({
      method: "GET",
      path: `${pkgPath(pkg)}/resolve/${encodeURIComponent(ref)}`,
      idempotent: true,
    }, "ResolveResponse");
    return res.digest as Digest;
  }

  /** The canonical manifest bytes, streamed (verify them against the digest before trusting them). */
  manifest(pkg: PackageName, digest: Digest): Promise<AsyncIterable<Uint8Array>> {
    return this.stream({ method: "GET", path: `${pkgPath(pkg)}/revisions/${digest}/manifest`, idempotent: true });
  }

  /**
   * Entries selected on the server, in path order, following pages until the end. A page cut off
   * or garbled on the way is asked for again from the entry after the last one yielded.
   */
  async *entries(
    pkg: PackageName,
    digest: Digest,
    selection: { where?: string; paths?: string[]; pageSize?: number } = {},
  ): AsyncGenerator<ManifestEntry, void, undefined> {
    const pageSize = selection.pageSize ?? 100_000;
    let after: string | undefined;
    let failures = 0;
    for (;;) {
      const body = await this.stream({
        method: "GET",
        path: `${pkgPath(pkg)}/revisions/${digest}/entries`,
        query: { where: selection.where, path: selection.paths, limit: String(pageSize), after },
        idempotent: true,
      });
      const lines = entryLines(body, after);
      let count = 0;
      let cut = false;
      try {
        for (;;) {
          let step: IteratorResult<ManifestEntry, void>;
          try {
            step = await lines.next();
          } catch (err) {
            if (!isTransient(err) || ++failures >= this.attempts) throw asDpkgError(err, `reading the entry list of ${pkg.namespace}/${pkg.name}`);
            cut = true;
            break;
          }
          if (step.done === true) break;
          count += 1;
          after = step.value.path;
          yield step.value;
        }
      } finally {
        // A consumer that stops early leaves the page's body open otherwise.
        await lines.return(undefined);
      }
      if (cut) {
        await backoff(failures);
        continue;
      }
      if (count < pageSize) return;
    }
  }

  tags(pkg: PackageName): Promise<Record<string, Digest>> {
    return this.json<{ tags: Record<string, Digest> }>({ method: "GET", path: `${pkgPath(pkg)}/tags`, idempotent: true }, "TagsResponse").then(
      (r) => r.tags,
    );
  }

  async tagHistory(pkg: PackageName, tag?: string): Promise<api.TagMove[]> {
    const res = await this.json<{ moves: api.TagMove[] }>({
      method: "GET",
      path: `${pkgPath(pkg)}/tag-history`,
      query: { tag },
      idempotent: true,
    }, "TagHistoryResponse");
    return res.moves;
  }

  async search(text: string, limit = 20): Promise<api.SearchResponse["hits"]> {
    const res = await this.json<api.SearchResponse>(
      { method: "GET", path: "/v1/search", query: { q: text, limit: String(limit) }, idempotent: true },
      "SearchResponse",
    );
    return res.hits;
  }

  /** Signed ranged locations of blobs this package references; batched. */
  async locations(pkg: PackageName, digests: Digest[]): Promise<api.LocationsResponse> {
    const out: api.LocationsResponse = { groups: [], unknown: [] };
    for (const batch of batches(digests, MAX_DIGESTS_PER_CALL)) {
      const res = await this.json<api.LocationsResponse>({
        method: "POST",
        path: `${pkgPath(pkg)}/blobs/locations`,
        json: { digests: batch },
        idempotent: true,
      }, "LocationsResponse");
      out.groups.push(...res.groups);
      out.unknown.push(...res.unknown);
    }
    return out;
  }

  /**
   * Bytes of a location group (or a sub-range of it, for resumed or split reads). The registry's
   * own signed URLs and presigned object-store URLs both carry their authority in the URL; no token.
   */
  async readRange(url: string, start: number, end: number): Promise<AsyncIterable<Uint8Array>> {
    const u = new URL(url);
    const res = await this.dispatch(
      { method: "GET", origin: u.origin, path: u.pathname + u.search, headers: { range: `bytes=${start}-${end - 1}` } },
      true,
      (r) => (r.statusCode === 206 || r.statusCode === 200 ? Promise.resolve({ value: r }) : rejected(r)),
    );
    return res.body;
  }

  // --- writes ------------------------------------------------------------------------------
  async missing(pkg: PackageName, digests: Digest[]): Promise<Digest[]> {
    const out: Digest[] = [];
    for (const batch of batches(digests, MAX_DIGESTS_PER_CALL)) {
      const res = await this.json<api.MissingResponse>({
        method: "POST",
        path: `${pkgPath(pkg)}/blobs/missing`,
        json: { digests: batch },
        idempotent: true,
      }, "MissingResponse");
      out.push(...(res.missing as Digest[]));
    }
    return out;
  }

  uploadPack(pkg: PackageName, tar: () => Readable): Promise<api.UploadResponse> {
    return this.json({
      method: "PUT",
      path: `${pkgPath(pkg)}/blobs/pack`,
      body: tar,
      contentType: CONTENT_TYPES.tar,
      idempotent: true, // uploads are content-addressed: sending the same bytes twice is harmless
    }, "UploadResponse");
  }

  uploadBlob(pkg: PackageName, digest: Digest, size: number, body: () => Readable): Promise<api.UploadResponse> {
    return this.json({
      method: "PUT",
      path: `${pkgPath(pkg)}/blobs/${digest}`,
      body,
      contentType: CONTENT_TYPES.blob,
      headers: { "content-length": String(size) },
      idempotent: true,
    }, "UploadResponse");
  }

  /**
   * Stages a manifest ahead of its commit: the registry checks, indexes and stores it, and nothing is
   * visible until `commit(pkg, digest, null)` commits it by digest.
   */
  stageManifest(pkg: PackageName, digest: Digest, manifest: () => Readable): Promise<api.StageResponse> {
    return this.json({
      method: "PUT",
      path: `${pkgPath(pkg)}/manifests/${digest}`,
      body: manifest,
      contentType: CONTENT_TYPES.manifest,
      idempotent: true, // staging the same bytes again changes nothing
    }, "StageResponse");
  }

  /** Commits the manifest sent as the body, or (`manifest` null) the one staged under `digest` (else E_NOT_STAGED). */
  commit(
    pkg: PackageName,
    digest: Digest,
    manifest: (() => Readable) | null,
    options: { message?: string; tags?: string[]; expectParent?: Digest | "none"; noLatest?: boolean } = {},
  ): Promise<api.CommitResponse> {
    return this.json({
      method: "POST",
      path: `${pkgPath(pkg)}/revisions`,
      query: {
        digest,
        message: options.message,
        tag: options.tags,
        expectParent: options.expectParent,
        noLatest: options.noLatest ? "true" : undefined,
      },
      ...(manifest === null ? {} : { body: manifest, contentType: CONTENT_TYPES.manifest }),
      // A commit that reached the server and is sent again either finds its revision unchanged or,
      // with --expect-parent, conflicts; it never records twice.
      idempotent: true,
    }, "CommitResponse");
  }

  setTag(pkg: PackageName, tag: string, target: Digest): Promise<api.TagMove> {
    return this.json({ method: "PUT", path: `${pkgPath(pkg)}/tags/${encodeURIComponent(tag)}`, json: { target }, idempotent: true }, "TagMove");
  }

  deleteTag(pkg: PackageName, tag: string): Promise<api.TagMove> {
    return this.json({ method: "DELETE", path: `${pkgPath(pkg)}/tags/${encodeURIComponent(tag)}`, idempotent: false }, "TagMove");
  }

  // --- transport ---------------------------------------------------------------------------
  /**
   * A JSON answer, read whole inside the retry loop and checked against its schema (`answer`): a
   * body cut off or garbled on the way (a dropped connection, a faulty proxy) is sent again when
   * the call is idempotent, and is E_NETWORK when it stays unreadable; never a bare parse error or
   * a missing property further on.
   */
  private json<T>(call: Call, answer: ApiSchemaName): Promise<T> {
    return this.send(call, async (res) => {
      if (res.statusCode < 200 || res.statusCode >= 300) return rejected(res);
      let text: string;
      try {
        text = await res.body.text();
      } catch (err) {
        return { retry: unreadable(call, "its body was cut off", err) };
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        return { retry: unreadable(call, "its body is not valid JSON", err) };
      }
      // Loaded with the first answer (it brings typebox and the schemas), not at the CLI's start.
      const { matchesApi } = await import("@dpkg/core/api-check");
      if (!matchesApi(answer, value)) return { retry: unreadable(call, "it does not match the API") };
      return { value: value as T };
    });
  }

  private stream(call: Call): Promise<AsyncIterable<Uint8Array>> {
    return this.send(call, (res) => (res.statusCode >= 200 && res.statusCode < 300 ? Promise.resolve({ value: res.body }) : rejected(res)));
  }

  private send<T>(call: Call, accept: Accept<T>): Promise<T> {
    const headers: Record<string, string> = { ...call.headers };
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    let body: () => Body = () => null;
    if (call.json !== undefined) {
      const text = JSON.stringify(call.json);
      headers["content-type"] = "application/json";
      body = () => text;
    } else if (call.body !== undefined) {
      headers["content-type"] = call.contentType ?? "application/octet-stream";
      body = call.body;
    }
    return this.dispatch(
      { method: call.method, origin: this.origin, path: this.basePath + call.path + queryString(call.query), headers, body },
      call.idempotent,
      accept,
    );
  }

  /**
   * Sends a request, and for idempotent ones sends it again (with backoff) after a network error
   * or an answer `accept` asks to retry; the last such error is thrown when attempts run out.
   */
  private async dispatch<T>(
    options: { method: Call["method"]; origin: string; path: string; headers: Record<string, string>; body?: () => Body },
    idempotent: boolean,
    accept: Accept<T>,
  ): Promise<T> {
    let lastError: unknown;
    const attempts = idempotent ? this.attempts : 1;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) await sleep(Math.min(2000, 100 * 2 ** (attempt - 2)) * (0.5 + Math.random()));
      let res: Dispatcher.ResponseData;
      try {
        res = await (await this.pool()).request({
          method: options.method,
          origin: options.origin,
          path: options.path,
          headers: options.headers,
          body: options.body?.() ?? null,
        });
      } catch (err) {
        lastError = err;
        if (!isNetworkError(err)) break;
        continue;
      }
      const accepted = await accept(res);
      if ("value" in accepted) return accepted.value;
      lastError = accepted.retry;
    }
    if (lastError instanceof DpkgError) throw lastError;
    throw new DpkgError("E_NETWORK", `cannot reach ${options.origin}: ${describe(lastError)}`, { origin: options.origin }, { cause: lastError });
  }
}

/** What to make of an answer: its value, an error worth another attempt, or (thrown) a final error. */
type Accept<T> = (res: Dispatcher.ResponseData) => Promise<{ value: T } | { retry: DpkgError }>;

/** A non-2xx answer as the DpkgError it describes: retried when its status may pass, thrown otherwise. */
async function rejected(res: Dispatcher.ResponseData): Promise<{ retry: DpkgError }> {
  const error = await toError(res);
  if (RETRY_STATUSES.has(res.statusCode)) return { retry: error };
  throw error;
}

function unreadable(call: Call, what: string, cause?: unknown): DpkgError {
  const options = cause === undefined ? undefined : { cause };
  return new DpkgError("E_NETWORK", `the answer to ${call.method} ${call.path} could not be read: ${what}`, { path: call.path }, options);
}

function pkgPath(pkg: PackageName): string {
  return `/v1/packages/${pkg.namespace}/${pkg.name}`;
}

function queryString(query: Call["query"]): string {
  if (query === undefined) return "";
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    for (const item of Array.isArray(v) ? v : [v]) params.append(k, item);
  }
  const s = params.toString();
  return s === "" ? "" : `?${s}`;
}

function* batches<T>(items: T[], size: number): Generator<T[]> {
  if (items.length === 0) return;
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

async function toError(res: Dispatcher.ResponseData): Promise<DpkgError> {
  const text = await res.body.text().catch(() => "");
  try {
    const body = JSON.parse(text) as Partial<api.ErrorBody>;
    if (isErrorCode(body.code) && typeof body.message === "string") {
      return new DpkgError(body.code, body.message, { ...(body.details ?? {}), status: res.statusCode, requestId: body.requestId }, {
        hint: body.hint,
      });
    }
  } catch {
    // not one of our error bodies: an object store or a proxy answered
  }
  const code = res.statusCode === 404 ? "E_NOT_FOUND" : res.statusCode === 403 ? "E_FORBIDDEN" : res.statusCode >= 500 ? "E_UNAVAILABLE" : "E_BAD_REQUEST";
  return new DpkgError(code, `HTTP ${res.statusCode}: ${text.slice(0, 200).replace(/\s+/g, " ")}`, { status: res.statusCode });
}

function isNetworkError(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? "";
  return code.startsWith("UND_ERR") || ["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN"].includes(code);
}

function describe(err: unknown): string {
  if (err instanceof Error) return (err as Error & { code?: string }).code ?? err.message;
  return String(err);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
