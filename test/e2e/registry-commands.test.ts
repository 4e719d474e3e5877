import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { file, getJson, pushOverHttp } from "../helpers/http-push.js";
import { runRegistryCommand, startRegistry } from "../helpers/registry.js";

const files = [file("x/1.txt", "one"), file("x/2.txt", "two", { label: "b" }), file("y.txt", "why")];

async function findFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(join(e.parentPath, e.name));
  }
  return out;
}

describe("dpkg-registry subcommands, as processes", () => {
  it("creates, lists and revokes tokens whose scopes the server enforces", async () => {
    await using registry = await startRegistry();
    const created = await runRegistryCommand(["token", "create", "--data", registry.dataDir, "--name", "ci", "--scope", "write:lab"]);
    expect(created.code, created.stderr).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^dpkg_/);
    expect((await pushOverHttp(registry.url, secret, "lab/ok", files)).status).toBe(200);
    expect((await pushOverHttp(registry.url, secret, "other/no", files)).status).toBe(403);

    const listed = await runRegistryCommand(["token", "list", "--data", registry.dataDir]);
    expect(listed.stdout).toContain("ci");
    expect(listed.stdout).not.toContain(secret);
    const id = /^(\S+)\s+ci\s/m.exec(listed.stdout)?.[1];
    expect(id).toBeDefined();
    expect((await runRegistryCommand(["token", "revoke", id!, "--data", registry.dataDir])).code).toBe(0);
    expect((await getJson(`${registry.url}/v1/whoami`, secret)).status).toBe(401);

    const bad = await runRegistryCommand(["token", "create", "--data", registry.dataDir, "--name", "x", "--scope", "write"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("E_USAGE");
  });

  it("verify reports a flipped byte in a stored pack and exits 1", async () => {
    await using registry = await startRegistry();
    expect((await pushOverHttp(registry.url, registry.token, "lab/v", files)).status).toBe(200);
    const clean = await runRegistryCommand(["verify", "--data", registry.dataDir]);
    expect(clean.code, clean.stderr).toBe(0);

    const pack = (await findFiles(join(registry.dataDir, "blobs"))).find((f) => f.endsWith(".pack"))!;
    const bytes = await readFile(pack);
    bytes[0] = bytes[0]! ^ 0xff;
    await writeFile(pack, bytes);
    const damaged = await runRegistryCommand(["verify", "--data", registry.dataDir]);
    expect(damaged.code).toBe(1);
    expect(damaged.stdout).toContain("mismatch");
    expect(damaged.stderr).toContain("damaged");
  });

  it("reindex rebuilds packages, revisions, tags and entries after the index is deleted", async () => {
    const registry = await startRegistry();
    const first = await pushOverHttp(registry.url, registry.token, "lab/r", files, { message: "one" });
    const second = await pushOverHttp(registry.url, registry.token, "lab/r", [...files, file("z.txt", "zed")], { message: "two" });
    expect([first.status, second.status]).toEqual([200, 200]);
    const tag = await fetch(`${registry.url}/v1/packages/lab/r/tags/v1`, {
      method: "PUT",
      headers: { authorization: `Bearer ${registry.token}`, "content-type": "application/json" },
      body: JSON.stringify({ target: first.digest }),
    });
    expect(tag.status).toBe(200);
    const reads = (url: string, token: string) =>
      Promise.all(
        [
          "/v1/packages/lab/r",
          "/v1/packages/lab/r/revisions",
          "/v1/packages/lab/r/tags",
          `/v1/packages/lab/r/resolve/${first.digest.slice(0, 20)}`,
        ].map((p) => getJson(url + p, token)),
      );
    const entries = async (url: string, token: string) =>
      (await fetch(`${url}/v1/packages/lab/r/revisions/${second.digest}/entries?where=${encodeURIComponent("meta.label = 'b'")}`, { headers: { authorization: `Bearer ${token}` } })).text();
    const before = await reads(registry.url, registry.token);
    const entriesBefore = await entries(registry.url, registry.token);
    expect(await registry.stop()).toBe(0);

    for (const side of ["", "-wal", "-shm"]) await rm(join(registry.dataDir, "index.sqlite" + side), { force: true });
    const rebuilt = await runRegistryCommand(["reindex", "--data", registry.dataDir]);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);

    // Tokens are not in the bucket: the restarted registry makes a new admin token.
    await rm(join(registry.dataDir, "admin-token"));
    await using again = await startRegistry({ dataDir: registry.dataDir });
    expect(await reads(again.url, again.token)).toEqual(before);
    expect(await entries(again.url, again.token)).toBe(entriesBefore);
    await registry[Symbol.asyncDispose]();
  });

  it("gc is a dry run by default and deletes nothing a revision references", async () => {
    await using registry = await startRegistry();
    expect((await pushOverHttp(registry.url, registry.token, "lab/g", files)).status).toBe(200);
    const dry = await runRegistryCommand(["gc", "--data", registry.dataDir, "--grace", "0s"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stderr).toContain("dry run");
    const report = JSON.parse(dry.stdout) as { garbage: unknown[] };
    expect(report.garbage).toEqual([]);
  });
});
