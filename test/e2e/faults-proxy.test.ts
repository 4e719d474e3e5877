import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFaultProxy } from "../helpers/fault-proxy.js";
import { mulberry32 } from "../helpers/seeded-random.js";

/** The proxy's own modes, against a tiny upstream: the other fault tests rely on each doing what it says. */
describe("fault proxy", () => {
  const body = Buffer.alloc(100_000, 7);
  let upstream: Server;
  let url: string;
  const uploads: number[] = [];

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      let n = 0;
      req.on("data", (c: Buffer) => (n += c.byteLength));
      req.on("end", () => {
        uploads.push(n);
        res.writeHead(200, { "content-length": body.byteLength, "x-host": req.headers.host ?? "" });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => upstream.close(() => resolve())));

  const get = async (proxy: string, init: RequestInit = {}) => {
    try {
      const res = await fetch(`${proxy}/x`, init);
      return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()), host: res.headers.get("x-host") };
    } catch (err) {
      return { error: String((err as Error).cause ?? err) };
    }
  };

  it("forwards unchanged (Host included), counts bytes, and applies each mode to the requests its rule picks", async () => {
    await using proxy = await startFaultProxy({ upstream: url });
    const clean = await get(proxy.url);
    expect(clean).toMatchObject({ status: 200, host: new URL(proxy.url).host });
    expect((clean as { bytes: Buffer }).bytes.equals(body)).toBe(true);
    expect(proxy.bytes.response).toBe(body.byteLength);

    proxy.setRules([{ fault: { kind: "status", status: 503 }, requests: [1] }]);
    expect(await get(proxy.url)).toMatchObject({ status: 503 });
    expect(await get(proxy.url)).toMatchObject({ status: 200 });

    proxy.setRules([{ fault: { kind: "drop" } }]);
    expect(await get(proxy.url)).toHaveProperty("error");

    proxy.setRules([{ fault: { kind: "truncate" } }]);
    expect(await get(proxy.url)).toHaveProperty("error");
    expect(proxy.log.at(-1)).toMatchObject({ fault: "truncate", responseBytes: body.byteLength / 2 });

    proxy.setRules([{ fault: { kind: "flip", at: 10, mask: 0xff } }]);
    const flipped = (await get(proxy.url)) as { bytes: Buffer };
    expect(flipped.bytes.length).toBe(body.byteLength);
    expect([...flipped.bytes].flatMap((b, i) => (b === 7 ? [] : [i]))).toEqual([10]);

    proxy.setRules([{ fault: { kind: "flip", direction: "request" }, method: "PUT" }]);
    expect(await get(proxy.url, { method: "PUT", body: Buffer.alloc(5000) })).toMatchObject({ status: 200 });
    expect(uploads.at(-1)).toBe(5000);

    proxy.setRules([{ fault: { kind: "truncate", direction: "request", keep: 1000 }, method: "PUT" }]);
    expect(await get(proxy.url, { method: "PUT", body: Buffer.alloc(5000) })).toHaveProperty("error");
    expect(proxy.log.at(-1)).toMatchObject({ requestBytes: 1000 });
  });

  it("draws probabilistic faults from a seeded generator and honours a limit", async () => {
    const pick = async (seed: number) => {
      await using proxy = await startFaultProxy({
        upstream: url,
        seed,
        rules: [{ fault: { kind: "status", status: 500 }, probability: 0.5, limit: 4 }],
      });
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) statuses.push(((await get(proxy.url)) as { status: number }).status);
      return statuses;
    };
    const first = await pick(42);
    expect(await pick(42)).toEqual(first);
    expect(first.filter((s) => s === 500).length).toBeLessThanOrEqual(4);
    expect(first.filter((s) => s === 500).length).toBeGreaterThan(0);
    expect(mulberry32(1)()).toBe(mulberry32(1)());
  });

  it("paces bodies and follows a new upstream", async () => {
    await using proxy = await startFaultProxy({ upstream: "http://127.0.0.1:9" });
    expect(await get(proxy.url)).toHaveProperty("error");
    proxy.setUpstream(url);
    proxy.setRules([{ fault: { kind: "slow", bytesPerSecond: 1_000_000 } }]);
    expect(await get(proxy.url)).toMatchObject({ status: 200 });
  });
});
