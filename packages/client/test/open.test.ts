import { digestBytes, isDpkgError, type PackageName } from "@dpkg/core";
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir, type TempDir } from "../../registry-server/test/helpers/temp-dir.js";
import { ContentCache } from "../src/cache/content-cache.js";
import { install } from "../src/install.js";
import { open } from "../src/open.js";
import { RegistryClient } from "../src/registry-client.js";
import { file, publish, type Published } from "./helpers/publish.js";
import { startTestRegistryServer, type TestRegistryServer } from "./helpers/registry-server.js";

const PKG: PackageName = { namespace: "lab", name: "open" };
const V1 = [
  file("README.md", "# open\n"),
  file("data/a.json", '{"n":1}', { split: "train" }),
  file("data/b.json", '{"n":2}', { split: "test" }),
];
const V2 = [...V1, file("data/c.json", '{"n":3}', { split: "train" })];

let reg: TestRegistryServer;
let client: RegistryClient;
let v1: Published;
let v2: Published;
let work: TempDir;
let cacheDir: string;

beforeAll(async () => {
  reg = await startTestRegistryServer();
  client = new RegistryClient({ url: reg.url, token: reg.token });
  v1 = await publish(client, PKG, V1, { meta: { title: "Open me" } });
  work = await makeTempDir("dpkg-open");
  cacheDir = join(work.path, "cache");
  // Pin v1 in a workspace, then move latest on to v2: open() must keep reading v1 there.
  await install({ client, cache: new ContentCache(cacheDir), cwd: join(work.path), spec: "lab/open", lazy: true });
  v2 = await publish(client, PKG, V2, { meta: { title: "Open me" } });
});
afterAll(async () => {
  await client.close();
  await reg.close();
  await work.cleanup();
});

const env = () => ({ DPKG_REGISTRY: reg.url, DPKG_TOKEN: reg.token, DPKG_CACHE_DIR: cacheDir });

describe("open()", () => {
  it("reads the revision dpkg.lock pins, lazily, and verifies bytes", async () => {
    const pkg = await open("lab/open", { cwd: work.path, env: env() });
    expect(pkg.pinned).toBe(true);
    expect(pkg.digest).toBe(v1.digest);
    expect(pkg.meta).toEqual({ title: "Open me" });
    const cache = new ContentCache(cacheDir);
    const a = await pkg.get("data/a.json");
    expect(await cache.hasBlob(a.digest)).toBe(false); // nothing fetched by get()
    expect(await a.json()).toEqual({ n: 1 });
    expect(await cache.hasBlob(a.digest)).toBe(true);
    expect(digestBytes(await readFile(await a.localPath()))).toBe(a.digest);
    expect(await (await pkg.get("README.md")).text()).toBe("# open\n");
  });

  it("resolves through the registry when the package is not pinned or a ref is explicit", async () => {
    const latest = await open("lab/open@latest", { cwd: work.path, env: env() });
    expect(latest.pinned).toBe(false);
    expect(latest.digest).toBe(v2.digest);
    const byPrefix = await open(`lab/open@${v1.digest.slice(0, 20)}`, { cwd: "/", env: env() });
    expect(byPrefix.digest).toBe(v1.digest);
  });

  it("selects entries on the server online and in memory offline, with the same answer", async () => {
    const online = await open("lab/open@latest", { cwd: work.path, env: env() });
    const pick = async (p: typeof online) => {
      const out: string[] = [];
      for await (const e of p.entries({ where: "meta.split = 'train'", path: "data" })) out.push(e.path);
      return out;
    };
    expect(await pick(online)).toEqual(["data/a.json", "data/c.json"]);
    const offline = await open(`lab/open@${v2.digest}`, { cwd: work.path, env: env(), offline: true }).catch((e: unknown) => e);
    // Offline, only pinned packages can be opened (resolution needs the registry)...
    expect(isDpkgError(offline, "E_OFFLINE")).toBe(true);
    // ...and the pinned one answers from the cached manifest.
    const pinned = await open("lab/open", { cwd: work.path, env: env(), offline: true });
    const names: string[] = [];
    for await (const e of pinned.entries({ where: "meta.split = 'train'" })) names.push(e.path);
    expect(names).toEqual(["data/a.json"]);
  });

  it("names a missing entry in an E_NOT_FOUND", async () => {
    const pkg = await open("lab/open", { cwd: work.path, env: env() });
    await expect(pkg.get("nope.txt")).rejects.toMatchObject({ code: "E_NOT_FOUND", message: expect.stringContaining("nope.txt") });
  });

  it('lets code import "dpkg:lab/open" under node --import @dpkg/client/register', async () => {
    const register = fileURLToPath(new URL("../dist/register.js", import.meta.url));
    const app = join(work.path, "app.mjs");
    await writeFile(
      app,
      'import pkg from "dpkg:lab/open";\nconst e = await pkg.get("data/b.json");\nconsole.log(JSON.stringify({ digest: pkg.digest, b: await e.json() }));\n',
    );
    const child = spawn(process.execPath, ["--import", register, app], { cwd: work.path, env: { ...process.env, ...env() } });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (err += s));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code, err).toBe(0);
    expect(JSON.parse(out)).toEqual({ digest: v1.digest, b: { n: 2 } });
  });
});
