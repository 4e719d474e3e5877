import { mkdir, readdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTempDir, type TempDir } from "../../packages/registry-server/test/helpers/temp-dir.js";
import { startFakeRegistry, type FakeEntry } from "./bad-input-fake-registry.js";
import { dpkgAgainst, errorCode, explain, readTree } from "./concurrency-fixtures.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const good: FakeEntry = { path: "good.txt", bytes: bytes("harmless\n") };

describe("dpkg install from a hostile registry (a fake server serving hand-made manifests)", () => {
  let dir: TempDir;
  let workspace: string;
  let outside: string;

  beforeEach(async () => {
    dir = await makeTempDir("dpkg-hostile");
    workspace = join(dir.path, "home", "work");
    outside = join(dir.path, "outside");
    await mkdir(workspace, { recursive: true });
    await mkdir(outside);
  });
  afterEach(() => dir.cleanup());

  /** Everything under the temp folder except the CLI's own cache and config. */
  async function written(): Promise<string[]> {
    return [...(await readTree(dir.path)).keys()].filter((p) => !/^home\/(cache|config)\//.test(p)).sort();
  }

  const TRAVERSALS: { what: string; path: () => string }[] = [
    { what: "../ out of the destination", path: () => "../escaped.txt" },
    { what: "../ out of the workspace", path: () => "../../../outside/escaped.txt" },
    { what: "a/../../ in the middle", path: () => "a/../../escaped.txt" },
    { what: "an absolute path", path: () => `${outside}/escaped.txt` },
    { what: "an empty segment", path: () => "a//escaped.txt" },
    { what: "a backslash", path: () => "..\\..\\escaped.txt" },
    { what: "a NUL", path: () => "escaped\u0000.txt" },
    { what: "a control character", path: () => "escaped\u001b[2J.txt" },
    { what: "a '.' segment", path: () => "./escaped.txt" },
  ];

  it.each(TRAVERSALS)("refuses a manifest entry with $what (E_BAD_PATH) and writes nothing anywhere", async ({ path }) => {
    await using fake = await startFakeRegistry({ entries: [good, { path: path(), bytes: bytes("pwned\n") }] });
    const dpkg = dpkgAgainst({ url: fake.url, token: "dpkg_fake" }, join(dir.path, "home"));
    const r = await dpkg(["install", "lab/evil", "--json"], { cwd: workspace });
    expect(r.code, explain(r)).toBe(1);
    expect(errorCode(r), explain(r)).toBe("E_BAD_PATH");
    expect(await written()).toEqual([]);
    // The manifest was read and refused before any blob was asked for.
    expect(fake.requests.filter((q) => q.includes("/blobs/") || q === "GET /object")).toEqual([]);
  });

  it("refuses a hostile path in the server-side selection of a sound manifest, and writes nothing", async () => {
    // The manifest is sound; the entry list the server returns for --where names a path it does not have.
    await using fake = await startFakeRegistry({ manifestEntries: [good], entries: [{ path: "../escaped.txt", bytes: good.bytes }] });
    const dpkg = dpkgAgainst({ url: fake.url, token: "dpkg_fake" }, join(dir.path, "home"));
    const r = await dpkg(["install", "lab/evil", "--where", "size > 0", "--json"], { cwd: workspace });
    expect(r.code, explain(r)).toBe(1);
    // A well-formed line with a path no manifest may hold is the registry's answer: refused at once.
    expect(errorCode(r)).toBe("E_BAD_PATH");
    expect(r.json<{ message: string }>().message).toContain("../escaped.txt");
    expect(await written()).toEqual([]);
  });

  describe("a symlink planted in the destination", () => {
    const files: FakeEntry[] = [good, { path: "sub/passwd", bytes: bytes("pwned\n") }];

    it("is not written through when it replaces a folder of the package", async () => {
      await using fake = await startFakeRegistry({ entries: files });
      const dest = join(workspace, "data", "lab", "evil");
      await mkdir(dest, { recursive: true });
      await symlink(outside, join(dest, "sub"));
      const r = await dpkgAgainst({ url: fake.url, token: "dpkg_fake" }, join(dir.path, "home"))(["install", "lab/evil", "--json"], { cwd: workspace });
      expect(r.code, explain(r)).toBe(1);
      expect(errorCode(r)).toBe("E_CONFLICT");
      expect(await readdir(outside)).toEqual([]);
    });

    it("is not written through when it sits at a file's path", async () => {
      await using fake = await startFakeRegistry({ entries: files });
      const dest = join(workspace, "data", "lab", "evil");
      await mkdir(dest, { recursive: true });
      await writeFile(join(outside, "victim.txt"), "precious\n");
      await symlink(join(outside, "victim.txt"), join(dest, "good.txt"));
      const r = await dpkgAgainst({ url: fake.url, token: "dpkg_fake" }, join(dir.path, "home"))(["install", "lab/evil", "--json"], { cwd: workspace });
      expect(r.code, explain(r)).toBe(1);
      expect(errorCode(r)).toBe("E_CONFLICT");
      expect(await readFile(join(outside, "victim.txt"), "utf8")).toBe("precious\n");
    });

    it("is not followed out of the workspace when it replaces a folder above the destination", async () => {
      await using fake = await startFakeRegistry({ entries: files });
      await mkdir(join(workspace, "data"));
      await symlink(outside, join(workspace, "data", "lab"));
      const r = await dpkgAgainst({ url: fake.url, token: "dpkg_fake" }, join(dir.path, "home"))(["install", "lab/evil", "--json"], { cwd: workspace });
      expect(r.code, explain(r)).toBe(1);
      expect(errorCode(r)).toBe("E_CONFLICT");
      expect(r.json<{ message: string }>().message).toContain(join(workspace, "data", "lab"));
      expect(await readdir(outside)).toEqual([]);
    });
  });

  it("installs the same files from the same fake registry once the destination is clean (the fake is faithful)", async () => {
    await using fake = await startFakeRegistry({ entries: [good, { path: "sub/ok.txt", bytes: bytes("fine\n") }] });
    const r = await dpkgAgainst({ url: fake.url, token: "dpkg_fake" }, join(dir.path, "home"))(["install", "lab/evil", "--json"], { cwd: workspace });
    expect(r.code, explain(r)).toBe(0);
    expect(await readFile(join(workspace, "data", "lab", "evil", "sub", "ok.txt"), "utf8")).toBe("fine\n");
    await expect(stat(join(outside, "ok.txt"))).rejects.toThrow();
  });
});
