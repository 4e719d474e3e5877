import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRegistryServer, type TestRegistryServer } from "../../client/test/helpers/registry-server.js";
import { dpkgUser, type DpkgUser } from "./helpers/run-dpkg.js";

describe("dpkg login, whoami and logout as processes", () => {
  let registry: TestRegistryServer;
  let user: DpkgUser;
  beforeAll(async () => {
    registry = await startTestRegistryServer();
    // No DPKG_TOKEN: the saved credentials are what is tested.
    user = await dpkgUser({ DPKG_REGISTRY: registry.url });
  });
  afterAll(async () => {
    await user[Symbol.asyncDispose]();
    await registry.close();
  });

  it("saves a checked token (0600), uses it, and forgets it", async () => {
    const anonymous = await user.run(["whoami"]);
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toMatch(/^dpkg: E_UNAUTHORIZED: /);

    const wrong = await user.run(["login", "--token", "dpkg_not-a-real-token"]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^dpkg: E_UNAUTHORIZED: /);
    const file = join(user.home, "config", "dpkg", "credentials.json");
    await expect(stat(file)).rejects.toThrow();

    const token = await registry.tokenFor([{ kind: "write", pattern: "lab" }]);
    const login = await user.run(["login", "--registry", `${registry.url}/`, "--token", token]);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toBe(`logged in to ${registry.url} as test\n  scopes: write:lab\n`);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, "utf8")).toContain(token);

    const me = await user.run(["whoami", "--json"]);
    expect(me.code, me.stderr).toBe(0);
    expect(me.json()).toEqual({
      registry: registry.url,
      name: "test",
      scopes: [{ kind: "write", pattern: "lab" }],
      tokenSource: "saved",
    });
    const flag = await user.run(["whoami", "--token", registry.token]);
    expect(flag.stdout).toContain("scopes: admin");
    expect(flag.stdout).toContain("token from --token");

    const logout = await user.run(["logout"]);
    expect(logout.stdout).toBe(`logged out of ${registry.url}\n`);
    expect((await user.run(["logout"])).stdout).toBe(`no token was saved for ${registry.url}\n`);
    expect((await user.run(["whoami"])).code).toBe(1);
  });

  it("reads the token from stdin, keeping it out of the command line", async () => {
    const token = await registry.tokenFor([{ kind: "read", pattern: "*" }]);
    const login = await user.run(["login", "--json"], { input: `${token}\n` });
    expect(login.code, login.stderr).toBe(0);
    expect(login.json()).toMatchObject({ registry: registry.url, scopes: [{ kind: "read", pattern: "*" }] });
    expect((await user.run(["whoami"])).stdout).toContain("token from dpkg login");
    const empty = await user.run(["login"], { input: "" });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/^dpkg: E_USAGE: the token is empty/);
  });
});
