import { symlink } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRegistryServer, type TestRegistryServer } from "../../client/test/helpers/registry-server.js";
import { BIN, dpkgUser, type DpkgUser } from "./helpers/run-dpkg.js";

const COMMANDS = [
  "push",
  "install",
  "update",
  "ls",
  "cat",
  "diff",
  "log",
  "tag",
  "search",
  "verify",
  "cache",
  "cache ls",
  "cache prune",
  "cache path",
  "login",
  "logout",
  "whoami",
];

describe("dpkg errors, exit codes, --json, NO_COLOR and --help", () => {
  let registry: TestRegistryServer;
  let user: DpkgUser;
  beforeAll(async () => {
    registry = await startTestRegistryServer();
    user = await dpkgUser({ DPKG_REGISTRY: registry.url, DPKG_TOKEN: registry.token });
  });
  afterAll(async () => {
    await user[Symbol.asyncDispose]();
    await registry.close();
  });

  it("reports a registry error as one line with a hint and exit 1, or as a JSON object under --json", async () => {
    const human = await user.run(["ls", "lab/missing"]);
    expect(human.code).toBe(1);
    expect(human.stdout).toBe("");
    expect(human.stderr).toMatch(/^dpkg: E_NOT_FOUND: [^\n]+\nhint: [^\n]+\n$/);

    const json = await user.run(["ls", "lab/missing", "--json"]);
    expect(json.code).toBe(1);
    expect(json.stderr).toBe("");
    const error = json.json();
    expect(Object.keys(error).sort()).toEqual(["code", "details", "hint", "message"]);
    expect(error).toMatchObject({ code: "E_NOT_FOUND", hint: expect.any(String) as string });

    const badRef = await user.run(["ls", "Lab/Images"]);
    expect(badRef.code).toBe(1);
    expect(badRef.stderr).toMatch(/^dpkg: E_BAD_NAME: .*did you mean "lab"/);

    const offline = await user.run(["log", "lab/images"], { env: { DPKG_OFFLINE: "1" } });
    expect(offline.code).toBe(1);
    expect(offline.stderr).toMatch(/^dpkg: E_OFFLINE: dpkg log needs the registry/);

    const noServer = await user.run(["whoami", "--registry", "http://127.0.0.1:9"]);
    expect(noServer.code).toBe(1);
    expect(noServer.stderr).toMatch(/^dpkg: E_NETWORK: /);
  });

  it("exits 2 on usage errors: unknown commands and flags, missing arguments, bad values", async () => {
    const cases: [string[], RegExp][] = [
      [["frobnicate"], /^dpkg: E_USAGE: unknown command "frobnicate"\nhint: Run 'dpkg --help'/],
      [["ls"], /^dpkg: E_USAGE: dpkg ls is missing arguments: it takes at least 1, got 0\nhint: Run 'dpkg ls --help'/],
      [["cache"], /^dpkg: E_USAGE: give a cache command: ls, verify, prune or path/],
      [["ls", "lab/x", "--bogus"], /^dpkg: E_USAGE: Unknown argument: bogus\nhint: Run 'dpkg ls --help'/],
      [[], /^dpkg: E_USAGE: give a command/],
      [["install", "lab/x", "--link", "teleport"], /^dpkg: E_USAGE: Invalid values:/],
      [["cache", "prune", "--older-than", "soon"], /^dpkg: E_USAGE: --older-than "soon" is not an age/],
      [["ls", "lab/x", "--concurrency", "0"], /^dpkg: E_USAGE: --concurrency must be/],
    ];
    const results = await Promise.all(cases.map(([args]) => user.run(args)));
    results.forEach((r, i) => {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(cases[i]![1]);
    });
    // Installed as datapkg (Debian's dpkg is the system package manager), it names itself so.
    const datapkg = join(user.home, "datapkg");
    await symlink(BIN, datapkg);
    const renamed = await user.run(["ls"], { script: datapkg });
    expect(renamed.code).toBe(2);
    expect(renamed.stderr).toMatch(
      /^datapkg: E_USAGE: datapkg ls is missing arguments.*\nhint: Run 'datapkg ls --help'/,
    );

    const json = await user.run(["ls", "--json"]);
    expect(json.code).toBe(2);
    expect(json.json()).toMatchObject({
      code: "E_USAGE",
      message: expect.stringContaining("missing arguments") as string,
    });
  });

  it("colors errors only for a terminal or FORCE_COLOR, and never with NO_COLOR", async () => {
    const plain = await user.run(["ls", "lab/missing"]);
    expect(plain.stderr).not.toContain("\u001b[");
    const forced = await user.run(["ls", "lab/missing"], { env: { FORCE_COLOR: "1" } });
    expect(forced.stderr).toContain("\u001b[31mdpkg: E_NOT_FOUND\u001b[39m");
    const noColor = await user.run(["ls", "lab/missing"], { env: { FORCE_COLOR: "1", NO_COLOR: "1" } });
    expect(noColor.stderr).not.toContain("\u001b[");
    expect(noColor.stderr).toMatch(/^dpkg: E_NOT_FOUND: /);
  });

  it("shows --help with examples for every command, and the version", async () => {
    const results = await Promise.all(COMMANDS.map((c) => user.run([...c.split(" "), "--help"])));
    results.forEach((r, i) => {
      expect(r.code, `${COMMANDS[i]}: ${r.stderr}`).toBe(0);
      expect(r.stdout, COMMANDS[i]).toContain("Examples:");
      expect(r.stdout, COMMANDS[i]).toMatch(new RegExp(`^ {2}dpkg ${COMMANDS[i]!.split(" ")[0]}`, "m"));
      expect(r.stdout, COMMANDS[i]).toContain("--registry");
    });
    const top = await user.run(["--help"]);
    for (const c of COMMANDS.filter((c) => !c.includes(" ")))
      expect(top.stdout).toMatch(new RegExp(`^ {2}dpkg ${c}\\b`, "m"));
    expect((await user.run(["--version"])).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});
