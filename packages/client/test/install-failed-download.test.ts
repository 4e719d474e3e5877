import { digestBytes, isDpkgError, type PackageName } from "@dpkg/core";
import { randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { Agent } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir, type TempDir } from "../../registry-server/test/helpers/temp-dir.js";
import { ContentCache } from "../src/cache/content-cache.js";
import { install } from "../src/install.js";
import { RegistryClient } from "../src/registry-client.js";
import { readInstallState } from "../src/workspace/install-state.js";
import { file, publish, type TestFile } from "./helpers/publish.js";
import { startTestRegistryServer, type TestRegistryServer } from "./helpers/registry-server.js";

// Blobs of 64 KiB and more are stored alone, so each file is its own read and one can be made to fail.
const ALONE = 64 * 1024;
const PKG: PackageName = { namespace: "lab", name: "flaky" };
const V1 = Array.from({ length: 6 }, (_, i) => file(`part/${i}.bin`, randomBytes(ALONE + i)));
const V2 = V1.map((f, i) => (i % 2 === 0 ? file(f.path, randomBytes(ALONE + 100 + i)) : f));
const DEST = "data/lab/flaky";

let reg: TestRegistryServer;
let writer: RegistryClient;
const closing: { close(): Promise<void> }[] = [];
const temps: TempDir[] = [];

beforeAll(async () => {
  reg = await startTestRegistryServer({ largeBlobBytes: ALONE });
  writer = new RegistryClient({ url: reg.url, token: reg.token });
});
afterAll(async () => {
  await writer.close();
  await reg.close();
});
afterEach(async () => {
  for (const c of closing.splice(0)) await c.close();
  for (const t of temps.splice(0)) await t.cleanup();
});

async function tempDir(label: string): Promise<string> {
  const t = await makeTempDir(label);
  temps.push(t);
  return t.path;
}

/** A client whose reads of `dead`'s bytes go to a port nobody listens on. */
async function clientFailing(dead: TestFile): Promise<RegistryClient> {
  const { groups } = await writer.locations(PKG, [digestBytes(dead.bytes)]);
  const deadPath = new URL(groups[0]!.url).pathname;
  const agent = new Agent();
  closing.push(agent);
  const dispatcher = agent.compose((dispatch) => (opts, handler) =>
    dispatch(opts.path.split("?")[0] === deadPath ? { ...opts, origin: "http://127.0.0.1:1" } : opts, handler),
  );
  const client = new RegistryClient({ url: reg.url, token: reg.token, dispatcher, attempts: 1 });
  closing.push(client);
  return client;
}

async function files(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of await readdir(join(dir, "part")).catch(() => [])) out[`part/${name}`] = digestBytes(await readFile(join(dir, "part", name)));
  return out;
}

const digests = (fs: TestFile[]): Record<string, string> => Object.fromEntries(fs.map((f) => [f.path, digestBytes(f.bytes)]));

describe("install: a download that fails", () => {
  it("into a fresh folder installs nothing and records nothing; the next run installs all", async () => {
    await publish(writer, PKG, V1, { largeBlobBytes: ALONE });
    const ws = await tempDir("dpkg-ws");
    const cache = new ContentCache(await tempDir("dpkg-cache"));
    const err = await install({ client: await clientFailing(V1[3]!), cache, cwd: ws, spec: "lab/flaky" }).catch((e: unknown) => e);
    expect(isDpkgError(err) ? err.code : err).toBe("E_NETWORK");
    // The other blobs are in the cache, verified; none of their files was placed.
    expect(await cache.hasBlob(digestBytes(V1[0]!.bytes), V1[0]!.bytes.length)).toBe(true);
    expect(await files(join(ws, DEST))).toEqual({});
    expect(await readInstallState(ws, "lab/flaky")).toBeNull();

    const again = await install({ client: writer, cache, cwd: ws, spec: "lab/flaky" });
    expect(again.packages[0]).toMatchObject({ written: 6, fetchedBytes: V1[3]!.bytes.length });
    expect(await files(join(ws, DEST))).toEqual(digests(V1));
  });

  it("of an update leaves the installed files as they were", async () => {
    await publish(writer, PKG, V1, { largeBlobBytes: ALONE });
    const ws = await tempDir("dpkg-ws");
    const cache = new ContentCache(await tempDir("dpkg-cache"));
    await install({ client: writer, cache, cwd: ws, spec: "lab/flaky" });
    await publish(writer, PKG, V2, { largeBlobBytes: ALONE });
    const err = await install({ client: await clientFailing(V2[4]!), cache, cwd: ws, spec: "lab/flaky" }).catch((e: unknown) => e);
    expect(isDpkgError(err) ? err.code : err).toBe("E_NETWORK");
    expect(await files(join(ws, DEST))).toEqual(digests(V1));
    expect((await readInstallState(ws, "lab/flaky"))?.complete).toBe(true);
  });
});
