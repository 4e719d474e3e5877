import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../src/registry-client.js";
import { file, publish } from "./helpers/publish.js";
import { startTestRegistryServer, type TestRegistryServer } from "./helpers/registry-server.js";

describe.each(["fs", "s3"] as const)("smoke %s", (store) => {
  let reg: TestRegistryServer;
  beforeAll(async () => {
    reg = await startTestRegistryServer({ store });
  });
  afterAll(async () => reg.close());
  it("publishes", async () => {
    const client = new RegistryClient({ url: reg.url, token: reg.token });
    const pkg = { namespace: "lab", name: "x" };
    const p = await publish(client, pkg, [file("a.txt", "hello"), file("b/c.bin", new Uint8Array(5 * 1024 * 1024).fill(3))]);
    expect(await client.resolve(pkg, "latest")).toBe(p.digest);
    const loc = await client.locations(pkg, p.entries.map((e) => e.digest));
    expect(loc.groups.length).toBe(2);
    const ro = await reg.tokenFor([{ kind: "read", pattern: "lab" }]);
    const c2 = new RegistryClient({ url: reg.url, token: ro });
    expect(await c2.resolve(pkg, "latest")).toBe(p.digest);
    await client.close();
    await c2.close();
  });
});
