import { stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir, type TempDir } from "../../registry-server/test/helpers/temp-dir.js";
import { login, logout, pickToken, whoami } from "../src/ops/login.js";
import { readMetaFile } from "../src/ops/read-meta-file.js";
import { RegistryClient } from "../src/registry-client.js";
import { startTestRegistryServer, type TestRegistryServer } from "./helpers/registry-server.js";

describe("login, logout, whoami and token choice", () => {
  let registry: TestRegistryServer;
  let tmp: TempDir;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    registry = await startTestRegistryServer();
    tmp = await makeTempDir("dpkg-ops-login");
    env = { HOME: tmp.path, XDG_CONFIG_HOME: join(tmp.path, "config") };
  });
  afterAll(async () => {
    await registry.close();
    await tmp.cleanup();
  });

  it("checks a token before saving it, and picks flag, then env, then the saved token", async () => {
    await expect(login({ registry: registry.url, token: "dpkg_wrong", env })).rejects.toMatchObject({
      code: "E_UNAUTHORIZED",
    });
    await expect(stat(join(tmp.path, "config", "dpkg", "credentials.json"))).rejects.toThrow();
    const token = await registry.tokenFor([{ kind: "read", pattern: "lab" }]);
    expect(await login({ registry: `${registry.url}/`, token: ` ${token}\n`, env })).toEqual({
      registry: registry.url,
      name: "test",
      scopes: [{ kind: "read", pattern: "lab" }],
    });

    expect(await pickToken({ registry: registry.url, env })).toEqual({ token, source: "saved" });
    expect(await pickToken({ registry: registry.url, env: { ...env, DPKG_TOKEN: "t-env" } })).toEqual({
      token: "t-env",
      source: "env",
    });
    expect(await pickToken({ registry: registry.url, flag: "t-flag", env: { ...env, DPKG_TOKEN: "t-env" } })).toEqual({
      token: "t-flag",
      source: "flag",
    });
    expect(await pickToken({ registry: "http://elsewhere:1", env })).toEqual({ source: "none" });

    const client = new RegistryClient({ url: registry.url, token });
    expect(await whoami(client)).toMatchObject({ registry: registry.url, name: "test" });
    await client.close();
    expect(await logout({ registry: registry.url, env })).toEqual({ registry: registry.url, removed: true });
    expect(await logout({ registry: registry.url, env })).toEqual({ registry: registry.url, removed: false });
    expect(await pickToken({ registry: registry.url, env })).toEqual({ source: "none" });
  });

  it("reads package metadata files and names the file in errors", async () => {
    const { writeFile } = await import("node:fs/promises");
    const good = join(tmp.path, "meta.json");
    await writeFile(good, JSON.stringify({ title: "T", nested: { a: [1, 2] } }));
    expect(await readMetaFile(good)).toEqual({ title: "T", nested: { a: [1, 2] } });
    const list = join(tmp.path, "list.json");
    await writeFile(list, "[1]");
    await expect(readMetaFile(list)).rejects.toMatchObject({
      code: "E_BAD_JSON",
      message: expect.stringContaining("list.json") as string,
    });
    const broken = join(tmp.path, "broken.json");
    await writeFile(broken, "{");
    await expect(readMetaFile(broken)).rejects.toMatchObject({ code: "E_BAD_JSON" });
    await expect(readMetaFile(join(tmp.path, "absent.json"))).rejects.toMatchObject({ code: "E_IO" });
  });
});
