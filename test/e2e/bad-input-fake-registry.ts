import { canonicalJson, digestBytes, type Digest } from "@dpkg/core";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One entry as a hostile registry serves it: any path at all, bytes that do hash to the digest. */
export interface FakeEntry {
  path: string;
  bytes: Uint8Array;
}

export interface FakeRegistry {
  url: string;
  /** The revision digest it resolves every ref to. */
  digest: Digest;
  /** Requests seen, as "METHOD /path". */
  requests: string[];
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const HEADER = '{"format":"dpkg.manifest/1","meta":{}}\n';

/** Entry lines in manifest form, in UTF-8 byte order of path, without checking the paths. */
export function entryLines(entries: FakeEntry[]): string {
  return [...entries]
    .sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)))
    .map((e) => canonicalJson({ digest: digestBytes(e.bytes), path: e.path, size: e.bytes.length }) + "\n")
    .join("");
}

/**
 * A registry that lies: it serves `manifest` (default: a manifest of `entries`, paths unchecked and
 * its top hash honest), `entries` for server-side selection, and every blob's bytes through one
 * object URL. The one place a fake server is right: the real registry refuses such manifests.
 */
export async function startFakeRegistry(options: { entries: FakeEntry[]; manifestEntries?: FakeEntry[] }): Promise<FakeRegistry> {
  const manifest = Buffer.from(HEADER + entryLines(options.manifestEntries ?? options.entries));
  const digest = digestBytes(manifest);
  const blobs = new Map<Digest, Uint8Array>();
  for (const e of [...options.entries, ...(options.manifestEntries ?? [])]) blobs.set(digestBytes(e.bytes), e.bytes);
  const object = Buffer.concat([...blobs.values()]);
  const offsets = new Map<Digest, number>();
  let at = 0;
  for (const [d, b] of blobs) {
    offsets.set(d, at);
    at += b.length;
  }
  const requests: string[] = [];
  let base = "";

  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", base);
    requests.push(`${req.method} ${url.pathname}`);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const p = url.pathname;
    if (p.includes("/resolve/")) return json(res, 200, { digest, ref: decodeURIComponent(p.split("/resolve/")[1]!) });
    if (p.endsWith(`/revisions/${digest}/manifest`)) {
      res.writeHead(200, { "content-type": "application/x-dpkg-manifest+jsonl" }).end(manifest);
      return;
    }
    if (p.endsWith(`/revisions/${digest}/entries`)) {
      res.writeHead(200, { "content-type": "application/x-ndjson" }).end(entryLines(options.entries));
      return;
    }
    if (p.endsWith("/blobs/locations")) {
      const wanted = (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { digests: Digest[] }).digests;
      const known = wanted.filter((d) => blobs.has(d));
      const groups = known.map((d) => ({
        url: `${base}/object`,
        start: offsets.get(d)!,
        end: offsets.get(d)! + blobs.get(d)!.length,
        viaRegistry: true,
        blobs: [{ digest: d, size: blobs.get(d)!.length, offset: 0 }],
      }));
      return json(res, 200, { groups, unknown: wanted.filter((d) => !blobs.has(d)) });
    }
    if (p === "/object") {
      const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? "");
      const [start, end] = m === null ? [0, object.length] : [Number(m[1]), Number(m[2]) + 1];
      res.writeHead(206, { "content-type": "application/octet-stream" }).end(object.subarray(start, end));
      return;
    }
    json(res, 404, { code: "E_NOT_FOUND", message: `the fake registry has no ${req.method} ${p}`, hint: "" });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => json(res, 500, { code: "E_INTERNAL", message: String(err), hint: "" }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = (): Promise<void> => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  };
  return { url: base, digest, requests, close, [Symbol.asyncDispose]: close };
}
