// A plain HTTP proxy on 127.0.0.1 in front of s3rver that counts requests and body bytes each way.
// Headers pass through untouched (Host included), so SigV4 signatures and presigned URLs made for the
// proxy's address stay valid at s3rver, which sees the same Host.
import { Agent, createServer, request } from "node:http";

export async function startCountingProxy(target) {
  const to = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const counts = { requests: 0, bytesUp: 0, bytesDown: 0, errors: 0 };
  // The slowest requests since the last reset, for the notes on what limits a case.
  let slowest = [];
  const server = createServer((req, res) => {
    counts.requests += 1;
    const started = process.hrtime.bigint();
    let up = 0;
    let down = 0;
    const upstream = request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
        answer.on("data", (c) => {
          counts.bytesDown += c.length;
          down += c.length;
        });
        answer.pipe(res);
      },
    );
    upstream.on("error", (err) => {
      counts.errors += 1;
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end(String(err));
    });
    req.on("data", (c) => {
      counts.bytesUp += c.length;
      up += c.length;
    });
    req.pipe(upstream);
    // A client that gives up (a cancelled ranged read) must not leave the upstream request hanging.
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (slowest.length < 5 || ms > slowest[slowest.length - 1].ms) {
        const path = (req.url ?? "").split("?")[0];
        slowest = [...slowest, { method: req.method, path, status: res.statusCode, up, down, ms: Math.round(ms) }]
          .sort((a, b) => b.ms - a.ms)
          .slice(0, 5);
      }
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${server.address().port}`,
    /** Counts since the last reset. */
    snapshot: () => ({ ...counts, slowest }),
    reset() {
      slowest = [];
      counts.requests = 0;
      counts.bytesUp = 0;
      counts.bytesDown = 0;
      counts.errors = 0;
    },
    close() {
      server.closeAllConnections();
      agent.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
