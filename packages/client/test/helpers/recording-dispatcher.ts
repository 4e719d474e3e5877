import { Agent, type Dispatcher } from "undici";

export interface RecordedRequest {
  method: string;
  path: string;
  /** The Range header, as [start, end) of the object, or null. */
  range: [number, number] | null;
  /** Whether the request carried a body. */
  body: boolean;
}

/**
 * A real undici Agent (or `base`, e.g. a MockAgent that also injects faults) that notes every
 * request it sends, so tests can assert what was (not) asked of the registry and the store: e.g.
 * that a resumed download only requested the missing ranges. `rangeHeaders` are the Range headers
 * as sent, in order.
 */
export function recordingDispatcher(base?: Dispatcher): {
  dispatcher: Dispatcher;
  requests: RecordedRequest[];
  rangeHeaders: string[];
  objectReads(): RecordedRequest[];
  close(): Promise<void>;
} {
  const agent = base ?? new Agent();
  const requests: RecordedRequest[] = [];
  const rangeHeaders: string[] = [];
  const dispatcher = agent.compose((dispatch) => (opts, handler) => {
    const headers = (opts.headers ?? {}) as Record<string, string | undefined>;
    if (headers.range !== undefined) rangeHeaders.push(headers.range);
    const m = /^bytes=(\d+)-(\d+)$/.exec(headers.range ?? "");
    requests.push({ method: opts.method, path: opts.path, range: m === null ? null : [Number(m[1]), Number(m[2]) + 1], body: opts.body != null });
    return dispatch(opts, handler);
  });
  return {
    dispatcher,
    requests,
    rangeHeaders,
    // Reads of blob bytes: signed registry object URLs or presigned store URLs (never the API).
    objectReads: () => requests.filter((r) => r.range !== null),
    // A base given is the caller's to close.
    close: () => (base === undefined ? agent.close() : Promise.resolve()),
  };
}
