import { isDpkgError, type PackageName } from "@dpkg/core";
import { mkdir, readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir, type TempDir } from "../../registry-server/test/helpers/temp-dir.js";
import { ContentCache } from "../src/cache/content-cache.js";
import { install } from "../src/install.js";
import { RegistryClient } from "../src/registry-client.js";
import { update } from "../src/update.js";
import { file, publish } from "./helpers/publish.js";
import { startTestRegistryServer, type TestRegistryServer } from "./helpers/registry-server.js";

const MOVING: PackageName = { namespace: "lab", name: "moving" };
const PINNED: PackageName = { namespace: "lab", name: "pinned" };

describe("update", () => {
  let reg: TestRegistryServer;
  let client: RegistryClient;
  let tmp: TempDir;

  beforeAll(async () => {
    reg = await startTestRegistryServer();
    client = new RegistryClient({ url: reg.url, token: reg.token });
    tmp = await makeTempDir("dpkg-update");
  });
  afterAll(async () => {
    await client.close();
    await reg.close();
    await tmp.cleanup();
  });

  const lockOf = async (ws: string) => JSON.parse(await readFile(join(ws, "dpkg.lock"), "utf8")) as { packages: Record<string, { digest: string }> };

  it("moves pins to what the wanted refs resolve to now, and installs them", async () => {
    const ws = join(tmp.path, "ws");
    const cache = new ContentCache(join(tmp.path, "cache"));
    const v1 = await publish(client, MOVING, [file("keep.txt", "same"), file("change.txt", "old"), file("drop.txt", "bye")]);
    const p1 = await publish(client, PINNED, [file("p.txt", "one")], { tags: ["v1"] });
    await mkdir(ws);
    await install({ client, cache, cwd: ws, spec: "lab/moving" });
    await install({ client, cache, cwd: ws, spec: "lab/pinned@v1" });

    const v2 = await publish(client, MOVING, [file("keep.txt", "same"), file("change.txt", "new"), file("add.txt", "hi")]);
    await publish(client, PINNED, [file("p.txt", "two")]); // latest moves, v1 stays

    const report = await update({ client, cache, cwd: ws });
    expect(report.changes).toEqual([{ name: "lab/moving", from: v1.digest, to: v2.digest }]);
    const moving = report.install.packages.find((p) => p.name === "lab/moving");
    expect(moving).toMatchObject({ digest: v2.digest, written: 2, unchanged: 1, removed: 1 });
    const dest = join(ws, "data/lab/moving");
    expect((await readdir(dest)).sort()).toEqual(["add.txt", "change.txt", "keep.txt"]);
    expect(await readFile(join(dest, "change.txt"), "utf8")).toBe("new");
    expect((await lockOf(ws)).packages["lab/moving"]?.digest).toBe(v2.digest);
    expect((await lockOf(ws)).packages["lab/pinned"]?.digest).toBe(p1.digest);

    const again = await update({ client, cache, cwd: ws, name: "lab/moving" });
    expect(again.changes).toEqual([]);
    expect(again.install.packages).toEqual([expect.objectContaining({ name: "lab/moving", written: 0, unchanged: 3 })]);
  });

  it("takes the workspace lock: an update and an install started together run one after the other", async () => {
    const ws = join(tmp.path, "ws-locked");
    const cache = new ContentCache(join(tmp.path, "cache"));
    await mkdir(ws);
    await install({ client, cache, cwd: ws, spec: "lab/moving" });
    const waits: string[] = [];
    const onWait = (lock: string): number => waits.push(lock);
    const [updated, installed] = await Promise.all([
      update({ client, cache, cwd: ws, onWait }),
      install({ client, cache, cwd: ws, spec: "lab/pinned@v1", onWait }),
    ]);
    expect(waits).toEqual([join(ws, ".dpkg/install.lock")]);
    // Whichever ran second saw what the first wrote: both packages are pinned in the end.
    expect(Object.keys((await lockOf(ws)).packages).sort()).toEqual(["lab/moving", "lab/pinned"]);
    expect(updated.install.packages.map((p) => p.name)).toContain("lab/moving");
    expect(installed.packages[0]!.name).toBe("lab/pinned");
  });

  it("fails clearly for a package dpkg.json does not want, or without a dpkg.json", async () => {
    const ws = join(tmp.path, "ws");
    const cache = new ContentCache(join(tmp.path, "cache"));
    const code = (p: Promise<unknown>) => p.then(() => "ok", (e: unknown) => (isDpkgError(e) ? e.code : e));
    expect(await code(update({ client, cache, cwd: ws, name: "lab/unknown" }))).toBe("E_NOT_FOUND");
    expect(await code(update({ client, cache, cwd: tmp.path }))).toBe("E_NOT_FOUND");
  });
});
