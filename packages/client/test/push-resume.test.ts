import { digestBytes, isDpkgError, type PackageName } from "@dpkg/core";
import { appendFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { Agent, MockAgent } from "undici";
import { beforeEach, describe, expect, it } from "vitest";
import { push } from "../src/push/push.js";
import { RegistryClient } from "../src/registry-client.js";
import type { TempDir } from "../../registry-server/test/helpers/temp-dir.js";
import { recordingDispatcher } from "./helpers/recording-dispatcher.js";
import { useRegistryAndFolder } from "./helpers/registry-fixture.js";
import type { TestRegistryServer } from "./helpers/registry-server.js";
import { bigBytes, collect as all, rejection, writeTree } from "./helpers/test-utils.js";

const MIB = 1024 * 1024;

describe("push: failures, resume, concurrency", () => {
  const fixture = useRegistryAndFolder("dpkg-push-resume");
  let reg: TestRegistryServer;
  let client: RegistryClient;
  let tmp: TempDir;
  beforeEach(() => void ({ reg, client, tmp } = fixture));

  const revisions = async (pkg: PackageName): Promise<string[]> => {
    const log = await client.log(pkg).catch((err: unknown) => {
      if (isDpkgError(err, "E_NOT_FOUND")) return [];
      throw err;
    });
    return log.map((r) => r.digest);
  };

  it("resumes: blobs already stored are not sent again", async () => {
    const dir = join(tmp.path, "data");
    const large = bigBytes(5 * MIB, 7);
    const small = ["one", "two", "three", "four", "five", "six"].map((s) => `resume ${s}`);
    await writeTree(dir, { "big.bin": large, ...Object.fromEntries(small.map((s, i) => [`s/${i}.txt`, s])) });
    const pkg = { namespace: "resume", name: "half" };
    // A push that stopped half way: the large blob and three small ones made it.
    await client.uploadBlob(pkg, digestBytes(large), large.length, () => Readable.from([Buffer.from(large)]));
    for (const s of small.slice(0, 3)) {
      await client.uploadBlob(pkg, digestBytes(s), s.length, () => Readable.from([Buffer.from(s)]));
    }
    const report = await push({ client, dir, pkg });
    const rest = small.slice(3).reduce((n, s) => n + s.length, 0);
    expect(report).toMatchObject({ files: 7, bytesSent: rest, blobsSent: 3, unchanged: false });
    expect(await revisions(pkg)).toEqual([report.digest]);
  });

  it("fails naming a small file whose size changed after the walk, commits nothing, and resumes after", async () => {
    const dir = join(tmp.path, "data");
    await writeTree(dir, { "a.txt": "aaaa", "b.txt": "bbbb", "big.bin": bigBytes(5 * MIB, 8) });
    const pkg = { namespace: "changed", name: "small" };
    let changed = false;
    const err = await rejection(
      push({
        client,
        dir,
        pkg,
        onProgress: () => {
          // The first event comes after the walk, before any file is read.
          if (changed) return;
          changed = true;
          writeFileSync(join(dir, "b.txt"), "BBBBB");
        },
      }),
    );
    expect(err.code).toBe("E_INTEGRITY");
    expect(err.message).toBe('file "b.txt" changed while it was being pushed (its size is no longer 4 bytes); nothing was committed');
    expect(err.hint).toMatch(/run the push again/);
    expect(await revisions(pkg)).toEqual([]);
    const again = await push({ client, dir, pkg });
    expect(again.files).toBe(3);
    expect(await revisions(pkg)).toEqual([again.digest]);
    const entries = await all(client.entries(pkg, again.digest));
    expect(entries.find((e) => e.path === "b.txt")).toMatchObject({ size: 5, digest: digestBytes("BBBBB") });
  });

  it("sends a small file's bytes as they were hashed, even if the file changes afterwards", async () => {
    const dir = join(tmp.path, "data");
    await writeTree(dir, { "a.txt": "aaaa", "b.txt": "bbbb" });
    const pkg = { namespace: "changed", name: "after-hash" };
    let changed = false;
    const report = await push({
      client,
      dir,
      pkg,
      onProgress: (p) => {
        if (p.phase !== "upload" || changed) return;
        changed = true;
        writeFileSync(join(dir, "b.txt"), "BBBB"); // same size, other content: too late to matter
      },
    });
    const entries = await all(client.entries(pkg, report.digest));
    expect(entries.find((e) => e.path === "b.txt")?.digest).toBe(digestBytes("bbbb"));
    expect(await client.missing(pkg, [digestBytes("bbbb")])).toEqual([]);
  });

  it("fails naming a large file that grew during the push", async () => {
    const dir = join(tmp.path, "data");
    await writeTree(dir, { "big.bin": bigBytes(5 * MIB, 9) });
    const pkg = { namespace: "changed", name: "large" };
    let changed = false;
    const err = await rejection(
      push({
        client,
        dir,
        pkg,
        onProgress: (p) => {
          if (p.phase === "upload" && !changed) {
            changed = true;
            appendFileSync(join(dir, "big.bin"), "more");
          }
        },
      }),
    );
    expect(err.code).toBe("E_INTEGRITY");
    expect(err.message).toMatch(/^file "big.bin" changed while it was being pushed \(its size is no longer 5242880 bytes\)/);
    expect(await revisions(pkg)).toEqual([]);
  });

  it("honours expectParent: E_CONFLICT when someone else committed first", async () => {
    const a = join(tmp.path, "a");
    const b = join(tmp.path, "b");
    await writeTree(a, { "x.txt": "version a" });
    await writeTree(b, { "x.txt": "version b" });
    const pkg = { namespace: "parent", name: "x" };
    const first = await push({ client, dir: a, pkg, expectParent: "none" });
    const none = await rejection(push({ client, dir: b, pkg, expectParent: "none" }));
    expect(none.code).toBe("E_CONFLICT");
    const stale = await rejection(push({ client, dir: b, pkg, expectParent: digestBytes("some other revision") }));
    expect(stale.code).toBe("E_CONFLICT");
    expect(await revisions(pkg)).toEqual([first.digest]);
    const second = await push({ client, dir: b, pkg, expectParent: first.digest });
    expect(await revisions(pkg)).toEqual([second.digest, first.digest]);
  });

  it("concurrent pushes of different content to one package all become revisions", async () => {
    const dirs = [0, 1, 2, 3].map((i) => join(tmp.path, `d${i}`));
    await Promise.all(dirs.map((d, i) => writeTree(d, { "shared.txt": "same in all", [`own-${i}.txt`]: `own ${i}`, "n.csv": `n,${i}\n` })));
    const pkg = { namespace: "race", name: "x" };
    const reports = await Promise.all(dirs.map((dir) => push({ client, dir, pkg })));
    expect(new Set(reports.map((r) => r.digest)).size).toBe(4);
    expect((await revisions(pkg)).sort()).toEqual(reports.map((r) => r.digest).sort());
    expect(await client.resolve(pkg, "latest")).toBe((await revisions(pkg))[0]);
  });

  describe("the manifest is staged while the last blobs are sent, then committed by digest", () => {
    const calls = (requests: { method: string; path: string; body: boolean }[]) =>
      requests.filter((r) => /\/(manifests|revisions)/.test(r.path)).map((r) => `${r.method} ${r.path.split("?")[0]!.replace(/blake3:[0-9a-f]+/, "D")} ${r.body ? "body" : "none"}`);

    /**
     * Pushes a small folder to stage/NAME through a recording dispatcher, where `fake` (if any) answers
     * the first matching request with a 404 of its code; checks the revision and returns the manifest calls.
     */
    const pushRecorded = async (name: string, fake?: { method: string; path: RegExp; code: string }): Promise<string[]> => {
      const dir = join(tmp.path, "data");
      await writeTree(dir, { "a.txt": "staged early", "d/b.txt": "and committed later" });
      const pkg = { namespace: "stage", name };
      const mock = new MockAgent({ agent: new Agent() });
      mock.enableNetConnect(new URL(reg.url).host);
      if (fake !== undefined) {
        mock.get(new URL(reg.url).origin).intercept({ path: fake.path, method: fake.method }).reply(404, { code: fake.code, message: "faked" }).times(1);
      }
      const rec = recordingDispatcher(mock);
      const through = new RegistryClient({ url: reg.url, token: reg.token, dispatcher: rec.dispatcher });
      try {
        const report = await push({ client: through, dir, pkg, message: "m" });
        expect(await revisions(pkg)).toEqual([report.digest]);
        expect((await client.log(pkg))[0]).toMatchObject({ message: "m", entryCount: 2 });
        expect(mock.pendingInterceptors()).toEqual([]);
        return calls(rec.requests);
      } finally {
        await through.close();
        await mock.close();
      }
    };

    it("sends the manifest once, ahead of a commit without a body", async () => {
      expect(await pushRecorded("early")).toEqual(["PUT /v1/packages/stage/early/manifests/D body", "POST /v1/packages/stage/early/revisions none"]);
    });

    it("a registry that cannot stage gets the manifest with the commit", async () => {
      expect(await pushRecorded("old", { method: "PUT", path: /\/manifests\//, code: "E_NOT_FOUND" })).toEqual([
        "PUT /v1/packages/stage/old/manifests/D body",
        "POST /v1/packages/stage/old/revisions body",
      ]);
    });

    it("a staged manifest gone by commit time (E_NOT_STAGED) is sent with the commit", async () => {
      expect(await pushRecorded("gone", { method: "POST", path: /\/revisions\?/, code: "E_NOT_STAGED" })).toEqual([
        "PUT /v1/packages/stage/gone/manifests/D body",
        "POST /v1/packages/stage/gone/revisions none",
        "POST /v1/packages/stage/gone/revisions body",
      ]);
    });
  });

  it("counts bytes sent once when a pack upload is retried after a 503", async () => {
    const dir = join(tmp.path, "data");
    await writeTree(dir, { "a.txt": "retry me", "b.txt": "and me" });
    const mock = new MockAgent({ agent: new Agent() });
    mock.enableNetConnect(new URL(reg.url).host);
    const origin = new URL(reg.url).origin;
    mock.get(origin).intercept({ path: "/v1/packages/retry/x/blobs/pack", method: "PUT" }).reply(503, { code: "E_UNAVAILABLE", message: "try later" }).times(1);
    const faulty = new RegistryClient({ url: reg.url, token: reg.token, dispatcher: mock });
    try {
      const report = await push({ client: faulty, dir, pkg: { namespace: "retry", name: "x" } });
      expect(report).toMatchObject({ bytesSent: 14, blobsSent: 2 });
      expect(mock.pendingInterceptors()).toEqual([]);
    } finally {
      await mock.close();
    }
  });
});
