import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { createPacer } from "./pacer.js";
import { mulberry32 } from "./seeded-random.js";
import { sleep } from "./wait.js";

/**
 * What the proxy does to one request:
 * - `drop`: closes the client's connection without an answer (the request never reaches upstream);
 * - `delay`: waits `ms` before forwarding;
 * - `slow`: forwards, pacing this request's bodies (both ways, or one `direction`) to `bytesPerSecond`
 *   once the first `after` bytes (default 0) went through at full speed;
 * - `status`: answers `status` itself (500, 503, …) without asking upstream;
 * - `truncate`: forwards, then cuts the response body (or, `direction: "request"`, the upload) after
 *   `keep` bytes (default: half the declared length, else 16 bytes) and closes the connection;
 * - `flip`: forwards, with one byte of the response body (or the upload) XORed with `mask` (default 0x01)
 *   at `at` (default: a seeded random offset within the declared length, else the first byte).
 */
export type Fault =
  | { kind: "drop" }
  | { kind: "delay"; ms: number }
  | { kind: "slow"; bytesPerSecond: number; direction?: Direction; after?: number }
  | { kind: "status"; status: number }
  | { kind: "truncate"; direction?: Direction; keep?: number }
  | { kind: "flip"; direction?: Direction; at?: number; mask?: number };

export type Direction = "request" | "response";
type BodyFault = Extract<Fault, { kind: "slow" | "truncate" | "flip" }>;

/** Which requests get a fault: those matching `method` and `path`, then by count or by chance. */
export interface FaultRule {
  fault: Fault;
  method?: string;
  /** Tested against the request's path and query. */
  path?: RegExp;
  /** 1-based positions among the requests this rule matches; every match when absent (and no `probability`). */
  requests?: readonly number[];
  /** Chance per matching request, drawn from the proxy's seeded generator. */
  probability?: number;
  /** At most this many faults from this rule. */
  limit?: number;
}

