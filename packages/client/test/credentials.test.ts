import { DpkgError } from "@dpkg/core";
import { chmod, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { configDir, credentialsFile, loadToken, removeCredentials, saveCredentials } from "../src/credentials.js";
import { makeTempDir, type TempDir } from "../../registry-server/test/helpers/temp-dir.js";

describe("credentials", () => {
  let dir: TempDir;
  let env: NodeJS.ProcessEnv;
  beforeEach(async () => {
    dir = await makeTempDir("dpkg-credentials");
    env = { XDG_CONFIG_HOME: join(dir.path, "config"), HOME: join(dir.path, "home") };
  });
  afterEach(() => dir.cleanup());

  it("finds the config folder through XDG_CONFIG_HOME, else HOME", () => {
    expect(configDir({ XDG_CONFIG_HOME: "/x", HOME: "/h" })).toBe("/x/dpkg");
    expect(configDir({ XDG_CONFIG_HOME: "relative/ignored", HOME: "/h" })).toBe("/h/.config/dpkg");
    expect(configDir({ HOME: "/h" })).toBe("/h/.config/dpkg");
  });

  it("saves tokens per registry in a 0600 file inside a 0700 folder, and loads them back", async () => {
    expect(await loadToken("http://a.example", env)).toBeUndefined();
    await saveCredentials("http://a.example/", "tok-a", env);
    await saveCredentials("https://b.example:8443/registry", "tok-b", env);
    expect(await loadToken("http://a.example", env)).toBe("tok-a");
    expect(await loadToken("http://a.example///", env)).toBe("tok-a");
    expect(await loadToken("https://b.example:8443/registry", env)).toBe("tok-b");
    expect(await loadToken("http://c.example", env)).toBeUndefined();

    const file = credentialsFile(env);
    expect(file).toBe(join(dir.path, "config", "dpkg", "credentials.json"));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(configDir(env))).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual({
      registries: { "http://a.example": { token: "tok-a" }, "https://b.example:8443/registry": { token: "tok-b" } },
    });
    // Replaced atomically: no temp file is left next to it.
    expect(await readdir(configDir(env))).toEqual(["credentials.json"]);
  });

  it("replaces a token on a second login and tightens a folder that was too open", async () => {
    await mkdir(configDir(env), { recursive: true });
    await chmod(configDir(env), 0o755);
    await saveCredentials("http://a.example", "old", env);
    await saveCredentials("http://a.example", "new", env);
    expect(await loadToken("http://a.example", env)).toBe("new");
    expect((await stat(configDir(env))).mode & 0o777).toBe(0o700);
  });

  it("removes one registry's token and says whether there was one", async () => {
    await saveCredentials("http://a.example", "tok-a", env);
    await saveCredentials("http://b.example", "tok-b", env);
    expect(await removeCredentials("http://a.example/", env)).toBe(true);
    expect(await removeCredentials("http://a.example", env)).toBe(false);
    expect(await loadToken("http://a.example", env)).toBeUndefined();
    expect(await loadToken("http://b.example", env)).toBe("tok-b");
    expect(await removeCredentials("http://never.example", { XDG_CONFIG_HOME: join(dir.path, "empty") })).toBe(false);
  });

  it("reports a damaged credentials file with its path instead of overwriting it", async () => {
    await mkdir(configDir(env), { recursive: true });
    await writeFile(credentialsFile(env), "{not json");
    const err = await loadToken("http://a.example", env).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DpkgError);
    expect((err as DpkgError).code).toBe("E_BAD_JSON");
    expect((err as DpkgError).message).toContain(credentialsFile(env));
    await expect(saveCredentials("http://a.example", "t", env)).rejects.toMatchObject({ code: "E_BAD_JSON" });
    expect(await readFile(credentialsFile(env), "utf8")).toBe("{not json");

    await writeFile(credentialsFile(env), JSON.stringify({ registries: { "http://a.example": { token: 5 } } }));
    await expect(loadToken("http://a.example", env)).rejects.toMatchObject({ code: "E_BAD_JSON" });
  });
});