export interface ProxyRequestLog {
  n: number;
  method: string;
  path: string;
  fault: Fault["kind"] | null;
  status?: number;
  /** Body bytes forwarded upstream (after any fault). */
  requestBytes: number;
  /** Body bytes sent back to the client (after any fault). */
  responseBytes: number;
  /** When the request arrived (ms since the proxy started) and how long until it was done with. */
  at: number;
  ms?: number;
}

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`: point clients (or `--s3-endpoint`) here. */
  readonly url: string;
  /**
   * Replaces the rules; counts per rule restart, and `seed` restarts the generator. Every rule that
   * matches a request counts it; the first of them that fires (by count and chance) applies.
   */
  setRules(rules: readonly FaultRule[], options?: { seed?: number }): void;
  /** Upload and download bodies are paced to about this many bytes per second in total; null: full speed. */
  setRate(bytesPerSecond: number | null): void;
  /** Sends what follows to another upstream (a restarted server on a new port). */
  setUpstream(url: string): void;
  /** Body bytes forwarded upstream and sent back, over all requests so far. */
  readonly bytes: { request: number; response: number };
  /** Every request so far, in arrival order. */
  readonly log: readonly ProxyRequestLog[];
  /** Zeroes the byte counters and the log. */
  reset(): void;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "expect",
]);
const PIECE = 16 * 1024;

/**
 * An HTTP/1.1 proxy for fault tests, between a client and the registry or between the registry and
 * S3. It forwards the Host header unchanged, so URLs the registry builds from it and S3 signatures
 * stay valid. Faults are chosen per request by rules, by position or with a seeded generator, and
 * can be changed while requests are in flight.
 */
export async function startFaultProxy(options: {
  upstream: string;
  seed?: number;
  rules?: readonly FaultRule[];
}): Promise<FaultProxy> {
  const started = Date.now();
  let upstream = new URL(options.upstream);
  let rules: { rule: FaultRule; seen: number; applied: number }[] = [];
  let random = mulberry32(options.seed ?? 1);
  const pacer = createPacer();
  const bytes = { request: 0, response: 0 };
  let log: ProxyRequestLog[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const sockets = new Set<Socket>();

  const setRules = (next: readonly FaultRule[], opts: { seed?: number } = {}): void => {
    rules = next.map((rule) => ({ rule, seen: 0, applied: 0 }));
    if (opts.seed !== undefined) random = mulberry32(opts.seed);
  };
  setRules(options.rules ?? []);

  const choose = (method: string, path: string): Fault | null => {
    let chosen: Fault | null = null;
    for (const r of rules) {
      if (r.rule.method !== undefined && r.rule.method !== method) continue;
      if (r.rule.path !== undefined && !r.rule.path.test(path)) continue;
      r.seen += 1;
      if (chosen !== null) continue;
      if (r.rule.limit !== undefined && r.applied >= r.rule.limit) continue;
      const byCount = r.rule.requests === undefined || r.rule.requests.includes(r.seen);
      const byChance = r.rule.probability === undefined || random() < r.rule.probability;
      if (!byCount || !byChance) continue;
      r.applied += 1;
      chosen = r.rule.fault;
    }
    return chosen;
  };

  const server = createServer((req, res) => {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const fault = choose(method, path);
    const entry: ProxyRequestLog = {
      n: log.length + 1,
      method,
      path,
      fault: fault?.kind ?? null,
      requestBytes: 0,
      responseBytes: 0,
      at: Date.now() - started,
    };
    log.push(entry);
    handle(req, res, fault, entry)
      .catch(() => {
        req.socket.destroy();
      })
      .finally(() => (entry.ms = Date.now() - started - entry.at));
  });
  // Answer `Expect: 100-continue` here; the header is hop-by-hop for this proxy and not forwarded.
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
    res.writeContinue();
    server.emit("request", req, res);
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });

  async function handle(
    req: IncomingMessage,
    res: ServerResponse,
    fault: Fault | null,
    entry: ProxyRequestLog,
  ): Promise<void> {
    if (fault?.kind === "drop") {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === "status") {
      req.resume();
      entry.status = fault.status;
      const body = `fault-proxy: injected HTTP ${fault.status}\n`;
      res.writeHead(fault.status, {
        "content-type": "text/plain",
        "content-length": Buffer.byteLength(body),
        connection: "close",
      });
      res.end(body);
      return;
    }
    if (fault?.kind === "delay") await sleep(fault.ms);

    const target = upstream;
    const upReq = httpRequest({
      agent,
      host: target.hostname,
      port: target.port,
      method: entry.method,
      path: entry.path,
      headers: forwardHeaders(req.headers),
    });
    // Errors after the answer (upstream killed mid-body) end the pumps; they must not crash the proxy.
    upReq.on("error", () => undefined);
    res.on("error", () => undefined);
    const applies = (direction: Direction): BodyFault | null =>
      fault === null ||
      fault.kind === "delay" ||
      (fault.direction ?? (fault.kind === "slow" ? direction : "response")) !== direction
        ? null
        : fault;
    const requestFault = applies("request");
    const responseFault = applies("response");

    const answered = new Promise<IncomingMessage>((resolve, reject) => {
      upReq.once("response", resolve);
      upReq.once("error", reject);
    });
    const uploading = pump(
      req,
      declaredLength(req.headers),
      requestFault,
      (n) => {
        entry.requestBytes += n;
        bytes.request += n;
      },
      (chunk) => write(upReq, chunk),
    ).then(
      (complete) => {
        if (complete) upReq.end();
        else {
          upReq.destroy();
          req.socket.destroy();
        }
      },
      () => upReq.destroy(),
    );

    let upRes: IncomingMessage;
    try {
      upRes = await answered;
    } catch {
      // Upstream refused or dropped the connection: so does the proxy.
      req.socket.destroy();
      return;
    }
    entry.status = upRes.statusCode;
    res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, forwardHeaders(upRes.headers));
    const complete = await pump(
      upRes,
      declaredLength(upRes.headers),
      responseFault,
      (n) => {
        entry.responseBytes += n;
        bytes.response += n;
      },
      (chunk) => write(res, chunk),
    ).catch(() => false);
    if (complete) res.end();
    else {
      upRes.destroy();
      res.destroy();
    }
    await uploading;
  }

  /** Copies a body chunk by chunk through the pacer and the fault; false when it was cut short. */
  async function pump(
    source: IncomingMessage,
    length: number | undefined,
    fault: BodyFault | null,
    count: (n: number) => void,
    sink: (chunk: Buffer) => Promise<void>,
  ): Promise<boolean> {
    const flip =
      fault?.kind === "flip"
        ? {
            at: fault.at ?? (length !== undefined && length > 0 ? Math.floor(random() * length) : 0),
            mask: fault.mask ?? 0x01,
          }
        : { at: -1, mask: 0 };
    const keep =
      fault?.kind === "truncate" ? (fault.keep ?? (length !== undefined ? Math.floor(length / 2) : 16)) : Infinity;
    const slow = fault?.kind === "slow" ? { pacer: createPacer(fault.bytesPerSecond), after: fault.after ?? 0 } : null;
    let offset = 0;
    for await (const chunk of source as AsyncIterable<Buffer>) {
      for (let i = 0; i < chunk.byteLength; i += PIECE) {
        let piece = chunk.subarray(i, i + PIECE);
        if (offset + piece.byteLength > keep) piece = piece.subarray(0, keep - offset);
        if (flip.at >= offset && flip.at < offset + piece.byteLength) {
          piece = Buffer.from(piece);
          piece[flip.at - offset] = piece[flip.at - offset]! ^ flip.mask;
        }
        if (slow !== null && offset + piece.byteLength > slow.after) await slow.pacer.take(piece.byteLength);
        else await pacer.take(piece.byteLength);
        if (piece.byteLength > 0) await sink(piece);
        offset += piece.byteLength;
        count(piece.byteLength);
        if (offset >= keep) {
          source.destroy();
          return false;
        }
      }
    }
    return true;
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = async (): Promise<void> => {
    for (const s of sockets) s.destroy();
    agent.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    url,
    setRules,
    setRate: (rate) => pacer.setRate(rate),
    setUpstream(next) {
      upstream = new URL(next);
      // Kept-alive sockets point at the old upstream.
      agent.destroy();
    },
    bytes,
    get log() {
      return log;
    },
    reset() {
      bytes.request = 0;
      bytes.response = 0;
      log = [];
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

function forwardHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

function declaredLength(headers: IncomingHttpHeaders): number | undefined {
  const v = headers["content-length"];
  return v === undefined ? undefined : Number(v);
}

/** Writes with backpressure; rejects when the stream fails or closes before it drains. */
function write(stream: NodeJS.WritableStream & { destroyed?: boolean }, chunk: Buffer): Promise<void> {
  if (stream.destroyed === true) return Promise.reject(new Error("closed"));
  return new Promise((resolve, reject) => {
    const closed = (): void => reject(new Error("closed"));
    const ok = stream.write(chunk, (err) => (err ? reject(err) : undefined));
    if (ok) return resolve();
    stream.once("close", closed);
    stream.once("drain", () => {
      stream.off("close", closed);
      resolve();
    });
  });
}
